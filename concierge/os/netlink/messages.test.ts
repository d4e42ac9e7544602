import { describe, expect, it } from 'vitest';
import { parseIp, parsePrefix, networkOf } from './ip-address.js';
import {
  IFA, IFLA, NLM_F, RTA, RTM, decodeAttributes, decodeLink, decodeMessages, encodeMessage, errorCode,
  getLinkByName, newAddress, newRoute, setLink, stringAttr, u32Attr,
} from './messages.js';

describe('ip addresses', () => {
  it('parses IPv4 and IPv6 (with :: and a dotted tail) to network-order bytes', () => {
    expect(parseIp('10.0.2.15').bytes).toEqual(Buffer.from([10, 0, 2, 15]));
    expect(parseIp('fd00::1').bytes.toString('hex')).toBe('fd000000000000000000000000000001');
    expect(parseIp('::').bytes.toString('hex')).toBe('0'.repeat(32));
    expect(parseIp('::ffff:1.2.3.4').bytes.toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(parseIp('1:2:3:4:5:6:7:8').bytes.toString('hex')).toBe('00010002000300040005000600070008');
  });
  it('refuses what is not an address or a prefix', () => {
    expect(() => parseIp('10.0.0.256')).toThrow(/not an IP address/);
    expect(() => parsePrefix('10.0.0.1')).toThrow(/prefix length/);
    expect(() => parsePrefix('10.0.0.1/33')).toThrow(/0-32/);
    expect(() => parsePrefix('fd00::1/129')).toThrow(/0-128/);
  });
  it('clears host bits for a network', () => {
    expect(networkOf(parsePrefix('10.1.2.3/20')).bytes).toEqual(Buffer.from([10, 1, 0, 0]));
  });
});

describe('netlink encoding', () => {
  it('writes the header, the fixed part and 4-byte aligned attributes', () => {
    const m = encodeMessage(RTM.GETLINK, NLM_F.REQUEST, 7, Buffer.alloc(16), [stringAttr(IFLA.IFNAME, 'eth0')]);
    // 16 header + 16 ifinfomsg + (4 + "eth0\0" = 9 -> 12)
    expect(m.length).toBe(44);
    expect(m.readUInt32LE(0)).toBe(44);
    expect(m.readUInt16LE(4)).toBe(RTM.GETLINK);
    expect(m.readUInt16LE(6)).toBe(NLM_F.REQUEST);
    expect(m.readUInt32LE(8)).toBe(7);
    expect(m.readUInt16LE(32)).toBe(9);
    expect(m.readUInt16LE(34)).toBe(IFLA.IFNAME);
    expect(m.subarray(36, 41).toString()).toBe('eth0\0');
    expect(getLinkByName(7, 'eth0')).toEqual(m);
  });

  it('sets a link up with its MTU', () => {
    const m = setLink(3, 5, true, 1400);
    const [msg] = decodeMessages(m);
    expect(msg?.type).toBe(RTM.NEWLINK);
    expect(msg?.flags).toBe(NLM_F.REQUEST | NLM_F.ACK);
    expect(msg?.payload.readInt32LE(4)).toBe(5);
    expect(msg?.payload.readUInt32LE(8)).toBe(1); // IFF_UP
    expect(msg?.payload.readUInt32LE(12)).toBe(1); // change mask
    expect(decodeAttributes(msg!.payload.subarray(16)).get(IFLA.MTU)?.readUInt32LE(0)).toBe(1400);
  });

  it('adds an IPv4 address with IFA_LOCAL and IFA_ADDRESS, create-or-replace', () => {
    const [msg] = decodeMessages(newAddress(4, 2, parseIp('10.0.2.15'), 24));
    expect(msg?.flags).toBe(NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE);
    expect([...msg!.payload.subarray(0, 4)]).toEqual([2, 24, 0, 0]);
    expect(msg?.payload.readUInt32LE(4)).toBe(2);
    const attrs = decodeAttributes(msg!.payload.subarray(8));
    expect(attrs.get(IFA.LOCAL)).toEqual(Buffer.from([10, 0, 2, 15]));
    expect(attrs.get(IFA.ADDRESS)).toEqual(Buffer.from([10, 0, 2, 15]));
  });

  it('adds an IPv6 address without duplicate address detection', () => {
    const [msg] = decodeMessages(newAddress(4, 2, parseIp('fd00::2'), 64));
    expect([...msg!.payload.subarray(0, 3)]).toEqual([10, 64, 0x02]);
    expect(decodeAttributes(msg!.payload.subarray(8)).has(IFA.LOCAL)).toBe(false);
  });

  it('adds a default route through a gateway and an on-link route', () => {
    const [viaGateway] = decodeMessages(newRoute(9, { family: 4, gateway: parseIp('10.0.2.2'), outputIndex: 3 }));
    expect([...viaGateway!.payload.subarray(0, 8)]).toEqual([2, 0, 0, 0, 254, 3, 0, 1]);
    const attrs = decodeAttributes(viaGateway!.payload.subarray(12));
    expect(attrs.get(RTA.GATEWAY)).toEqual(Buffer.from([10, 0, 2, 2]));
    expect(attrs.get(RTA.OIF)?.readUInt32LE(0)).toBe(3);
    expect(attrs.has(RTA.DST)).toBe(false);

    const onLink = decodeMessages(newRoute(10, { family: 4, destination: networkOf(parsePrefix('10.9.0.0/16')), outputIndex: 3 }))[0]!;
    expect(onLink.payload.readUInt8(1)).toBe(16);
    expect(onLink.payload.readUInt8(6)).toBe(253); // link scope
    expect(decodeAttributes(onLink.payload.subarray(12)).get(RTA.DST)).toEqual(Buffer.from([10, 9, 0, 0]));
  });
});

describe('netlink decoding', () => {
  it('splits a datagram holding several messages and reads errors and links', () => {
    const ack = Buffer.alloc(20);
    ack.writeInt32LE(-17, 0); // -EEXIST
    const link = Buffer.concat([
      (() => { const b = Buffer.alloc(16); b.writeInt32LE(4, 4); b.writeUInt32LE(0x10043, 8); return b; })(),
    ]);
    const datagram = Buffer.concat([
      encodeMessage(2, 0, 1, ack),
      encodeMessage(RTM.NEWLINK, NLM_F.MULTI, 2, link, [stringAttr(IFLA.IFNAME, 'eth1'), u32Attr(IFLA.MTU, 9000)]),
    ]);
    const [error, linkMessage] = decodeMessages(datagram);
    expect(errorCode(error!)).toBe(17);
    expect(decodeLink(linkMessage!)).toEqual({ index: 4, flags: 0x10043, name: 'eth1', mtu: 9000 });
  });
  it('refuses a truncated message', () => {
    const m = encodeMessage(RTM.GETLINK, 0, 1, Buffer.alloc(16));
    expect(() => decodeMessages(m.subarray(0, 20))).toThrow(/truncated/);
  });
});
