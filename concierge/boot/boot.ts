// boot/: PID 1's boot steps, in order, and the timeline that times them.
import { performance } from 'node:perf_hooks';
import { setUpCgroups } from './cgroup.js';
import { applyHostname } from './hostname.js';
import { loadModules } from './modules.js';
import { makeRootShared, mountBase, mountExtra } from './mounts.js';
import { configureNetwork, withDnsCacheAddress } from './network.js';
import { applyResolvConf } from './resolv.js';
import { applyRlimits, defaultRlimits } from './rlimits.js';
import type { InstanceSpec } from '../instance/spec.js';
import { findSpec } from '../instance/spec-source.js';
import type { StepResult } from './step.js';
import { applySysctls, dockerSysctls } from './sysctl.js';
import type { Timeline } from './timeline.js';

export interface BootResult {
  spec: InstanceSpec;
  specOrigin: string;
  /** Sum of the boot steps' own durations. */
  stepsMs: number;
}

/**
 * The guest's boot, in order, each step timed and each a no-op when the system already is
 * so. The spec is read once /proc and /sys exist. Steps throw on failure: the caller shuts down
 * with the reason.
 */
export function boot(timeline: Timeline, specPath: string | undefined): BootResult {
  const started = performance.now();
  const step = (name: string, run: () => StepResult): void => {
    timeline.step(name, run, (r) => ('done' in r ? { done: r.done } : { skipped: r.skipped }));
  };
  step('mounts', mountBase);
  const found = timeline.step('spec', () => findSpec(specPath, (names) => loadModules([...names])), (f) => ({ origin: f.origin }), true);
  const { spec } = found;
  step('root rshared', makeRootShared);
  step('cgroups', () => setUpCgroups());
  let pendingSysctls: Record<string, string> = {};
  step('sysctls', () => {
    const outcome = applySysctls({ ...dockerSysctls(spec), ...spec.sysctls });
    pendingSysctls = outcome.missing;
    return outcome.result;
  });
  step('rlimits', () => applyRlimits(spec.rlimits, defaultRlimits()));
  step('hostname', () => applyHostname(spec));
  // Before the network: a NIC whose driver is a module (virtio_net, every NIC of Debian's kernel)
  // exists only once its module is loaded.
  step('modules', () => loadModules(spec.modules));
  if (Object.keys(pendingSysctls).length > 0) {
    // Keys a module provides (net.bridge.* with br_netfilter) exist only now; still absent ones are
    // skipped when they are dockerd's wishes, an error when the spec asked for them.
    step('sysctls after modules', () => {
      const outcome = applySysctls(pendingSysctls);
      const missingFromSpec = Object.keys(outcome.missing).filter((k) => k in spec.sysctls);
      if (missingFromSpec.length > 0) throw new Error(`sysctl ${missingFromSpec.join(', ')} (from the spec) does not exist on this kernel`);
      return outcome.result;
    });
  }
  step('network', () => configureNetwork(withDnsCacheAddress(spec)));
  step('resolv.conf', () => applyResolvConf(spec));
  step('extra mounts', () => mountExtra(spec.mounts));
  const stepsMs = Math.round((performance.now() - started) * 1000) / 1000;
  // PID 1's own memory is what every guest pays before its workloads: told once, at the boot's end.
  timeline.mark('boot steps done', { stepsMs, rssBytes: process.memoryUsage.rss() });
  return { spec, specOrigin: found.origin, stepsMs };
}
