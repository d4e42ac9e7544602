// rtnetlink messages, encoded and decoded in TypeScript (the addon only moves the bytes).
// Layouts from the kernel's uapi headers: nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, rtattr; host byte
// order (little-endian on every platform concierge runs on).
import type { IpAddress } from './ip-address.js';

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3 } as const;
export const RTM = { NEWLINK: 16, GETLINK: 18, NEWADDR: 20, GETADDR: 22, NEWROUTE: 24, GETROUTE: 26 } as const;
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
} as const;
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4 } as const;
export const IFA = { ADDRESS: 1, LOCAL: 2, FLAGS: 8 } as const;
export const IFA_F = { NODAD: 0x02, PERMANENT: 0x80 } as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6 } as const;
export const IFF = { UP: 0x1, LOOPBACK: 0x8, RUNNING: 0x40, LOWER_UP: 0x10000 } as const;
export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;
export const RTN_UNICAST = 1;

const HEADER = 16;

export interface Attribute {
  type: number;
  value: Buffer;
}

export interface Message {
  type: number;
  flags: number;
  seq: number;
  /** Bytes after the 16-byte header: the fixed family struct, then attributes. */
  payload: Buffer;
}

const align4 = (n: number): number => (n + 3) & ~3;

export function attr(type: number, value: Buffer): Attribute {
  return { type, value };
}
export const u32Attr = (type: number, n: number): Attribute => {
  const value = Buffer.alloc(4);
  value.writeUInt32LE(n);
  return { type, value };
};
export const stringAttr = (type: number, text: string): Attribute => ({ type, value: Buffer.from(`${text}\0`) });

export function encodeMessage(type: number, flags: number, seq: number, fixed: Buffer, attrs: Attribute[] = []): Buffer {
  const length = HEADER + align4(fixed.length) + attrs.reduce((n, a) => n + align4(4 + a.value.length), 0);
  const out = Buffer.alloc(length);
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  out.writeUInt32LE(0, 12); // nlmsg_pid: the kernel fills in ours
  fixed.copy(out, HEADER);
  let at = HEADER + align4(fixed.length);
  for (const a of attrs) {
    out.writeUInt16LE(4 + a.value.length, at);
    out.writeUInt16LE(a.type, at + 2);
    a.value.copy(out, at + 4);
    at += align4(4 + a.value.length);
  }
  return out;
}

/** Splits a received datagram into messages (several per datagram in dumps). */
export function decodeMessages(data: Buffer): Message[] {
  const messages: Message[] = [];
  let at = 0;
  while (at + HEADER <= data.length) {
    const length = data.readUInt32LE(at);
    if (length < HEADER || at + length > data.length) throw new Error(`truncated netlink message (${length} bytes at ${at})`);
    messages.push({
      type: data.readUInt16LE(at + 4),
      flags: data.readUInt16LE(at + 6),
      seq: data.readUInt32LE(at + 8),
      payload: data.subarray(at + HEADER, at + length),
    });
    at += align4(length);
  }
  return messages;
}

export function decodeAttributes(data: Buffer): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let at = 0;
  while (at + 4 <= data.length) {
    const length = data.readUInt16LE(at);
    if (length < 4) break;
    attrs.set(data.readUInt16LE(at + 2) & 0x3fff, data.subarray(at + 4, at + length));
    at += align4(length);
  }
  return attrs;
}

/** The errno of an NLMSG_ERROR (0 for an acknowledgement). */
export function errorCode(message: Message): number {
  return -message.payload.readInt32LE(0);
}

function ifinfomsg(index: number, flags: number, change: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF.UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** RTM_GETLINK for one interface by name. */
export function getLinkByName(seq: number, name: string): Buffer {
  return encodeMessage(RTM.GETLINK, NLM_F.REQUEST, seq, ifinfomsg(0, 0, 0), [stringAttr(IFLA.IFNAME, name)]);
}

/** RTM_NEWLINK changing an existing link: up (or down) and optionally its MTU. */
export function setLink(seq: number, index: number, up: boolean, mtu?: number): Buffer {
  const attrs = mtu === undefined ? [] : [u32Attr(IFLA.MTU, mtu)];
  return encodeMessage(RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK, seq, ifinfomsg(index, up ? IFF.UP : 0, IFF.UP), attrs);
}

export interface LinkInfo {
  index: number;
  flags: number;
  name: string;
  mtu: number;
}

export function decodeLink(message: Message): LinkInfo {
  const attrs = decodeAttributes(message.payload.subarray(16));
  const name = attrs.get(IFLA.IFNAME);
  return {
    index: message.payload.readInt32LE(4),
    flags: message.payload.readUInt32LE(8),
    name: name === undefined ? '' : name.subarray(0, Math.max(0, name.indexOf(0))).toString(),
    mtu: attrs.get(IFLA.MTU)?.readUInt32LE(0) ?? 0,
  };
}

const familyOf = (address: IpAddress): number => (address.family === 4 ? AF.INET : AF.INET6);

/**
 * RTM_NEWADDR, create-or-replace so a second boot step finds it done. IPv4 sets IFA_LOCAL too (the
 * kernel's "local" is the interface address; IFA_ADDRESS is the peer on point-to-point links).
 * IPv6 skips duplicate address detection: a microVM's link has no one else on it to collide with.
 */
export function newAddress(seq: number, index: number, address: IpAddress, prefixLength: number): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt8(familyOf(address), 0);
  fixed.writeUInt8(prefixLength, 1);
  fixed.writeUInt8(address.family === 6 ? IFA_F.NODAD : 0, 2);
  fixed.writeUInt8(RT_SCOPE.UNIVERSE, 3);
  fixed.writeUInt32LE(index, 4);
  const attrs = [attr(IFA.ADDRESS, address.bytes)];
  if (address.family === 4) attrs.unshift(attr(IFA.LOCAL, address.bytes));
  return encodeMessage(RTM.NEWADDR, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE, seq, fixed, attrs);
}

export interface RouteRequest {
  /** Destination network; absent for the default route. */
  destination?: IpAddress & { prefixLength: number };
  gateway?: IpAddress;
  family: 4 | 6;
  outputIndex: number;
}

/** RTM_NEWROUTE in the main table, create-or-replace; link scope when there is no gateway. */
export function newRoute(seq: number, route: RouteRequest): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt8(route.family === 4 ? AF.INET : AF.INET6, 0);
  fixed.writeUInt8(route.destination?.prefixLength ?? 0, 1);
  fixed.writeUInt8(RT_TABLE_MAIN, 4);
  fixed.writeUInt8(RTPROT_BOOT, 5);
  fixed.writeUInt8(route.gateway === undefined ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE, 6);
  fixed.writeUInt8(RTN_UNICAST, 7);
  const attrs: Attribute[] = [];
  if (route.destination !== undefined) attrs.push(attr(RTA.DST, route.destination.bytes));
  if (route.gateway !== undefined) attrs.push(attr(RTA.GATEWAY, route.gateway.bytes));
  attrs.push(u32Attr(RTA.OIF, route.outputIndex));
  return encodeMessage(RTM.NEWROUTE, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE, seq, fixed, attrs);
}
