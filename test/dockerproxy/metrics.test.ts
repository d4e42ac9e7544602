// The proxy's counters through a real caller socket in front of dockerd: answers by route class and
// status class, refusals by rule, translated binds and staged binds alive (read when scraped).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProxyCounters } from '../../concierge/dockerproxy/counters.js';
import { proxyMetrics } from '../../concierge/metrics/proxy-counters.js';
import { api, type TestCaller, useCallerScene } from './harness.js';

const scene = useCallerScene();
const { marker, image } = scene;
let caller: TestCaller;
const registry = new Registry();

/** The value of one sample line of the registry's text. */
async function sample(line: string): Promise<number> {
  const text = await registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

beforeAll(async () => {
  caller = await scene.caller('metrics');
  mkdirSync(join(caller.root, 'mydata'));
  useProxyCounters(proxyMetrics(registry, caller.stagingDir));
});
afterAll(async () => {
  useProxyCounters({ answered: () => undefined, refused: () => undefined, bindTranslated: () => undefined });
  await caller.closeAndClean();
});

describe('proxy counters', () => {
  it('count forwarded and intercepted answers, refusals by rule, translated and staged binds', async () => {
    const forwarded2xx = 'concierge_proxy_requests_total{route="forwarded",status="2xx"}';
    const intercepted2xx = 'concierge_proxy_requests_total{route="intercepted",status="2xx"}';
    const intercepted4xx = 'concierge_proxy_requests_total{route="intercepted",status="4xx"}';
    const forbidden = 'concierge_proxy_refusals_total{rule="forbidden"}';
    const before = { f: await sample(forwarded2xx), i2: await sample(intercepted2xx), i4: await sample(intercepted4xx), r: await sample(forbidden) };

    expect((await api(caller.socket, 'GET', '/_ping')).status).toBe(200);
    expect((await api(caller.socket, 'GET', '/version')).status).toBe(200);
    const refused = await api(caller.socket, 'POST', `/containers/create?name=${marker}-priv`, { Image: image, HostConfig: { Privileged: true } });
    expect(refused.status).toBe(403);
    const created = await api(caller.socket, 'POST', `/containers/create?name=${marker}-bind`, {
      Image: image, Cmd: ['true'], HostConfig: { Binds: ['/mydata:/data'], NetworkMode: 'none' },
    });
    expect(created.status, created.text).toBe(201);

    expect(await sample(forwarded2xx)).toBe(before.f + 2);
    expect(await sample(intercepted4xx)).toBe(before.i4 + 1);
    expect(await sample(forbidden)).toBe(before.r + 1);
    expect(await sample(intercepted2xx)).toBe(before.i2 + 1);
    expect(await sample('concierge_proxy_translated_binds_total')).toBeGreaterThanOrEqual(1);
    expect(await sample('concierge_proxy_staged_binds')).toBe(1);
    const id = (created.json as { Id: string }).Id;
    expect((await api(caller.socket, 'DELETE', `/containers/${id}`)).status).toBe(204);
    // The staging bind is released after the answer went out: polled, not timed.
    for (let i = 0; i < 100 && (await sample('concierge_proxy_staged_binds')) !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sample('concierge_proxy_staged_binds')).toBe(0);
  });
});
