// dockerd's BuildKit configuration, which concierge writes (dockerd's --config-file): dockerd 20.10 grants
// the `network.host` entitlement by default (`docker build --network host`, a Solve over /grpc asking for
// it, `RUN --network=host`); here it is granted only when a workload with docker access has a dockerPolicy
// that allows host namespaces. `security.insecure` stays off. Workloads added later through the control
// API do not change it (dockerd reads it once).
import type { WorkloadSpec } from '../instance/spec-workloads.js';

export function builderGrantsHostNetwork(workloads: readonly WorkloadSpec[]): boolean {
  return workloads.some((w) => w.dockerAccess && w.dockerPolicy.hostNamespaces);
}

/** dockerd's daemon.json: `builder.Entitlements` as daemon/config.BuilderEntitlements reads it. */
export function dockerdConfig(workloads: readonly WorkloadSpec[]): string {
  const config = { builder: { Entitlements: { 'network-host': builderGrantsHostNetwork(workloads), 'security-insecure': false } } };
  return `${JSON.stringify(config, null, 2)}\n`;
}
