import { isObject, isString, type JsonObject, type JsonValue, JsonNumber, showJson } from './gojson.js';
import { type PrivilegePolicy, Refused } from './caller.js';

function refuse(field: string, why: string): never {
  throw new Refused(403, `concierge: ${field} is not allowed for this workload's siblings (${why})`);
}

function nonEmpty(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return v.entries.length > 0;
  if (v instanceof JsonNumber) return Number(v.literal) !== 0;
  return true;
}

const NAMESPACE_FIELDS = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode'] as const;

/** Enforces the workload's privilege policy on a HostConfig (brief 4.9); names the refused field. */
export function enforcePolicy(hc: JsonObject, policy: PrivilegePolicy): void {
  const privileged = hc.field('Privileged');
  if (privileged === true && !policy.privileged) refuse('HostConfig.Privileged', 'privileged containers are off');
  const capAdd = hc.field('CapAdd');
  if (Array.isArray(capAdd) && capAdd.length > 0 && !policy.capAdd.includes('ALL')) {
    for (const cap of capAdd) {
      const name = isString(cap) ? cap.toUpperCase().replace(/^CAP_/, '') : '';
      if (!policy.capAdd.includes(name)) refuse('HostConfig.CapAdd', `capability ${showJson(cap)} is not in the allowed list`);
    }
  } else if (capAdd !== undefined && capAdd !== null && !Array.isArray(capAdd) && !policy.capAdd.includes('ALL')) {
    // Go's StrSlice also accepts a single string.
    refuse('HostConfig.CapAdd', 'capabilities are not in the allowed list');
  }
  for (const field of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) {
    if (nonEmpty(hc.field(field)) && !policy.devices) refuse(`HostConfig.${field}`, 'device access is off');
  }
  for (const field of NAMESPACE_FIELDS) {
    const mode = hc.field(field);
    if (mode === 'host' && !policy.hostNamespaces) refuse(`HostConfig.${field}`, 'host namespaces are off');
  }
  if (nonEmpty(hc.field('SecurityOpt')) && !policy.securityOpt) refuse('HostConfig.SecurityOpt', 'security options are off');
  if (nonEmpty(hc.field('Sysctls')) && !policy.sysctls) refuse('HostConfig.Sysctls', 'sysctls are off');
  if (nonEmpty(hc.field('CgroupParent')) && !policy.cgroupParent) refuse('HostConfig.CgroupParent', 'cgroup parents are off');
  const runtime = hc.field('Runtime');
  if (nonEmpty(runtime) && !(isString(runtime) && (runtime === 'runc' || policy.runtimes.includes(runtime)))) {
    refuse('HostConfig.Runtime', `runtime ${showJson(runtime)} is not allowed`);
  }
  // An empty mask list turns off dockerd's masking of /proc/kcore and friends.
  for (const field of ['MaskedPaths', 'ReadonlyPaths']) {
    const v = hc.field(field);
    if (Array.isArray(v) && !policy.privileged) refuse(`HostConfig.${field}`, 'overriding masked paths needs the privileged policy');
  }
}
