// Pull benchmark (run once, `npx tsx bench/pull.ts [rounds]`): concierge's pull (`concierge pull`, the
// built binary) against containerd's own Go client (`ctr images pull`) from the same docker-registry on
// loopback (TLS with a CA made here, basic auth), the same image of ~100 MB in five gzip layers, into
// the test containerd, in a namespace of the bench's own. Rounds interleave the two clients (the first
// alternates); before each pull the image is deleted with a synchronous GC, so every pull fetches and
// unpacks every layer. Prints wall time, throughput (compressed bytes / wall), CPU time (user + system),
// the ratio, and the peak RSS of concierge during its pulls (sampled every 20 ms, and VmHWM).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerdClient } from '../concierge/containerd/client.js';
import { ignoreNotFound } from '../concierge/containerd/errors.js';
import { snapshotExists } from '../concierge/containerd/images/unpack.js';
import { startDockerRegistry } from '../test/registry/harness/docker-registry.js';
import { RegistryPusher } from '../test/registry/harness/push.js';
import { makeTls } from '../test/registry/harness/tls.js';
import { busyboxLayer, fileLayer, imageBlobs } from '../test/workloads/image-fixtures.js';
import { cpuSeconds, memory } from './lib/proc.js';
import { fmt, median, table } from './lib/stats.js';

const rounds = Number(process.argv[2] ?? 5);
const socket = process.env.CONTAINERD_SOCK ?? '';
if (socket === '') throw new Error('CONTAINERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)" first');
const binary = join(import.meta.dirname, '../dist/concierge');
if (!existsSync(binary)) throw new Error('dist/concierge is missing: node build.mjs first');

const dir = mkdtempSync(join(tmpdir(), 'concierge-bench-pull-'));
const namespace = `concierge-bench-pull-${randomBytes(3).toString('hex')}`;
const password = randomBytes(12).toString('hex');
const client = ContainerdClient.connect(socket, namespace);

interface Sample { seconds: number; peakRssMb: number; cpuSeconds: number; stdout: string }

function timed(argv: string[], sampleRss: boolean): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    let peak = 0;
    let cpu = 0;
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    // CPU time is read while the process lives (its last reading is at most 20 ms before its end).
    const sample = () => {
      try {
        cpu = Math.max(cpu, cpuSeconds(child.pid!));
        if (!sampleRss) return;
        const m = memory(child.pid!);
        peak = Math.max(peak, m.rssMb, m.hwmMb);
      } catch { /* exited */ }
    };
    const timer = setInterval(sample, 20);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${argv.slice(0, 3).join(' ')} exited ${code}: ${stderr}`));
      else resolve({ seconds, peakRssMb: peak, cpuSeconds: cpu, stdout });
    });
  });
}

async function main(): Promise<void> {
  const tls = makeTls(dir);
  const registry = await startDockerRegistry(join(dir, 'registry'), tls, { bench: password });
  try {
    process.stderr.write('[pull] building and pushing the image...\n');
    // Four layers of base64 text (gzip takes them to about 3/4) and busybox: about 100 MB compressed.
    const layers = [busyboxLayer(), ...[1, 2, 3, 4].map((i) => fileLayer(`data/${i}.txt`, Buffer.from(randomBytes(24 * 1024 * 1024).toString('base64')), 0o644))];
    const image = imageBlobs(layers, { gzip: true });
    const compressed = image.layers.reduce((sum, l) => sum + l.length, 0) + image.config.length;
    const pusher = new RegistryPusher({ host: registry.host, ca: tls.caPem, username: 'bench', password });
    await pusher.image('bench/pull', image, '1');
    await pusher.close();
    const reference = `${registry.host}/bench/pull:1`;
    const registries = join(dir, 'registries.json');
    writeFileSync(registries, JSON.stringify({ [registry.host]: { username: 'bench', password, ca: tls.caPem } }));
    // containerd's resolver talks plain HTTP to a loopback host unless a hosts.toml says https.
    const hostsDir = join(dir, 'hosts');
    mkdirSync(join(hostsDir, registry.host), { recursive: true });
    writeFileSync(join(hostsDir, registry.host, 'hosts.toml'),
      `server = "https://${registry.host}"\n[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${tls.caPath}"\n`);
    const argv = {
      concierge: [binary, 'pull', reference, '--registries', registries, '--containerd', socket, '--namespace', namespace],
      ctr: ['ctr', '-a', socket, '-n', namespace, 'images', 'pull', '--user', `bench:${password}`, '--hosts-dir', hostsDir, reference],
    };
    const samples: Record<'concierge' | 'ctr', Sample[]> = { concierge: [], ctr: [] };
    await client.waitReady();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['concierge', 'ctr'] as const) : (['ctr', 'concierge'] as const);
      for (const target of order) {
        await ignoreNotFound(client.images.delete({ name: reference, sync: true }));
        const sample = await timed(argv[target], target === 'concierge');
        const { image: pulled } = await client.images.get({ name: reference });
        if (pulled?.target === undefined) throw new Error(`${target}: no image after the pull`);
        samples[target].push(sample);
        process.stderr.write(`[pull] round ${round + 1} ${target}: ${fmt(sample.seconds)} s\n`);
      }
    }
    // Both left an unpacked image: check the last one is whole before the figures count.
    const snapshots: string[] = [];
    for await (const page of client.snapshots.list({ snapshotter: 'overlayfs' })) snapshots.push(...page.info.map((i) => i.name));
    if (snapshots.length < layers.length || !(await snapshotExists(client, 'overlayfs', snapshots[0]!))) throw new Error('the image is not unpacked');
    const mb = compressed / 1e6;
    const row = (name: 'concierge' | 'ctr') => {
      const s = median(samples[name].map((x) => x.seconds));
      return [name, fmt(s), fmt(mb / s), fmt(median(samples[name].map((x) => x.cpuSeconds))),
        name === 'concierge' ? fmt(Math.max(...samples.concierge.map((x) => x.peakRssMb))) : '-'];
    };
    const ratio = median(samples.ctr.map((x) => x.seconds)) / median(samples.concierge.map((x) => x.seconds));
    // What `concierge pull` reports itself: the pull without the process's start (as in PID 1, already running).
    const inProcess = median(samples.concierge.map((x) => Number(/ ms=([0-9]+)/.exec(x.stdout)?.[1] ?? NaN) / 1000));
    process.stdout.write(`pull of ${fmt(mb)} MB (${image.layers.length} gzip layers) from docker-registry 2.8 over TLS on loopback, `
      + `${rounds} interleaved rounds, medians\n`);
    process.stdout.write(`${table([['client', 'wall s', 'MB/s', 'CPU s', 'peak RSS MB'], row('concierge'), row('ctr')])}\n`);
    process.stdout.write(`throughput ratio concierge/ctr: ${fmt(ratio)} (target >= 0.9) ${ratio >= 0.9 ? 'MET' : 'NOT MET'}\n`);
    process.stdout.write(`concierge's pull without its process start: ${fmt(inProcess)} s, ratio ${fmt(median(samples.ctr.map((x) => x.seconds)) / inProcess)}\n`);
  } finally {
    await ignoreNotFound(client.images.delete({ name: `${registry.host}/bench/pull:1`, sync: true })).catch(() => undefined);
    await ignoreNotFound(client.namespaces.delete({ name: namespace })).catch((err: Error) => process.stderr.write(`[pull] namespace ${namespace} left: ${err.message}\n`));
    client.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
