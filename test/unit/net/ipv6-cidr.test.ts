// daemon/net/ipv6-cidr.ts: IPv6 rules as a table of accepted and refused inputs, and RFC 5952
// formatting checked against ipaddr.js on random addresses.
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { formatCidr6, formatIpv6, parseCidr6, parseIpv6, parseSubnet6, prefixMask6, subnetOf6, within6 } from '../../../daemon/net/ipv6-cidr.js';

const ACCEPTED: [string, bigint][] = [
  ['::', 0n],
  ['::1', 1n],
  ['fd00:10:244::', 0xfd000010024400000000000000000000n],
  ['FD00:10:244:1::1', 0xfd000010024400010000000000000001n],
  ['fd00:0010:0244:0001:0000:0000:0000:0002', 0xfd000010024400010000000000000002n],
  ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
  ['::2:3:4:5:6:7:8', 0x00000002000300040005000600070008n],
  ['::ffff:10.244.1.2', 0xffff0af40102n],
  ['64:ff9b::198.18.0.1', 0x0064ff9b0000000000000000c6120001n],
];

const REFUSED: [string, string][] = [
  ['', 'empty'],
  [':', 'lone colon'],
  [':::', 'triple colon'],
  ['1::2::3', 'two gaps'],
  ['1:2:3:4:5:6:7:8:9', 'nine groups'],
  ['1:2:3:4:5:6:7', 'seven groups, no gap'],
  ['1:2:3:4:5:6:7::8', 'a gap standing for no group'],
  [':1::2', 'leading single colon'],
  ['1::2:', 'trailing single colon'],
  ['fd00::12345', 'five hex digits'],
  ['fd00::g', 'not hex'],
  ['fd00::1%eth0', 'zone'],
  ['[fd00::1]', 'brackets'],
  [' fd00::1', 'whitespace'],
  ['10.244.1.2', 'IPv4'],
  ['::010.244.1.2', 'dotted quad with a leading zero'],
  ['1.2.3.4::', 'dotted quad before the gap'],
  ['::1.2.3.4:5', 'dotted quad not last'],
  ['+1::', 'sign'],
];

describe('parseIpv6', () => {
  it.each(ACCEPTED)('accepts %s', (s, v) => expect(parseIpv6(s)).toBe(v));
  it.each(REFUSED)('refuses %j (%s)', (s) => expect(parseIpv6(s)).toBeNull());
});

describe('formatIpv6 (RFC 5952)', () => {
  it.each([
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays 0
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
    ['0:0:0:0:0:0:0:0', '::'],
    ['fd00:10:244:1:0:0:0:0', 'fd00:10:244:1::'],
    ['FD00:00AB::', 'fd00:ab::'],
  ])('%s → %s', (s, want) => expect(formatIpv6(parseIpv6(s)!)).toBe(want));

  it('agrees with ipaddr.js on random addresses with zero runs', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let i = 0; i < 2000; i++) {
      const g = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(0x10000)));
      const text = g.map((x) => x.toString(16)).join(':');
      const v = parseIpv6(text)!;
      expect(formatIpv6(v)).toBe(ipaddr.IPv6.parse(text).toRFC5952String());
      expect(parseIpv6(formatIpv6(v))).toBe(v);
    }
  });
});

describe('CIDRs and subnets', () => {
  it('parses a CIDR with host bits as written, and its subnet', () => {
    const c = parseCidr6('fd00:10:244:1::1/64')!;
    expect(c).toEqual({ ip: 0xfd000010024400010000000000000001n, len: 64 });
    expect(formatCidr6(subnetOf6(c))).toBe('fd00:10:244:1::/64');
    expect(formatCidr6(subnetOf6(parseCidr6('fd00:10:244:1::1/0')!))).toBe('::/0');
    expect(formatCidr6(subnetOf6(parseCidr6('fd00::1/128')!))).toBe('fd00::1/128');
  });

  it.each(['fd00::/129', 'fd00::/064', 'fd00::/', 'fd00::', 'fd00::/-1', 'fd00::/6 4', '10.244.0.0/16'])('refuses the CIDR %j', (s) => expect(parseCidr6(s)).toBeNull());

  it('parseSubnet6 refuses host bits', () => {
    expect(parseSubnet6('fd00:10:244::/56')).toEqual({ base: 0xfd000010024400000000000000000000n, len: 56 });
    expect(parseSubnet6('fd00:10:244:1::1/64')).toBeNull();
  });

  it('within6 and prefixMask6', () => {
    const net = parseSubnet6('fd00:10:244::/56')!;
    expect(within6(parseSubnet6('fd00:10:244:ff::/64')!, net)).toBe(true);
    expect(within6(parseSubnet6('fd00:10:244:100::/64')!, net)).toBe(false);
    expect(within6(parseSubnet6('fd00:10::/48')!, net)).toBe(false);
    expect(prefixMask6(0)).toBe(0n);
    expect(prefixMask6(128)).toBe((1n << 128n) - 1n);
    expect(prefixMask6(8)).toBe(0xffn << 120n);
  });
});
