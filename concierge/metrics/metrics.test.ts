import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { counterSet } from './counter-set.js';
import type { CgroupFigures } from '../workloads/cgroup.js';
import { InstanceMetrics } from './instance-metrics.js';
import { countStagedBinds, proxyMetrics } from './proxy-counters.js';

describe('metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-metrics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts proxy answers by route class and status class, refusals by rule, translated and staged binds', async () => {
    const registry = new Registry();
    const staging = join(dir, 'staging');
    for (const p of ['job/a', 'job/b', 'other/c']) mkdirSync(join(staging, p), { recursive: true });
    const counters = proxyMetrics(registry, staging);
    counters.answered('forwarded', 200);
    counters.answered('forwarded', 204);
    counters.answered('intercepted', 403);
    counters.answered('forwarded', 101);
    counters.refused('forbidden');
    counters.bindTranslated();
    counters.bindTranslated();
    const text = await registry.metrics();
    expect(text).toMatch(/^concierge_proxy_requests_total\{route="forwarded",status="2xx"\} 2$/m);
    expect(text).toMatch(/^concierge_proxy_requests_total\{route="forwarded",status="1xx"\} 1$/m);
    expect(text).toMatch(/^concierge_proxy_requests_total\{route="intercepted",status="4xx"\} 1$/m);
    expect(text).toMatch(/^concierge_proxy_refusals_total\{rule="forbidden"\} 1$/m);
    expect(text).toMatch(/^concierge_proxy_refusals_total\{rule="ambiguous-body"\} 0$/m);
    expect(text).toMatch(/^concierge_proxy_translated_binds_total 2$/m);
    expect(text).toMatch(/^concierge_proxy_staged_binds 3$/m);
    expect(countStagedBinds(join(dir, 'absent'))).toBe(0);
  });

  it('reads workload cgroup figures when scraped and keeps the last ones of an ended workload', async () => {
    const metrics = new InstanceMetrics();
    let figures: CgroupFigures | undefined = {
      cpuUsageSeconds: 1.5, memoryCurrentBytes: 4096, memoryPeakBytes: 8192, ioReadBytes: 10, ioWriteBytes: 20, oomKills: 0,
    };
    metrics.addWorkload({ workload: 'job', read: () => figures });
    metrics.bootStepSeconds.set({ step: 'mounts' }, 0.002);
    metrics.daemonRestarts.inc({ daemon: 'dockerd' });
    expect(await metrics.text()).toMatch(/^concierge_workload_memory_bytes\{workload="job"\} 4096$/m);
    figures = { ...figures, memoryCurrentBytes: 0, oomKills: 1 };
    metrics.workloadEnded('job');
    figures = undefined; // the cgroup is gone
    const text = await metrics.text();
    expect(text).toMatch(/^concierge_workload_oom_kills\{workload="job"\} 1$/m);
    expect(text).toMatch(/^concierge_workload_memory_peak_bytes\{workload="job"\} 8192$/m);
    expect(text).toMatch(/^concierge_boot_step_seconds\{step="mounts"\} 0.002$/m);
    expect(text).toMatch(/^concierge_daemon_restarts_total\{daemon="dockerd"\} 1$/m);
  });

  it('counts image pulls, the layers and bytes they fetched, and how long each image took', async () => {
    const metrics = new InstanceMetrics();
    expect(await metrics.text()).toMatch(/^concierge_image_pulls_total 0$/m);
    metrics.imagePulled('registry.test:5000/ci/job:1', { layers: 2, bytes: 3_000_000, ms: 1250 });
    metrics.imagePulled('docker.io/library/busybox:latest', { layers: 0, bytes: 0, ms: 40 });
    const text = await metrics.text();
    expect(text).toMatch(/^concierge_image_pulls_total 2$/m);
    expect(text).toMatch(/^concierge_image_pull_layers_total 2$/m);
    expect(text).toMatch(/^concierge_image_pull_bytes_total 3000000$/m);
    expect(text).toMatch(/^concierge_image_pull_seconds\{image="registry.test:5000\/ci\/job:1"\} 1.25$/m);
    expect(text).toMatch(/^concierge_image_pull_seconds\{image="docker.io\/library\/busybox:latest"\} 0.04$/m);
  });
});

describe('counterSet', () => {
  it('exports a part\'s plain counters, read at each scrape', async () => {
    const registry = new Registry();
    const counts = { hits: 0, misses: 0 };
    counterSet(registry, 'test_cache_total', 'test', () => counts);
    counts.hits = 3;
    counts.misses = 1;
    const text = await registry.metrics();
    expect(text).toContain('test_cache_total{kind="hits"} 3');
    expect(text).toContain('test_cache_total{kind="misses"} 1');
  });
});
