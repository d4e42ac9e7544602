import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OWNER_LABEL, STAGING_LABEL } from '../caller.js';
import { parseJson } from '../gojson.js';
import { CallerRecords } from '../records.js';
import { encodeGoJson } from './gojson-encode.js';
import { AnswerRewriter } from './rewrite.js';

const dir = mkdtempSync(join(tmpdir(), 'rewrite-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function recordsWith(): Promise<CallerRecords> {
  const records = CallerRecords.load(join(dir, `${Math.random()}.json`), 'job');
  await records.addContainer('c1', [{ staging: '/run/concierge/staging/job/u1', callerPath: '/src' }]);
  await records.addVolume('v1', [{ staging: '/run/concierge/staging/job/u2', callerPath: '/data' }], { labelled: false });
  return records;
}

function rewrite(f: (r: AnswerRewriter, tree: ReturnType<typeof parseJson>) => void, records: CallerRecords, text: string): string {
  const tree = parseJson(text);
  f(new AnswerRewriter(records), tree);
  return encodeGoJson(tree);
}

describe('AnswerRewriter', () => {
  it('gives a container inspect the caller\'s paths back and drops only concierge\'s labels', async () => {
    const records = await recordsWith();
    const text = JSON.stringify({
      Id: 'c1',
      Config: { Labels: { a: '1', [OWNER_LABEL]: 'job', [STAGING_LABEL]: 'x' } },
      HostConfig: { Binds: ['/run/concierge/staging/job/u1:/s:ro', 'vol:/v', '/elsewhere:/e'], Mounts: [{ Type: 'bind', Source: '/run/concierge/staging/job/u1', Target: '/t' }] },
      Mounts: [{ Type: 'bind', Source: '/run/concierge/staging/job/u1', Destination: '/s' }],
    });
    expect(JSON.parse(rewrite((r, t) => r.containerInspect(t), records, text))).toEqual({
      Id: 'c1',
      Config: { Labels: { a: '1' } },
      HostConfig: { Binds: ['/src:/s:ro', 'vol:/v', '/elsewhere:/e'], Mounts: [{ Type: 'bind', Source: '/src', Target: '/t' }] },
      Mounts: [{ Type: 'bind', Source: '/src', Destination: '/s' }],
    });
  });

  it('keeps numbers exact and key order, and escapes as Go\'s encoder does', async () => {
    const records = await recordsWith();
    const text = '{"Id":"c1","Config":{"Labels":{}},"Memory":18446744073709551615,"z":1,"a":"<&>\\u2028\\b"}';
    expect(rewrite((r, t) => r.containerInspect(t), records, text)).toBe('{"Id":"c1","Config":{"Labels":{}},"Memory":18446744073709551615,"z":1,"a":"<&>\\u2028\\u0008"}\n');
  });

  it('volumes: the device option is the caller\'s, labels of a volume made without any read null', async () => {
    const records = await recordsWith();
    const text = JSON.stringify({ Name: 'v1', Labels: { [OWNER_LABEL]: 'job' }, Options: { device: '/run/concierge/staging/job/u2', o: 'bind', type: 'none' } });
    expect(JSON.parse(rewrite((r, t) => r.volume(t), records, text))).toEqual({ Name: 'v1', Labels: null, Options: { device: '/data', o: 'bind', type: 'none' } });
  });

  it('lists keep only the caller\'s objects; a network shows only the caller\'s containers', async () => {
    const records = await recordsWith();
    const volumes = JSON.stringify({ Volumes: [{ Name: 'v1', Labels: null }, { Name: 'other', Labels: { [OWNER_LABEL]: 'job' } }], Warnings: null });
    const listed = JSON.parse(rewrite((r, t) => r.volumeList(t), records, volumes)) as { Volumes: Array<{ Name: string }> };
    expect(listed.Volumes.map((v) => v.Name)).toEqual(['v1']);
    const network = JSON.stringify({ Name: 'bridge', Labels: {}, Containers: { c1: { Name: 'mine' }, c2: { Name: 'theirs' } } });
    expect((JSON.parse(rewrite((r, t) => r.network(t), records, network)) as { Containers: unknown }).Containers).toEqual({ c1: { Name: 'mine' } });
  });
});
