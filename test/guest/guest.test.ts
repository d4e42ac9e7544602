// End to end: the guest image boots under qemu (TCG here) through boot.sh (concierge vm), concierge (or
// the busybox stand-in, with CONCIERGE_GUEST_INIT=shell) runs the sample CI job, and the job's exit code
// becomes boot.sh's.
// Boots are minutes long under software emulation, so each boot serves several checks:
//   1. the sample job with a fresh cache disk; 2. a second boot with the same disk, whose job looks for
//   the image the first one built and then fails on purpose; 3. a bad spec.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badSpecExitCode, bootGuest, buildGuest, initKind, sampleSpec, scratchDir, type Boot } from './vm.js';

const minutes = (n: number): number => n * 60_000;
const onlyWithConcierge = initKind !== 'concierge';

describe(`guest microVM (init: ${initKind})`, () => {
  const dir = scratchDir();
  const cacheDisk = join(dir, 'cache.img');
  let first: Boot;
  let second: Boot;

  beforeAll(async () => {
    await buildGuest();
  }, minutes(10));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('boots and runs the sample job: a sibling reads back the job\'s file, docker build works, exit code 0', async () => {
    first = await bootGuest({ spec: sampleSpec('sample-job-cached.json'), cacheDisk, args: ['--console', '-'] });
    // The disk root's first stage ran cleanly: a shell error there is "/init: line N: ...".
    expect(first.output).toMatch(/^first stage: root \/dev\/vd[a-z] \(erofs\) mounted at /m);
    expect(first.output).not.toMatch(/^(\/init|umount|switch_root): /m);
    expect(first.output).toContain('job: docker build');
    expect(first.output).toContain('job: built image says: built inside the guest');
    expect(first.output).toMatch(/job: sibling read back: made by the job in its own filesystem/);
    expect(first.output).toContain('job: done');
    expect(first.output).toMatch(/concierge vm: guest exit code 0 /);
    expect(first.code).toBe(0);
  }, minutes(10));

  it.skipIf(onlyWithConcierge)('prints concierge\'s boot timeline and result as event lines (needs concierge init)', () => {
    expect(first?.output).toBeDefined();
    for (const mark of ['containerd ready', 'dockerd ready', 'first workload started']) {
      expect(first.output).toMatch(new RegExp(`^concierge: [0-9:.]+ ${mark} at \\+\\d+ ms`, 'm'));
    }
    // The job's task is crun's: the guest ships it and its cgroup v2 root holds the controllers.
    expect(first.output).toMatch(/^concierge: [0-9:.]+ workload job started by crun, pid \d+ /m);
    expect(first.output).toMatch(/^concierge: [0-9:.]+ power-off, exit code 0 /m);
  });

  it('carries the image the first boot built to a second boot on the same cache disk, and reports a failing job\'s code', async () => {
    const spec = sampleSpec('sample-job-cached.json');
    spec.workloads[0] = {
      ...spec.workloads[0],
      args: ['sh', '-c', [
        'if docker image inspect concierge-sample-built:latest >/dev/null; then echo cached-image-found; fi',
        'echo failing on purpose',
        'exit 7',
      ].join('; ')],
    };
    second = await bootGuest({ spec, cacheDisk });
    expect(second.output).toContain('failing on purpose');
    expect(second.output).toContain('cached-image-found');
    expect(second.code).toBe(7);
  }, minutes(10));

  it('rejects a bad instance spec with a clear error on the console and powers off with a non-zero code', async () => {
    const bad = await bootGuest({ spec: '{"workloads": [{"id": "job", "image": 42}]}', timeoutSeconds: 300, args: ['--spec-via', 'fw_cfg'] });
    expect(bad.output).toMatch(/bad instance spec/);
    expect(bad.output).toMatch(/workloads/);
    expect(bad.output).not.toContain('did not finish in');
    expect(bad.code).toBe(badSpecExitCode);
  }, minutes(6));
});
