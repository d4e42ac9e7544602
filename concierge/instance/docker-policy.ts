// A workload's `dockerPolicy`: what the siblings it creates through its docker socket may ask for beyond
// an ordinary container. Path translation, escape blocking and ownership scoping hold under every policy;
// the policy only widens what a create body may carry. In a one-job microVM the VM is the trust boundary,
// so "trusted" is a sane choice for jobs that need `--privileged`, host namespaces or devices.
import { SpecError } from './spec-fields.js';

export interface DockerPolicy {
  /** "isolated", "trusted", or "custom" for an object of switches: refusals name it. */
  name: string;
  privileged: boolean;
  /** Capabilities that may be added (upper case, without CAP_), or ['ALL']. */
  capAdd: readonly string[];
  /** Devices, device requests and device cgroup rules. */
  devices: boolean;
  /** host (or another container's) PID, IPC, UTS, user, cgroup namespaces, and the host network. */
  hostNamespaces: boolean;
  securityOpt: boolean;
  sysctls: boolean;
  cgroupParent: boolean;
  /** Runtimes besides runc, or ['ALL']. */
  runtimes: readonly string[];
  /** Network and log drivers beyond the built-in ones, or ['ALL']. */
  drivers: readonly string[];
}

export const ISOLATED: DockerPolicy = {
  name: 'isolated', privileged: false, capAdd: [], devices: false, hostNamespaces: false,
  securityOpt: false, sysctls: false, cgroupParent: false, runtimes: [], drivers: [],
};

export const TRUSTED: DockerPolicy = {
  name: 'trusted', privileged: true, capAdd: ['ALL'], devices: true, hostNamespaces: true,
  securityOpt: true, sysctls: true, cgroupParent: true, runtimes: ['ALL'], drivers: ['ALL'],
};

const SWITCHES = ['privileged', 'devices', 'hostNamespaces', 'securityOpt', 'sysctls', 'cgroupParent'] as const;
const LISTS = ['capAdd', 'runtimes', 'drivers'] as const;

/** Validates a `dockerPolicy` value; `where` names the field in messages (e.g. "workload job: dockerPolicy"). */
export function parseDockerPolicy(value: unknown, where: string): DockerPolicy {
  if (value === 'isolated') return ISOLATED;
  if (value === 'trusted') return TRUSTED;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SpecError(`${where}: expected "isolated", "trusted" or an object of switches (${[...SWITCHES, ...LISTS].join(', ')})`);
  }
  const o = value as Record<string, unknown>;
  const policy: { -readonly [K in keyof DockerPolicy]: DockerPolicy[K] } = { ...ISOLATED, name: 'custom' };
  for (const [key, v] of Object.entries(o)) {
    if ((SWITCHES as readonly string[]).includes(key)) {
      if (typeof v !== 'boolean') throw new SpecError(`${where}.${key}: expected a boolean`);
      policy[key as (typeof SWITCHES)[number]] = v;
    } else if ((LISTS as readonly string[]).includes(key)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(x))) {
        throw new SpecError(`${where}.${key}: expected an array of names (or ["ALL"])`);
      }
      const names = v as string[];
      policy[key as (typeof LISTS)[number]] = key === 'capAdd' ? names.map((c) => c.toUpperCase().replace(/^CAP_/, '')) : names;
    } else {
      throw new SpecError(`${where}: unknown field "${key}"`);
    }
  }
  return policy;
}
