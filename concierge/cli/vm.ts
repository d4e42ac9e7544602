// `concierge vm`: the host side. Boots a guest under qemu with the instance spec on a config drive,
// follows its events and its workloads' output over the host channel, serves its control API on a host
// unix socket while it runs, stops it in order on SIGINT/SIGTERM, and exits with the job's exit code.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { consoleLine } from '../events/console-line.js';
import type { InstanceEvent } from '../events/event-log.js';
import { encodeConfigDrive } from '../instance/config-drive.js';
import { serveControlProxy } from '../vmm/control-proxy.js';
import { GuestLink } from '../vmm/guest-link.js';
import {
  guestCodeFromConsole, guestCodeFromStatus, kvmRunsKernel, parseNic, qemuArgs, tcgCpu, type Accel, type QemuOptions,
} from '../vmm/qemu.js';
import { UsageError } from './usage-error.js';

const help = `usage: concierge vm --kernel <vmlinux|bzImage> --initrd <initramfs> --spec <instance.json> [options]
Boots a guest under qemu with concierge as its init, streams the job's output to stdout and stderr,
prints the guest's events on stderr, and exits with the job's exit code.
  --root <root.erofs>    the root filesystem image, a read-only disk the initramfs's first stage mounts
  --control <sock>       serve the guest's control API on this host unix socket while it runs
  --cache <disk.img>     a raw disk for /cache (/dev/vda), made as ext4 when absent (--cache-size, 2G)
  --spec-via drive|fw_cfg|both   how the spec reaches the guest (default drive: a config drive)
  --nic tap=<name>[,mac=<mac>]   a virtio NIC on an existing tap device (repeatable)
  --accel auto|kvm|tcg   KVM when it really runs the kernel (auto probes), else TCG
  --memory <MB> --cpus <n> --append "<kernel args>" --verbose
  --cpu <model>          qemu's CPU model (default: host under KVM, ${tcgCpu} under TCG)
  --console <file|->     the serial console (kernel and concierge lines) to a file or stderr
  --events text|json|none  the guest's events on stderr (default text)
  --timeout <s>          stop the guest after this long (exit 124)
  --stop-timeout <s>     after SIGINT/SIGTERM, how long the orderly shutdown may take before qemu is killed (60)
Exit status: the job's exit code (above 255: 255); 124 on --timeout; 125 when the guest reported none.`;

const qemuBinary = 'qemu-system-x86_64';

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`--${name}: expected a positive whole number`);
  return Number(value);
}

export async function run(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      kernel: { type: 'string' }, initrd: { type: 'string' }, spec: { type: 'string' }, root: { type: 'string' },
      control: { type: 'string' }, cache: { type: 'string' }, 'cache-size': { type: 'string' },
      'spec-via': { type: 'string' }, nic: { type: 'string', multiple: true }, accel: { type: 'string' },
      memory: { type: 'string' }, cpus: { type: 'string' }, cpu: { type: 'string' }, append: { type: 'string' },
      verbose: { type: 'boolean' }, console: { type: 'string' }, events: { type: 'string' },
      timeout: { type: 'string' }, 'stop-timeout': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (values.kernel === undefined || values.initrd === undefined || values.spec === undefined) {
    throw new UsageError(`--kernel, --initrd and --spec are required\n${help}`);
  }
  for (const f of [values.kernel, values.initrd, values.spec, ...(values.root === undefined ? [] : [values.root])]) if (!existsSync(f)) throw new UsageError(`${f} does not exist`);
  const specVia = values['spec-via'] ?? 'drive';
  if (!['drive', 'fw_cfg', 'both'].includes(specVia)) throw new UsageError('--spec-via: expected drive, fw_cfg or both');
  const eventsFormat = values.events ?? 'text';
  if (!['text', 'json', 'none'].includes(eventsFormat)) throw new UsageError('--events: expected text, json or none');
  const accelWanted = values.accel ?? 'auto';
  if (!['auto', 'kvm', 'tcg'].includes(accelWanted)) throw new UsageError('--accel: expected auto, kvm or tcg');
  const nics = (values.nic ?? []).map((n) => {
    try {
      return parseNic(n);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
  const timeoutS = values.timeout === undefined ? 0 : positiveInt(values.timeout, 'timeout', 0);
  const stopTimeoutMs = positiveInt(values['stop-timeout'], 'stop-timeout', 60) * 1000;
  const say = (line: string): boolean => process.stderr.write(`concierge vm: ${line}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'concierge-vm-'));
  try {
    const specText = readFileSync(values.spec, 'utf8');
    const options: QemuOptions = {
      kernel: values.kernel, initrd: values.initrd,
      accel: accelWanted === 'auto' ? ((await kvmRunsKernel(values.kernel, qemuBinary)) ? 'kvm' : 'tcg') : accelWanted as Accel,
      memoryMb: positiveInt(values.memory, 'memory', 2048), cpus: positiveInt(values.cpus, 'cpus', 2),
      channelSocket: join(dir, 'channel.sock'), nics,
      ...(values.root === undefined ? {} : { rootDisk: values.root }),
      ...(values.cpu === undefined ? {} : { cpu: values.cpu }),
      ...(values.append === undefined ? {} : { append: values.append }),
      ...(values.verbose === true ? { verbose: true } : {}),
    };
    if (specVia !== 'fw_cfg') {
      options.specDrive = join(dir, 'spec.img');
      writeFileSync(options.specDrive, encodeConfigDrive(specText), { mode: 0o600 });
    }
    if (specVia !== 'drive') options.fwCfgSpec = values.spec;
    if (values.cache !== undefined) {
      options.cacheDisk = values.cache;
      if (!existsSync(values.cache)) {
        const size = values['cache-size'] ?? '2G';
        writeFileSync(values.cache, '');
        const made = spawnSync('truncate', ['-s', size, values.cache]).status === 0
          && spawnSync('mkfs.ext4', ['-q', '-F', '-L', 'concierge-cache', values.cache]).status === 0;
        if (!made) throw new Error(`could not make the cache disk ${values.cache}`);
        say(`created cache disk ${values.cache} (${size}, ext4)`);
      }
    }
    say(`qemu ${options.accel}, ${options.memoryMb} MB, ${options.cpus} cpus, spec ${values.spec} via ${specVia}${options.cacheDisk === undefined ? '' : `, cache ${options.cacheDisk}`}`);

    // Its own process group: a terminal's Ctrl-C reaches this process only, which then stops the guest in order.
    const qemu = spawn(qemuBinary, qemuArgs(options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let consoleTail = '';
    let qemuErrors = '';
    const consoleFile = values.console;
    qemu.stdout.on('data', (c: Buffer) => {
      consoleTail = (consoleTail + c.toString()).slice(-256 * 1024);
      if (consoleFile === '-') process.stderr.write(c);
    });
    qemu.stderr.on('data', (c: Buffer) => {
      qemuErrors += c.toString();
      process.stderr.write(c);
    });
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      qemu.once('exit', (status, signal) => resolve({ status, signal }));
    });

    const link = new GuestLink(() => connect(options.channelSocket), {
      stdout: process.stdout,
      stderr: process.stderr,
      event: (e: InstanceEvent) => {
        if (eventsFormat === 'text') process.stderr.write(`${consoleLine(e)}\n`);
        else if (eventsFormat === 'json') process.stderr.write(`${JSON.stringify(e)}\n`);
      },
    });
    const linkDone = link.run();
    const control = values.control === undefined ? undefined : await serveControlProxy(values.control, () => link.session);

    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stopInOrder = (why: string): void => {
      if (killTimer !== undefined) {
        say(`${why} again: killing qemu`);
        qemu.kill('SIGKILL');
        return;
      }
      killTimer = setTimeout(() => {
        say(`the guest did not power off within ${stopTimeoutMs / 1000} s: killing qemu`);
        qemu.kill('SIGKILL');
      }, stopTimeoutMs);
      void link.requestShutdown(`host: ${why}`).then((asked) => {
        if (!asked) {
          say(`${why}: the guest cannot be asked over the host channel: killing qemu`);
          qemu.kill('SIGKILL');
        } else say(`${why}: asked the guest to shut down`);
      });
    };
    const onSignal = (signal: NodeJS.Signals): void => stopInOrder(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const overall = timeoutS === 0 ? undefined : setTimeout(() => {
      timedOut = true;
      say(`the guest did not finish in ${timeoutS} s`);
      qemu.kill('SIGKILL');
    }, timeoutS * 1000);

    const { status, signal } = await exited;
    clearTimeout(overall);
    clearTimeout(killTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    link.stop();
    await linkDone;
    await control?.close();
    if (consoleFile !== undefined && consoleFile !== '-') writeFileSync(consoleFile, consoleTail);
    if (timedOut) return 124;

    const qemuFailed = /qemu-system|^qemu/m.test(qemuErrors);
    const code = link.result?.exitCode ?? guestCodeFromStatus(status, qemuFailed) ?? guestCodeFromConsole(consoleTail);
    if (link.sessions === 0 && consoleFile !== '-') {
      // Nothing came over the channel (a bad spec, a boot failure): the console says why.
      process.stderr.write(consoleTail.split('\n').slice(-40).join('\n'));
    }
    if (code === undefined) {
      say(`the guest stopped without reporting an exit code (qemu ${signal ?? `status ${status}`})`);
      return 125;
    }
    const how = link.result !== undefined ? 'over the host channel' : 'from qemu\'s exit status or the console';
    say(`guest exit code ${code} (${how})${link.result?.reason === undefined ? '' : `: ${link.result.reason}`}`);
    return Math.min(code, 255);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
