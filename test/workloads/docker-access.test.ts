// A workload with dockerAccess runs the static docker CLI and starts a sibling through the socket it was
// given; the sibling is a container of dockerd, in containerd's `moby` namespace.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import type { DockerAccessProvider } from '../../concierge/workloads/docker-access.js';
import { busyboxLayer, fileLayer, ociArchive, writeArchive } from './image-fixtures.js';
import { connect, dockerdSocket, runnerOptions } from './containerd-env.js';

const dir = mkdtempSync(join(tmpdir(), 'concierge-docker-access-'));
const docker = new Docker({ socketPath: dockerdSocket() });
const siblingImage = 'concierge-test-sibling:latest';
const siblingName = `concierge-sibling-${process.pid}`;

beforeAll(async () => {
  // The job image: busybox plus the static docker CLI (a Go binary with no library dependencies).
  writeArchive(join(dir, 'job.tar'), ociArchive(
    [busyboxLayer(), fileLayer('usr/local/bin/docker', readFileSync('/usr/local/bin/docker'))], 'test.local/docker-job:latest'));
  // The sibling's image lives in dockerd.
  const progress = await docker.importImage(Readable.from([busyboxLayer()]) as never, { repo: 'concierge-test-sibling', tag: 'latest' } as never);
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(progress as unknown as NodeJS.ReadableStream, (e) => (e ? reject(e) : resolve())));
});
afterAll(async () => {
  await docker.getContainer(siblingName).remove({ force: true }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('dockerAccess', () => {
  it('lets a workload start a sibling container through the docker socket', async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    // A provider that hands out dockerd's own socket and records that the runner asks and releases.
    const provider: DockerAccessProvider = {
      async open(w) {
        opened.push(`${w.workloadId}/${w.containerId}`);
        return { socketPath: dockerdSocket(), close: async () => { closed.push(w.workloadId); } };
      },
    };
    const runner = await WorkloadRunner.open({ ...runnerOptions(join(dir, 'fifo')), dockerAccess: provider });
    try {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const workload = await runner.start(parseWorkloadSpec({
        id: 'docker-job', image: join(dir, 'job.tar'), dockerAccess: true,
        args: ['sh', '-c', `docker version --format '{{.Server.Version}}' && docker run -d --name ${siblingName} ${siblingImage} sleep 300`],
      }), (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk));
      const exit = await workload.wait();
      expect(Buffer.concat(err).toString()).toBe('');
      expect(exit.exitCode).toBe(0);
      const lines = Buffer.concat(out).toString().trim().split('\n');
      const siblingId = lines.at(-1)!;
      expect(siblingId).toMatch(/^[0-9a-f]{64}$/);
      const moby = connect('moby');
      const mobyContainers = (await moby.containers.list({})).containers.map((c) => c.id);
      moby.close();
      expect(mobyContainers).toContain(siblingId);
      expect(opened).toEqual(['docker-job/docker-job']);
      expect(closed).toEqual(['docker-job']);
    } finally {
      await runner.close();
    }
  });
});
