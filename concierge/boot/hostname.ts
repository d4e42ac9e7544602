import { hostname as currentHostname } from 'node:os';
import { sys } from '../sys/index.js';
import { writeIfChanged } from './files.js';
import type { InstanceSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

export function hostsFile(name: string, spec: InstanceSpec): string {
  const own = spec.network.interfaces.flatMap((i) => i.addresses).map((a) => `${a.text}\t${name}`);
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    ...(own.length > 0 ? own : [`127.0.1.1\t${name}`]),
    '',
  ].join('\n');
}

/** The UTS hostname, and /etc/hosts naming it (so the guest resolves its own name without DNS). */
export function applyHostname(spec: InstanceSpec): StepResult {
  const name = spec.hostname;
  if (name === undefined) return skipped('no hostname in spec');
  const actions: string[] = [];
  if (currentHostname() !== name) {
    sys.sethostname(name);
    actions.push(`hostname ${name}`);
  }
  if (writeIfChanged('/etc/hosts', hostsFile(name, spec))) actions.push('/etc/hosts');
  return actions.length === 0 ? skipped('already set') : done(actions.join(', '));
}
