import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memberWorkloadId, podOf, podOfBundle, servingBundle } from './sandbox.js';

describe('a CRI pod from the annotations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shim-sandbox-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = (id: string, annotations: Record<string, string> | undefined): string => {
    const path = join(dir, id);
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'config.json'), JSON.stringify({ process: { args: ['true'] }, ...(annotations === undefined ? {} : { annotations }) }));
    return path;
  };

  it('tells the sandbox from its members; a member is served by the shim of its sandbox\'s bundle, its sibling', () => {
    const sandbox = bundle('pod1', { 'io.kubernetes.cri.sandbox-id': 'pod1', 'io.kubernetes.cri.container-type': 'sandbox' });
    const member = bundle('web', { 'io.kubernetes.cri.sandbox-id': 'pod1', 'io.kubernetes.cri.container-type': 'container' });
    const alone = bundle('t1', undefined);
    expect(podOfBundle(sandbox)).toEqual({ sandboxId: 'pod1', isSandbox: true });
    expect(podOfBundle(member)).toEqual({ sandboxId: 'pod1', isSandbox: false });
    expect(podOfBundle(alone)).toBeUndefined();
    expect(podOfBundle(join(dir, 'missing'))).toBeUndefined();
    expect(servingBundle(member, podOfBundle(member))).toBe(sandbox);
    expect(servingBundle(sandbox, podOfBundle(sandbox))).toBe(sandbox);
    expect(servingBundle(alone, undefined)).toBe(alone);
    // Without a container type, the container whose id is the sandbox id is the sandbox.
    expect(podOf({ 'io.kubernetes.cri.sandbox-id': 'p' }, 'p')).toEqual({ sandboxId: 'p', isSandbox: true });
    expect(podOf({ 'io.kubernetes.cri.sandbox-id': '' }, 'p')).toBeUndefined();
  });

  it('names a member\'s workload within the guest\'s 63 characters, one name per container id', () => {
    const cri = 'a'.repeat(64);
    expect(memberWorkloadId(cri)).toMatch(/^c-[0-9a-f]{16}$/);
    expect(memberWorkloadId(cri)).not.toBe(memberWorkloadId('b'.repeat(64)));
  });
});
