import { dnsCacheAddress } from '../dns/address.js';
import { writeIfChanged } from './files.js';
import type { InstanceSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

/** The guest's resolvers: concierge's DNS cache, which forwards to the spec's servers. */
export function resolvConf(spec: InstanceSpec): string {
  const lines = spec.network.dns.length === 0 ? [] : [`nameserver ${dnsCacheAddress}`];
  if (spec.network.search.length > 0) lines.push(`search ${spec.network.search.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** /etc/resolv.conf pointing at the DNS cache when the spec names DNS servers; left as the rootfs has it otherwise. */
export function applyResolvConf(spec: InstanceSpec): StepResult {
  if (spec.network.dns.length === 0) return skipped('no DNS servers in spec');
  return writeIfChanged('/etc/resolv.conf', resolvConf(spec)) ? done('/etc/resolv.conf') : skipped('already written');
}
