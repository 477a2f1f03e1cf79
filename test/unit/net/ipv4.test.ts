// daemon/net/ipv4.ts: the one set of IPv4 rules, as a table of accepted and refused inputs.
import { describe, expect, it } from 'vitest';
import {
  contains,
  formatCidr,
  formatIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
  parseSubnet,
  parseSubnetKeyName,
  prefixMask,
  requireIpv4,
  requireSubnet,
  subnetKeyName,
  subnetOf,
  within,
} from '../../../daemon/net/ipv4.js';

const ACCEPTED_ADDRESSES: [string, number][] = [
  ['0.0.0.0', 0],
  ['10.244.1.0', 0x0af40100],
  ['198.18.0.1', 0xc6120001],
  ['255.255.255.255', 0xffffffff],
  ['1.0.10.100', 0x01000a64],
];

const REFUSED_ADDRESSES: [string, string][] = [
  ['010.244.1.1', 'leading zero'],
  ['10.244.01.1', 'leading zero'],
  ['10.244.1.00', 'leading zeros'],
  ['0x0a.1.1.1', 'hex octet'],
  ['0x0a010101', 'hex number'],
  ['167772161', 'one decimal number'],
  ['012.1.1.1', 'octal form'],
  ['10.1', 'two octets (inet_aton short form)'],
  ['10.1.1', 'three octets'],
  ['10.1.1.1.1', 'five octets'],
  ['256.1.1.1', 'octet above 255'],
  ['10.244.1.999', 'octet above 255'],
  ['1000.1.1.1', 'four digits'],
  ['10..1.1', 'empty octet'],
  ['.10.1.1', 'empty first octet'],
  ['10.1.1.', 'empty last octet'],
  ['', 'empty'],
  [' 10.1.1.1', 'leading space'],
  ['10.1.1.1 ', 'trailing space'],
  ['10.1.1.1\n', 'trailing newline'],
  ['10. 1.1.1', 'inner space'],
  ['+10.1.1.1', 'sign'],
  ['10.1.1.-1', 'negative'],
  ['१०.1.1.1', 'non-ASCII digits'],
  ['::ffff:10.1.1.1', 'IPv4-mapped IPv6'],
  ['fd00::1', 'IPv6'],
  ['10.1.1.1/32', 'a CIDR'],
];

describe('parseIpv4', () => {
  it.each(ACCEPTED_ADDRESSES)('accepts %s', (text, value) => {
    expect(parseIpv4(text)).toBe(value);
    expect(formatIpv4(value)).toBe(text);
    expect(requireIpv4('f', text)).toBe(value);
  });

  it.each(REFUSED_ADDRESSES)('refuses %j (%s)', (text) => {
    expect(parseIpv4(text)).toBeNull();
    expect(() => requireIpv4('--public-ip', text)).toThrow(/--public-ip: '.*' is not an IPv4 address/s);
  });
});

const REFUSED_CIDRS: [string, string][] = [
  ['10.244.0.0', 'no length'],
  ['10.244.0.0/', 'empty length'],
  ['10.244.0.0/33', 'prefix > 32'],
  ['10.244.0.0/99', 'prefix > 32'],
  ['10.244.0.0/016', 'leading zero in the length'],
  ['10.244.0.0/08', 'leading zero in the length'],
  ['10.244.0.0/0x10', 'hex length'],
  ['10.244.0.0/-1', 'negative length'],
  ['10.244.0.0/ 16', 'space'],
  ['10.244.0.0 /16', 'space'],
  ['010.244.0.0/16', 'leading zero in an octet'],
  ['0x0a.244.0.0/16', 'hex octet'],
  ['10.244.0/16', 'three octets'],
  ['10.244.0.0/16/1', 'two slashes'],
  ['fd00::/64', 'IPv6'],
  ['/16', 'no address'],
];

describe('parseCidr (address as written) and parseSubnet (a network)', () => {
  it.each([
    ['10.244.0.0/16', 0x0af40000, 16],
    ['10.244.1.1/24', 0x0af40101, 24],
    ['0.0.0.0/0', 0, 0],
    ['198.18.0.1/32', 0xc6120001, 32],
    ['10.0.0.0/8', 0x0a000000, 8],
  ])('parseCidr accepts %s', (text, ip, len) => {
    expect(parseCidr(text)).toEqual({ ip, len });
  });

  it.each(REFUSED_CIDRS)('refuses %j (%s)', (text) => {
    expect(parseCidr(text)).toBeNull();
    expect(parseSubnet(text)).toBeNull();
  });

  it.each([
    ['10.244.1.1/24', 'host bits set'],
    ['10.244.0.0/8', 'host bits set'],
    ['0.0.0.1/0', 'host bits set in /0'],
    ['10.244.1.129/25', 'host bits set'],
  ])('parseSubnet refuses %s (%s); subnetOf clears them', (text) => {
    expect(parseSubnet(text)).toBeNull();
    expect(() => requireSubnet('network', text)).toThrow(/network: '.*' is not an IPv4 network \(expected a\.b\.c\.d\/len with host bits zero\)/);
    const cleared = subnetOf(parseCidr(text)!);
    expect(parseSubnet(formatCidr(cleared))).toEqual(cleared);
  });

  it('parseSubnet accepts networks, uint32 based', () => {
    expect(parseSubnet('10.244.0.0/16')).toEqual({ base: 0x0af40000, len: 16 });
    expect(parseSubnet('255.255.255.255/32')).toEqual({ base: 0xffffffff, len: 32 });
    expect(parseSubnet('0.0.0.0/0')).toEqual({ base: 0, len: 0 });
    expect(subnetOf(parseCidr('10.244.1.1/24')!)).toEqual({ base: 0x0af40100, len: 24 });
    expect(formatCidr({ base: 0x0af40100, len: 24 })).toBe('10.244.1.0/24');
  });
});

describe('subnet arithmetic', () => {
  const net = parseSubnet('10.244.0.0/16')!;
  const sub = parseSubnet('10.244.7.0/24')!;
  it('masks as int32', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(16)).toBe(0xffff0000 | 0);
    expect(prefixMask(32)).toBe(-1);
  });
  it('contains, overlaps, within', () => {
    expect(contains(net, parseIpv4('10.244.255.1')!)).toBe(true);
    expect(contains(net, parseIpv4('10.245.0.1')!)).toBe(false);
    expect(overlaps(net, sub) && overlaps(sub, net)).toBe(true);
    expect(overlaps(sub, parseSubnet('10.244.8.0/24')!)).toBe(false);
    expect(within(sub, net)).toBe(true);
    expect(within(net, sub)).toBe(false);
    expect(within(parseSubnet('10.245.0.0/24')!, net)).toBe(false);
  });
});

describe("Flannel's subnet key names", () => {
  it('round-trips 10.244.1.0-24 under any prefix', () => {
    expect(subnetKeyName({ base: 0x0af40100, len: 24 })).toBe('10.244.1.0-24');
    expect(parseSubnetKeyName('/coreos.com/network/subnets/10.244.1.0-24')).toEqual({ base: 0x0af40100, len: 24 });
    expect(parseSubnetKeyName('10.244.1.0-24')).toEqual({ base: 0x0af40100, len: 24 });
  });
  it.each(['10.244.1.0-24&fc00::-64', '10.244.1.1-24', '010.244.1.0-24', '10.244.1.0-33', '10.244.1.0-024', 'x10.244.1.0-24', '10.244.1.0', 'subnets/'])('refuses %s', (key) => {
    expect(parseSubnetKeyName(key)).toBeNull();
  });
});
