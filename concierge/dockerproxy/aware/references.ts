/**
 * The references and drivers in a request body that reach beyond a container's own config: networks
 * a container joins, log and network drivers (a driver given as a name dockerd does not know is looked
 * up as a plugin socket), driver options naming host interfaces, sockets or paths, and exec's
 * privileges. Networks must be the caller's or shared; drivers built in unless the policy lists more (or ALL).
 */
import { type Caller, type PrivilegePolicy } from './caller.js';
import { ProxyError } from '../errors.js';
import { isObject, isString, type JsonObject, type JsonValue } from './gojson.js';
import type { Ownership } from './ownership.js';
import { refuse } from './policy.js';

/** Log drivers that keep logs with dockerd and talk to nothing else. */
const LOG_DRIVERS = new Set(['json-file', 'local', 'none']);
/** Network drivers built into dockerd that a caller may create networks with. */
const NETWORK_DRIVERS = new Set(['bridge', 'macvlan', 'ipvlan']);
/** Network modes that name no network of a caller. */
const BUILT_IN_MODES = new Set(['', 'default', 'bridge', 'none', 'host']);

function allowedDriver(name: string, builtIn: ReadonlySet<string>, policy: PrivilegePolicy): boolean {
  const extra = policy.drivers ?? [];
  return builtIn.has(name) || extra.includes('ALL') || extra.includes(name);
}

/** An option value that points at the guest's filesystem: a unix socket or a path. */
function namesHostPath(value: string): boolean {
  return /^(unix|unixgram|npipe|file):/i.test(value) || value.startsWith('/') || value.startsWith('.');
}

function stringEntries(v: JsonValue | undefined, field: string): Array<[string, string]> {
  if (v === undefined || v === null) return [];
  if (!isObject(v)) throw new ProxyError(400, `${field} must be an object`);
  return v.entries.map(([k, val]) => {
    if (!isString(val)) throw new ProxyError(400, `${field}.${k} must be a string`);
    return [k, val];
  });
}

/** HostConfig.LogConfig: a built-in driver and options that name no host socket or path. */
export function checkLogConfig(hc: JsonObject, policy: PrivilegePolicy): void {
  const lc = hc.field('LogConfig');
  if (lc === undefined || lc === null) return;
  if (!isObject(lc)) throw new ProxyError(400, 'HostConfig.LogConfig must be an object');
  const type = lc.field('Type');
  if (type !== undefined && type !== null && type !== '') {
    if (!isString(type) || !allowedDriver(type, LOG_DRIVERS, policy)) {
      refuse(policy, `HostConfig.LogConfig.Type ${JSON.stringify(type)}`, 'log drivers are the built-in json-file, local and none');
    }
  }
  for (const [k, v] of stringEntries(lc.field('Config'), 'HostConfig.LogConfig.Config')) {
    if (namesHostPath(v)) throw new ProxyError(403, `concierge: log option ${k}=${v} names a host socket or path`);
  }
}

/**
 * The networks a container joins: HostConfig.NetworkMode naming a network, and every key of
 * NetworkingConfig.EndpointsConfig, must be the caller's or a shared one (bridge, host, none).
 */
export async function checkNetworkingConfig(body: JsonObject, caller: Caller, ownership: Ownership): Promise<void> {
  const hc = body.field('HostConfig');
  if (isObject(hc)) {
    checkLogConfig(hc, caller.policy);
    const mode = hc.field('NetworkMode');
    if (isString(mode) && !BUILT_IN_MODES.has(mode) && !mode.startsWith('container:')) {
      await ownership.network(mode, { sharedAllowed: true });
    }
  }
  const nc = body.field('NetworkingConfig');
  if (nc === undefined || nc === null) return;
  if (!isObject(nc)) throw new ProxyError(400, 'NetworkingConfig must be an object');
  const endpoints = nc.field('EndpointsConfig');
  if (endpoints === undefined || endpoints === null) return;
  if (!isObject(endpoints)) throw new ProxyError(400, 'NetworkingConfig.EndpointsConfig must be an object');
  // The CLI names the container's network mode here ("default", "bridge"): those are no caller's network.
  for (const [network] of endpoints.entries) if (!BUILT_IN_MODES.has(network)) await ownership.network(network, { sharedAllowed: true });
}

/** Network create: a built-in driver and IPAM, no option naming a host interface. */
export function checkNetworkCreate(body: JsonObject, policy: PrivilegePolicy): void {
  const driver = body.field('Driver');
  if (driver !== undefined && driver !== null && driver !== '') {
    if (!isString(driver) || !allowedDriver(driver, NETWORK_DRIVERS, policy)) {
      refuse(policy, `network driver ${JSON.stringify(driver)}`, 'network drivers are the built-in bridge, macvlan and ipvlan');
    }
  }
  for (const [k, v] of stringEntries(body.field('Options'), 'Options')) {
    // macvlan/ipvlan `parent` and a bridge's name take over an interface of the guest.
    if (k === 'parent' || k === 'com.docker.network.bridge.name' || k.endsWith('.parent')) {
      throw new ProxyError(403, `concierge: network option ${k} names a host interface and is not allowed`);
    }
    if (namesHostPath(v)) throw new ProxyError(403, `concierge: network option ${k}=${v} names a host path`);
  }
  const ipam = body.field('IPAM');
  if (isObject(ipam)) {
    const ipamDriver = ipam.field('Driver');
    if (ipamDriver !== undefined && ipamDriver !== null && ipamDriver !== '' && ipamDriver !== 'default') {
      throw new ProxyError(403, `concierge: IPAM driver ${JSON.stringify(ipamDriver)} is not allowed`);
    }
  }
  for (const field of ['ConfigFrom', 'Ingress', 'Scope']) {
    const v = body.field(field);
    if (v !== undefined && v !== null && v !== false && v !== '' && v !== 'local') throw new ProxyError(403, `concierge: network ${field} is not allowed`);
  }
}

/** Exec creation obeys the same privilege policy as container creation. */
export function checkExecCreate(body: JsonValue, policy: PrivilegePolicy): void {
  if (body === null) return;
  if (!isObject(body)) throw new ProxyError(400, 'exec create body must be a JSON object');
  if (body.field('Privileged') === true && !policy.privileged) {
    refuse(policy, 'exec Privileged', 'privileged containers are off');
  }
}
