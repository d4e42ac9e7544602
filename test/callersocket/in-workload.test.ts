// The caller-aware docker.sock as a job sees it: a real workload in containerd's `default` namespace
// runs the real docker CLI against /var/run/docker.sock, which concierge serves for that workload alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_LABEL } from '../../concierge/dockerproxy/aware/caller.js';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import { busyboxLayer, fileLayer, ociArchive, writeArchive } from '../workloads/image-fixtures.js';
import { dockerdSocket, runnerOptions } from '../workloads/containerd-env.js';

const dir = mkdtempSync(join(tmpdir(), 'concierge-caller-workload-'));
const docker = new Docker({ socketPath: dockerdSocket() });
const sibling = 'concierge-caller-sibling:latest';
const siblingWithCli = 'concierge-caller-cli:latest';
let runner: WorkloadRunner;

async function importToDockerd(layer: Buffer, repo: string): Promise<void> {
  const progress = await docker.importImage(Readable.from([layer]) as never, { repo, tag: 'latest', changes: ['ENV PATH=/usr/local/bin:/bin'] } as never);
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(progress as unknown as NodeJS.ReadableStream, (e) => (e ? reject(e) : resolve())));
}

async function job(id: string, script: string, extra: Record<string, unknown> = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const workload = await runner.start(
    parseWorkloadSpec({ id, image: join(dir, 'job.tar'), dockerAccess: true, args: ['sh', '-c', script], ...extra }),
    (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk),
  );
  const exit = await workload.wait();
  return { code: exit.exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function ownedBy(id: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${OWNER_LABEL}=${id}`] } });
  return list.map((c) => c.Id);
}

function stagingMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('/run/concierge/staging/'));
}

beforeAll(async () => {
  const cli = fileLayer('usr/local/bin/docker', readFileSync('/usr/local/bin/docker'));
  writeArchive(join(dir, 'job.tar'), ociArchive([busyboxLayer(), cli], 'test.local/caller-job:latest'));
  await importToDockerd(busyboxLayer(), 'concierge-caller-sibling');
  await importToDockerd(Buffer.concat([busyboxLayer().subarray(0, -1024), cli]), 'concierge-caller-cli');
  runner = await WorkloadRunner.open(runnerOptions(join(dir, 'fifo')));
});

afterAll(async () => {
  await runner?.close();
  for (const image of [sibling, siblingWithCli]) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('caller-aware docker.sock inside a workload', () => {
  it('runs the seed example verbatim: the sibling sees the caller\'s /mydata', async () => {
    const r = await job('seed', `mkdir /mydata && touch /mydata/foobar && docker run --rm -v /mydata:/parent ${sibling} ls /parent`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('foobar');
    expect(r.code).toBe(0);
  });

  it('translates --mount type=bind, and the sibling\'s writes land in the caller\'s filesystem', async () => {
    const r = await job('writes', [
      'mkdir -p /out',
      `docker run --rm --mount type=bind,source=/out,target=/o ${sibling} sh -c 'echo written-by-sibling > /o/f'`,
      'cat /out/f',
    ].join(' && '));
    expect(r.stdout.trim()).toBe('written-by-sibling');
    expect(r.code).toBe(0);
  });

  it('maps a path under the caller\'s own bind mount to that mount\'s source', async () => {
    const work = mkdtempSync(join(dir, 'work-'));
    writeFileSync(join(work, 'from-host'), 'host data\n');
    const r = await job('under-mount', `docker run --rm -v /work:/w ${sibling} cat /w/from-host`, {
      mounts: [{ type: 'bind', source: work, target: '/work' }],
    });
    expect(r.stdout).toBe('host data\n');
    expect(r.code).toBe(0);
  });

  it('gives a sibling that binds /var/run/docker.sock the caller\'s own socket, scoped to the caller', async () => {
    const r = await job('delegate', [
      `docker run -d --name delegate-peer ${sibling} sleep 60 >/dev/null`,
      `docker run --rm -v /var/run/docker.sock:/var/run/docker.sock ${siblingWithCli} docker ps --format '{{.Names}}'`,
    ].join(' && '));
    expect(r.stderr).toBe('');
    // The delegate sees its owner's siblings (itself and the peer), nothing else on dockerd.
    expect(r.stdout.trim().split('\n').sort().filter((n) => n === 'delegate-peer')).toEqual(['delegate-peer']);
    expect(r.code).toBe(0);
  });

  it('refuses an escape from inside the job with a Docker-style error, creating nothing', async () => {
    const r = await job('escape', `ln -s /proc/1/root /escape; docker run -v /escape/etc:/x ${sibling} ls /x; echo "exit $?"; docker ps -aq | wc -l`);
    expect(r.stderr).toMatch(/Error response from daemon: .*\/proc/);
    // docker run's own code for a refused create, then nothing in the caller's list (it is removed only at exit).
    expect(r.stdout.trim().split('\n')).toEqual(['exit 125', '0']);
  });

  it('removes siblings and staging binds when the job ends', async () => {
    const r = await job('leaver', `mkdir /d && docker run -d -v /d:/d ${sibling} sleep 300`);
    expect(r.code).toBe(0);
    expect(await ownedBy('leaver')).toEqual([]);
    expect(await ownedBy('delegate')).toEqual([]);
    expect(stagingMounts()).toEqual([]);
  });
});


