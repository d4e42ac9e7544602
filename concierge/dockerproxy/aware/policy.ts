import { isObject, isString, type JsonObject, type JsonValue, JsonNumber, showJson } from './gojson.js';
import { type PrivilegePolicy } from './caller.js';
import { ProxyError } from '../errors.js';

/** A refusal naming the workload's dockerPolicy (the one answer no dockerd would give). */
export function refusal(policy: PrivilegePolicy, field: string, why: string): ProxyError {
  return new ProxyError(403, `concierge: ${field} is not allowed by this workload's dockerPolicy "${policy.name}" (${why})`);
}

export function refuse(policy: PrivilegePolicy, field: string, why: string): never {
  throw refusal(policy, field, why);
}

function nonEmpty(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return v.entries.length > 0;
  if (v instanceof JsonNumber) return Number(v.literal) !== 0;
  return true;
}

const NAMESPACE_FIELDS = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode'] as const;

/** Enforces the workload's privilege policy on a HostConfig; names the refused field. */
export function enforcePolicy(hc: JsonObject, policy: PrivilegePolicy): void {
  const privileged = hc.field('Privileged');
  if (privileged === true && !policy.privileged) refuse(policy, 'HostConfig.Privileged', 'privileged containers are off');
  const capAdd = hc.field('CapAdd');
  if (Array.isArray(capAdd) && capAdd.length > 0 && !policy.capAdd.includes('ALL')) {
    for (const cap of capAdd) {
      const name = isString(cap) ? cap.toUpperCase().replace(/^CAP_/, '') : '';
      if (!policy.capAdd.includes(name)) refuse(policy, 'HostConfig.CapAdd', `capability ${showJson(cap)} is not in the allowed list`);
    }
  } else if (capAdd !== undefined && capAdd !== null && !Array.isArray(capAdd) && !policy.capAdd.includes('ALL')) {
    // Go's StrSlice also accepts a single string.
    refuse(policy, 'HostConfig.CapAdd', 'capabilities are not in the allowed list');
  }
  for (const field of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) {
    if (nonEmpty(hc.field(field)) && !policy.devices) refuse(policy, `HostConfig.${field}`, 'device access is off');
  }
  for (const field of NAMESPACE_FIELDS) {
    const mode = hc.field(field);
    if (mode === 'host' && !policy.hostNamespaces) refuse(policy, `HostConfig.${field}`, 'host namespaces are off');
  }
  if (nonEmpty(hc.field('SecurityOpt')) && !policy.securityOpt) refuse(policy, 'HostConfig.SecurityOpt', 'security options are off');
  if (nonEmpty(hc.field('Sysctls')) && !policy.sysctls) refuse(policy, 'HostConfig.Sysctls', 'sysctls are off');
  if (nonEmpty(hc.field('CgroupParent')) && !policy.cgroupParent) refuse(policy, 'HostConfig.CgroupParent', 'cgroup parents are off');
  const runtime = hc.field('Runtime');
  if (nonEmpty(runtime) && !(isString(runtime) && (runtime === 'runc' || policy.runtimes.includes('ALL') || policy.runtimes.includes(runtime)))) {
    refuse(policy, 'HostConfig.Runtime', `runtime ${showJson(runtime)} is not allowed`);
  }
  // An empty mask list turns off dockerd's masking of /proc/kcore and friends.
  for (const field of ['MaskedPaths', 'ReadonlyPaths']) {
    const v = hc.field(field);
    if (Array.isArray(v) && !policy.privileged) refuse(policy, `HostConfig.${field}`, 'overriding masked paths needs the privileged policy');
  }
}
