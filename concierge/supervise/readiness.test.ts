import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { untilExists } from './readiness.js';

describe('untilExists', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); });

  it('resolves when the file is made in its directory, not at the limit', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concierge-ready-'));
    const path = join(dir, 'daemon.sock');
    let resolved = false;
    const waiting = untilExists(path, 600_000).then(() => { resolved = true; });
    writeFileSync(join(dir, 'other'), '');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resolved).toBe(false);
    writeFileSync(path, '');
    await waiting;
    expect(existsSync(path)).toBe(true);
  });

  it('resolves at once for a file that exists, or a directory it cannot watch', async () => {
    dir = mkdtempSync(join(tmpdir(), 'concierge-ready-'));
    writeFileSync(join(dir, 'there'), '');
    await untilExists(join(dir, 'there'), 600_000);
    await untilExists(join(dir, 'missing-dir', 'daemon.sock'), 600_000);
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
  });
});
