import { dnsCacheAddress } from '../dns/address.js';
import type { InstanceSpec, InterfaceSpec } from '../instance/spec.js';
import { networkOf, parsePrefix } from '../os/netlink/ip-address.js';
import { IFF, decodeLink, getLinkByName, newAddress, newRoute, setLink, type LinkInfo } from '../os/netlink/messages.js';
import { RouteSocket } from '../os/netlink/route-socket.js';
import { done, skipped, type StepResult } from './step.js';

/**
 * Loopback up (by its own entry when the interfaces name it), then each interface of the spec: MTU and
 * up in one request, its addresses, then the routes (a gateway is only reachable once the address that
 * covers it exists). Addresses and routes are create-or-replace, so a step run twice changes nothing.
 */
export function configureNetwork(interfaces: InterfaceSpec[]): StepResult {
  const socket = new RouteSocket();
  try {
    const actions: string[] = [];
    if (!interfaces.some((i) => i.name === 'lo')) {
      const lo = link(socket, 'lo');
      if ((lo.flags & IFF.UP) === 0) {
        socket.request(setLink(socket.nextSeq(), lo.index, true), 'set lo up');
        actions.push('lo up');
      }
    }
    for (const i of interfaces) actions.push(...configureInterface(socket, i));
    return actions.length === 0 ? skipped('already configured') : done(actions.join(', '));
  } finally {
    socket.close();
  }
}

function link(socket: RouteSocket, name: string): LinkInfo {
  let answers;
  try {
    answers = socket.request(getLinkByName(socket.nextSeq(), name), `find interface ${name}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENODEV') throw new Error(`network interface ${name} (named in the spec) does not exist`);
    throw err;
  }
  const [first] = answers;
  if (first === undefined) throw new Error(`no answer for interface ${name}`);
  return decodeLink(first);
}

function configureInterface(socket: RouteSocket, spec: InterfaceSpec): string[] {
  const l = link(socket, spec.name);
  const actions: string[] = [];
  const mtu = spec.mtu !== undefined && spec.mtu !== l.mtu ? spec.mtu : undefined;
  if ((l.flags & IFF.UP) === 0 || mtu !== undefined) {
    socket.request(setLink(socket.nextSeq(), l.index, true, mtu), `set ${spec.name} up`);
    actions.push(`${spec.name} up${mtu === undefined ? '' : ` mtu ${mtu}`}`);
  }
  for (const a of spec.addresses) {
    socket.request(newAddress(socket.nextSeq(), l.index, a, a.prefixLength), `add ${a.text}/${a.prefixLength} to ${spec.name}`);
    actions.push(`${a.text}/${a.prefixLength}`);
  }
  for (const r of spec.routes) {
    const destination = networkOf(r.to);
    socket.request(newRoute(socket.nextSeq(), { family: r.to.family, destination, gateway: r.via, outputIndex: l.index }), `route ${r.to.text}/${r.to.prefixLength}`);
    actions.push(`route ${r.to.text}/${r.to.prefixLength}${r.via === undefined ? '' : ` via ${r.via.text}`}`);
  }
  if (spec.gateway !== undefined) {
    socket.request(newRoute(socket.nextSeq(), { family: spec.gateway.family, gateway: spec.gateway, outputIndex: l.index }), `default route via ${spec.gateway.text}`);
    actions.push(`default via ${spec.gateway.text}`);
  }
  return actions;
}

/**
 * The spec's interfaces plus the DNS cache's address on lo, when the spec names DNS servers (the
 * cache forwards to them; the guest, its workloads and dockerd's containers ask the cache).
 */
export function withDnsCacheAddress(spec: InstanceSpec): InterfaceSpec[] {
  if (spec.network.dns.length === 0) return spec.network.interfaces;
  const address = parsePrefix(`${dnsCacheAddress}/32`);
  const lo = spec.network.interfaces.find((i) => i.name === 'lo');
  const others = spec.network.interfaces.filter((i) => i.name !== 'lo');
  return [{ name: 'lo', routes: [], ...lo, addresses: [...(lo?.addresses ?? []), address] }, ...others];
}
