import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseIp } from './ip-address.js';

describe('parseIp', () => {
  const family = (text: string): number => {
    try {
      return parseIp(text).family;
    } catch {
      return 0;
    }
  };

  it('accepts and refuses exactly what net.isIP does', () => {
    const samples = [
      '0.0.0.0', '10.0.2.15', '255.255.255.255', '192.0.2.53', '1.2.3.4', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04',
      '1.2.3.00', '1..3.4', '1.2.3.', '.1.2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4/24', '1e1.2.3.4', '0x1.2.3.4', '+1.2.3.4',
      '١.2.3.4', '1.2.3.999', '999.1.1.1', '', '::', '::1', 'fe80::1', '2001:db8::1', '::ffff:1.2.3.4', '1::2::3', 'fe80::1%eth0',
      'localhost', '1.2.3.4:53', 'abc',
    ];
    for (const text of samples) expect([text, family(text)]).toEqual([text, isIP(text)]);
  });

  it('gives network-order bytes', () => {
    expect([...parseIp('192.0.2.53').bytes]).toEqual([192, 0, 2, 53]);
    expect(parseIp('::1').bytes.at(-1)).toBe(1);
  });
});
