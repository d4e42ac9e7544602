// The build's code cache (scripts/sea-code-cache.cjs): made with the job's workload path run against
// the stand-in containerd, and accepted by the V8 of the binary it is built into; and that binary's
// run ahead (`--run-ahead`, which the disk guest's first stage starts under TCG).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWorkloadPath } from '../../concierge/cli/init.js';
import { repoRoot } from '../guest/vm.js';

const require = createRequire(import.meta.url);
const standIn = require('../../scripts/stand-in-containerd.cjs') as {
  runWorkloadPath(compile: typeof compileWorkloadPath): Promise<string[]>;
};

describe('the code cache', () => {
  it('is made with an archive imported and a task started and removed through the client', async () => {
    const calls = await standIn.runWorkloadPath(compileWorkloadPath);
    const order = ['images.v1.Images/Create', 'containers.v1.Containers/Create', 'snapshots.v1.Snapshots/Prepare',
      'tasks.v1.Tasks/Create', 'tasks.v1.Tasks/Start', 'tasks.v1.Tasks/Delete', 'containers.v1.Containers/Delete']
      .map((method) => calls.findIndex((path) => path.endsWith(method)));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('is accepted by the binary built with it', () => {
    const run = spawnSync(join(repoRoot, 'dist/concierge'), ['init', '--help'], { env: { CONCIERGE_CODE_CACHE_CHECK: '1' } });
    expect(run.status).toBe(0);
    expect(run.stdout.toString()).toContain('usage: concierge init');
    expect(run.stderr.toString()).not.toContain('code cache rejected');
  });

  it('runs the first stage\'s run ahead to its end, printing nothing and leaving no file behind', () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'concierge-run-ahead-'));
    try {
      const run = spawnSync(join(repoRoot, 'dist/concierge'), ['--run-ahead'], { env: { CONCIERGE_RUNTIME_DIR: runtimeDir, CONCIERGE_CODE_CACHE_CHECK: '1' } });
      expect(run.stderr.toString()).toBe('');
      expect(run.stdout.toString()).toBe('');
      expect(run.status).toBe(0);
      expect(readdirSync(runtimeDir)).toEqual([]);
    } finally {
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});
