// The boot's pure parts, run on a spec and changing nothing, for the build's code cache: it holds only
// the functions compiled before it is written, and these otherwise compile only while PID 1 boots.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeConfigDrive, findConfigDrive, specDriveFromCmdline } from '../instance/config-drive.js';
import type { InstanceSpec } from '../instance/spec.js';
import { findSpec, hasFwCfgDevice } from '../instance/spec-source.js';
import { splitOptions } from '../os/mount-options.js';
import { mountAt, readMountInfo } from '../os/mountinfo.js';
import { networkOf } from '../os/netlink/ip-address.js';
import { RTM, decodeLink, decodeMessages, getLinkByName, newAddress, newRoute, setLink } from '../os/netlink/messages.js';
import { cgroupPlan, setUpCgroups } from './cgroup.js';
import { writeIfChanged } from './files.js';
import { hostsFile } from './hostname.js';
import { withDnsCacheAddress } from './network.js';
import { resolvConf } from './resolv.js';
import { loadModules, loaded } from './modules.js';
import { mountExtra } from './mounts.js';
import { applyRlimits, defaultRlimits } from './rlimits.js';
import { applySysctls, dockerSysctls } from './sysctl.js';

export function runPureBootParts(spec: InstanceSpec): void {
  // Steps given nothing to do return before any system call.
  mountExtra([]);
  applySysctls({});
  applyRlimits({});
  loadModules([]);
  mountAt(readMountInfo(), '/');
  for (const m of spec.mounts) splitOptions(m.options);
  cgroupPlan({ realRoot: false, inLeaf: false, offered: ['cpu', 'memory'], enabled: [] });
  dockerSysctls(spec);
  defaultRlimits();
  hostsFile(spec.hostname ?? 'guest', spec);
  resolvConf(spec);
  const requests: Buffer[] = [];
  for (const [index, i] of withDnsCacheAddress(spec).entries()) {
    requests.push(getLinkByName(requests.length, i.name), setLink(requests.length, index, true, i.mtu));
    for (const a of i.addresses) requests.push(newAddress(requests.length, index, a, a.prefixLength));
    for (const r of i.routes) requests.push(newRoute(requests.length, { family: r.to.family, destination: networkOf(r.to), gateway: r.via, outputIndex: index }));
    if (i.gateway !== undefined) requests.push(newRoute(requests.length, { family: i.gateway.family, gateway: i.gateway, outputIndex: index }));
  }
  for (const m of decodeMessages(Buffer.concat(requests))) if (m.type === RTM.NEWLINK) decodeLink(m);
}

/**
 * The boot steps' file reading and writing run on stand-in files in `dir` (an empty scratch
 * directory): the spec's search with a spec file's path, a config drive found by its header, a
 * cgroup tree with every controller enabled already, /etc/hosts written. Each function is compiled
 * whole at its first call, so one call each is enough.
 */
export function runBootFilePartsIn(dir: string, specText: string): void {
  writeFileSync(join(dir, 'instance.json'), specText);
  findSpec(join(dir, 'instance.json'), () => undefined);
  mkdirSync(join(dir, 'block', 'vdz'), { recursive: true });
  writeFileSync(join(dir, 'vdz'), encodeConfigDrive(specText));
  findConfigDrive(join(dir, 'block'), dir);
  specDriveFromCmdline('console=ttyS0 concierge.specdrive=vdz');
  hasFwCfgDevice(dir);
  loaded('qemu_fw_cfg', dir);
  mkdirSync(join(dir, 'cgroup'));
  for (const file of ['cgroup.controllers', 'cgroup.subtree_control']) writeFileSync(join(dir, 'cgroup', file), 'cpu memory pids\n');
  setUpCgroups(join(dir, 'cgroup'));
  writeIfChanged(join(dir, 'hosts'), '127.0.0.1\tlocalhost\n');
}
