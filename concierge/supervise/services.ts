// What PID 1 serves beside containerd: the metrics, the control API and the DNS cache. Loaded once
// containerd is spawned, not before the init's first line: with their libraries (prom-client, the
// caller-aware proxy's counters, dns-packet) they were most of the code Node evaluated before it.
import type { InstanceSpec } from '../instance/spec.js';
import { useProxyCounters } from '../dockerproxy/counters.js';
import { dnsCounters } from '../dns/counters.js';
import { counterSet } from '../metrics/counter-set.js';
import { InstanceMetrics } from '../metrics/instance-metrics.js';
import { proxyMetrics } from '../metrics/proxy-counters.js';
import { callerSocketDefaults } from './docker-access.js';

export { serveControl } from './control.js';
export { instanceRoutes } from './control-routes.js';
export { startDnsCache } from './dns-cache.js';

/** The instance's metrics, with the docker proxies' and the DNS cache's counters in them. */
export function instanceMetrics(spec: InstanceSpec): InstanceMetrics {
  const metrics = new InstanceMetrics();
  useProxyCounters(proxyMetrics(metrics.registry, callerSocketDefaults(spec.docker.socket, spec.runDir).stagingDir));
  counterSet(metrics.registry, 'concierge_dns_cache_total', 'What the DNS cache did with questions (hits, misses, passedThrough, upstreamFailures, upstreamTcp, malformed)', () => ({ ...dnsCounters }));
  return metrics;
}
