// The Docker proxy's counters as Prometheus metrics: every label set is bound once here, so the proxy's
// hot path only increments (no label objects built per request). Staged binds alive are counted when
// scraped, from the staging directory (one mount point per bind).
import { readdirSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';

const statusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** The proxy's refusal rules (dockerproxy/counters.ts), each a label bound in advance. */
const rules = ['forbidden', 'not-found', 'conflict', 'ambiguous-body', 'invalid-body', 'other'] as const;

type RouteClass = 'forwarded' | 'intercepted';

/** Fits the proxy's counters port (the composition root plugs it in). */
export interface ProxyMetrics {
  answered(route: RouteClass, status: number): void;
  refused(rule: string): void;
  bindTranslated(): void;
}

type Inc = { inc(): void };

/** Staging binds under `dir/<caller>/<bind>`; 0 when there is no staging directory. */
export function countStagedBinds(dir: string): number {
  let n = 0;
  let callers: string[];
  try {
    callers = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const c of callers) {
    try {
      n += readdirSync(`${dir}/${c}`).length;
    } catch {
      // Released meanwhile.
    }
  }
  return n;
}

export function proxyMetrics(registry: Registry, stagingDir: string): ProxyMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'concierge_proxy_requests_total', help: 'Docker API answers by route class (forwarded untouched, or intercepted) and status class',
    labelNames: ['route', 'status'], registers,
  });
  const refusals = new Counter({ name: 'concierge_proxy_refusals_total', help: 'Requests the caller-aware layer refused, by rule', labelNames: ['rule'], registers });
  const translated = new Counter({ name: 'concierge_proxy_translated_binds_total', help: 'Mount sources translated from a caller\'s path to a guest path', registers });
  new Gauge({
    name: 'concierge_proxy_staged_binds', help: 'Staging binds alive (bind sources held open for siblings)', registers,
    collect() {
      this.set(countStagedBinds(stagingDir));
    },
  });
  const bound = (route: RouteClass): Inc[] => statusClasses.map((s) => requests.labels(route, s));
  const byRoute: Record<RouteClass, Inc[]> = { forwarded: bound('forwarded'), intercepted: bound('intercepted') };
  const byRule = new Map<string, Inc>(rules.map((r) => [r, refusals.labels(r)]));
  for (const r of rules) refusals.labels(r).inc(0);
  return {
    answered(route, status) {
      const i = Math.floor(status / 100) - 1;
      if (i >= 0 && i < 5) byRoute[route][i]!.inc();
    },
    refused(rule) {
      byRule.get(rule)?.inc();
    },
    bindTranslated() {
      translated.inc();
    },
  };
}
