// The Docker proxy's counters as Prometheus metrics: the proxy's hot path increments plain numbers (no
// label objects, no strings built per request); the metrics read them when scraped. Staged binds alive
// are counted when scraped too, from the staging directory (one mount point per bind).
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
  // Plain numbers on the hot path; prom-client reads them when scraped (its own label lookup builds a
  // hash string per increment).
  const answers: Record<RouteClass, Float64Array> = { forwarded: new Float64Array(statusClasses.length), intercepted: new Float64Array(statusClasses.length) };
  const refusals = new Float64Array(rules.length);
  const ruleIndex = new Map<string, number>(rules.map((r, i) => [r, i]));
  let translated = 0;
  new Counter({
    name: 'concierge_proxy_requests_total', help: 'Docker API answers by route class (forwarded untouched, or intercepted) and status class',
    labelNames: ['route', 'status'], registers,
    collect() {
      this.reset();
      for (const route of ['forwarded', 'intercepted'] as const) {
        for (const [i, status] of statusClasses.entries()) this.inc({ route, status }, answers[route][i]);
      }
    },
  });
  new Counter({
    name: 'concierge_proxy_refusals_total', help: 'Requests the caller-aware layer refused, by rule', labelNames: ['rule'], registers,
    collect() {
      this.reset();
      for (const [i, rule] of rules.entries()) this.inc({ rule }, refusals[i]);
    },
  });
  new Counter({
    name: 'concierge_proxy_translated_binds_total', help: 'Mount sources translated from a caller\'s path to a guest path', registers,
    collect() {
      this.reset();
      this.inc(translated);
    },
  });
  new Gauge({
    name: 'concierge_proxy_staged_binds', help: 'Staging binds alive (bind sources held open for siblings)', registers,
    collect() {
      this.set(countStagedBinds(stagingDir));
    },
  });
  return {
    answered(route, status) {
      const i = Math.floor(status / 100) - 1;
      if (i >= 0 && i < statusClasses.length) answers[route][i]!++;
    },
    refused(rule) {
      const i = ruleIndex.get(rule) ?? ruleIndex.get('other')!;
      refusals[i]!++;
    },
    bindTranslated() {
      translated++;
    },
  };
}
