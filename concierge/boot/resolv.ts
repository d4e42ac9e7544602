import { writeIfChanged } from './files.js';
import type { InstanceSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

export function resolvConf(spec: InstanceSpec): string {
  const lines = spec.network.dns.map((d) => `nameserver ${d.text}`);
  if (spec.network.search.length > 0) lines.push(`search ${spec.network.search.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** /etc/resolv.conf from the spec's DNS servers; left as the rootfs has it when the spec names none. */
export function applyResolvConf(spec: InstanceSpec): StepResult {
  if (spec.network.dns.length === 0) return skipped('no DNS servers in spec');
  return writeIfChanged('/etc/resolv.conf', resolvConf(spec)) ? done('/etc/resolv.conf') : skipped('already written');
}
