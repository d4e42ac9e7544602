import { isIPv6 } from 'node:net';

/** An IP address as the kernel wants it: family and network-order bytes. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Buffer;
  text: string;
}

/** An address with its prefix length ("10.0.2.15/24"). */
export interface IpPrefix extends IpAddress {
  prefixLength: number;
}

export function parseIp(text: string): IpAddress {
  const v4 = ipv4Bytes(text);
  if (v4 !== undefined) return { family: 4, bytes: v4, text };
  if (text.includes(':') && isIPv6(text)) return { family: 6, bytes: ipv6Bytes(text), text };
  throw new Error(`not an IP address: ${JSON.stringify(text)}`);
}

/**
 * A dotted quad exactly as net.isIPv4 accepts one (four decimal parts 0-255, no leading zeros), read by
 * hand: Node's regular expression is compiled at its first use, in the boot's spec step (0.67 ms of
 * the first spec read in a host profile).
 */
function ipv4Bytes(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = Buffer.alloc(4);
  for (const [i, part] of parts.entries()) {
    if (part.length === 0 || part.length > 3 || (part.length > 1 && part.startsWith('0'))) return undefined;
    for (let c = 0; c < part.length; c++) {
      const code = part.charCodeAt(c);
      if (code < 48 || code > 57) return undefined;
    }
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

export function parsePrefix(text: string): IpPrefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`not an address with a prefix length (a.b.c.d/n): ${JSON.stringify(text)}`);
  const address = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  const prefixLength = Number(lengthText);
  const max = address.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(lengthText) || prefixLength > max) {
    throw new Error(`prefix length of ${JSON.stringify(text)} must be 0-${max}`);
  }
  return { ...address, prefixLength };
}

/** Network address of a prefix (host bits cleared), as routes name their destination. */
export function networkOf(prefix: IpPrefix): IpPrefix {
  const bytes = Buffer.from(prefix.bytes);
  for (let bit = prefix.prefixLength; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  }
  return { ...prefix, bytes };
}

function ipv6Bytes(text: string): Buffer {
  // node:net has validated the syntax; expand "::" and a dotted IPv4 tail.
  let groups: string[];
  const [head = '', tail] = text.split('::');
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const withTail = (parts: string[]): string[] => {
    const last = parts[parts.length - 1];
    if (last === undefined || !last.includes('.')) return parts;
    const v4 = last.split('.').map(Number);
    return [...parts.slice(0, -1), (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16), (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)];
  };
  if (tail === undefined) {
    groups = withTail(parse(head));
  } else {
    const left = parse(head);
    const right = withTail(parse(tail));
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  }
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}
