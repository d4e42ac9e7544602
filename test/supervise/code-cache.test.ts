// The build's code cache (scripts/sea-code-cache.cjs): made with the job's workload path run against
// the stand-in containerd, and accepted by the V8 of the binary it is built into.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileWorkloadPath } from '../../concierge/cli/init.js';
import { repoRoot } from '../guest/vm.js';

const require = createRequire(import.meta.url);
const standIn = require('../../scripts/stand-in-containerd.cjs') as {
  serve(socketPath: string): Promise<{ calls: string[]; close(): Promise<void> }>;
  writeDockerArchive(path: string): Promise<void>;
};

describe('the code cache', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); });

  it('is made with an archive imported and a task started and removed through the client', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concierge-code-cache-test-'));
    const socket = join(dir, 'containerd.sock');
    const containerd = await standIn.serve(socket);
    try {
      await standIn.writeDockerArchive(join(dir, 'image.tar'));
      await compileWorkloadPath(socket, dir, join(dir, 'image.tar'));
    } finally {
      await containerd.close();
    }
    const order = ['images.v1.Images/Create', 'containers.v1.Containers/Create', 'snapshots.v1.Snapshots/Prepare',
      'tasks.v1.Tasks/Create', 'tasks.v1.Tasks/Start', 'tasks.v1.Tasks/Delete', 'containers.v1.Containers/Delete']
      .map((method) => containerd.calls.findIndex((path) => path.endsWith(method)));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('is accepted by the binary built with it', () => {
    const run = spawnSync(join(repoRoot, 'dist/concierge'), ['init', '--help'], { env: { CONCIERGE_CODE_CACHE_CHECK: '1' } });
    expect(run.status).toBe(0);
    expect(run.stdout.toString()).toContain('usage: concierge init');
    expect(run.stderr.toString()).not.toContain('code cache rejected');
  });
});
