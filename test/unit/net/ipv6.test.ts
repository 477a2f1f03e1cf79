// The IPv6 vocabulary: strict parsing as Go's net.ParseIP reads addresses (minus zones), and output
// byte-equal to Go's net.IP.String(), which Flannel writes into keys, leases and subnet.env.
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  contains6,
  formatCidr6,
  formatIpv6,
  isIpv6,
  overlaps6,
  parseCidr6,
  parseIpv6,
  parseSubnet6,
  parseSubnetKeyName6,
  prefixMask6,
  requireIpv6,
  subnetKeyName6,
  subnetOf6,
} from '../../../daemon/net/ipv6.js';

const roundTrip = (s: string): string | null => {
  const v = parseIpv6(s);
  return v === null ? null : formatIpv6(v);
};

describe('IPv6 addresses', () => {
  it('parses every RFC 4291 text form Go accepts', () => {
    expect(parseIpv6('fd00:10:244:1::')).toBe(0xfd000010024400010000000000000000n);
    expect(parseIpv6('::')).toBe(0n);
    expect(parseIpv6('::1')).toBe(1n);
    expect(parseIpv6('FD00::A')).toBe(0xfd00000000000000000000000000000an);
    expect(parseIpv6('1:2:3:4:5:6:7:8')).toBe(0x00010002000300040005000600070008n);
    expect(parseIpv6('::ffff:10.0.0.1')).toBe(0xffff0a000001n);
    expect(parseIpv6('1:2:3:4:5:6:1.2.3.4')).toBe(0x00010002000300040005000601020304n);
    expect(parseIpv6('1:2:3:4:5:6:7::')).toBe(0x00010002000300040005000600070000n);
  });

  it('refuses zones, brackets, IPv4 alone, bad groups and impossible shapes', () => {
    for (const bad of ['fd00::1%eth0', '[fd00::1]', '1.2.3.4', '12345::', '1::2::3', ':1', '1:', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::g', ' ::1', '::010.0.0.1', '::1.2.3', '1:2:3:4:5:6:7:8::', '']) {
      expect(parseIpv6(bad), bad).toBeNull();
      expect(isIpv6(bad), bad).toBe(false);
    }
  });

  it("formats as Go's net.IP.String(): longest zero run (first of equals), no single-group '::', mapped as IPv4", () => {
    expect(roundTrip('fd00:0010:0244:0001:0000:0000:0000:0000')).toBe('fd00:10:244:1::');
    expect(roundTrip('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(roundTrip('1:0:0:2:0:0:3:4')).toBe('1::2:0:0:3:4');
    expect(roundTrip('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(roundTrip('::')).toBe('::');
    expect(roundTrip('1::')).toBe('1::');
    expect(roundTrip('::1')).toBe('::1');
    expect(roundTrip('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(roundTrip('::1.2.3.4')).toBe('::102:304');
    expect(roundTrip('FD00:198:18::A')).toBe('fd00:198:18::a');
  });

  it('agrees with ipaddr.js (RFC 5952) on 20,000 random addresses rich in zero runs, in every text form', () => {
    let x = 12345;
    const rand = (n: number): number => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n);
    for (let i = 0; i < 20_000; i++) {
      const bytes = Array.from({ length: 16 }, () => 0);
      for (let g = 0; g < 8; g++) {
        if (rand(3) === 0) continue;
        const v = rand(4) === 0 ? rand(16) : rand(65536);
        bytes[2 * g] = v >> 8;
        bytes[2 * g + 1] = v & 255;
      }
      const addr = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
      if (addr.isIPv4MappedAddress()) continue;
      const v = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
      expect(formatIpv6(v)).toBe(addr.toRFC5952String());
      expect(parseIpv6(addr.parts.map((g) => g.toString(16).padStart(4, '0')).join(':'))).toBe(v);
      expect(parseIpv6(addr.toNormalizedString())).toBe(v);
      expect(parseIpv6(addr.toRFC5952String())).toBe(v);
    }
  });

  it('requireIpv6 names the field and refuses IPv4-mapped addresses', () => {
    expect(requireIpv6('--public-ipv6', 'fd00:198:18::1')).toBe(0xfd000198001800000000000000000001n);
    expect(() => requireIpv6('--public-ipv6', 'fd00::1%eth0')).toThrow(/--public-ipv6: 'fd00::1%eth0' is not an IPv6 address/);
    expect(() => requireIpv6('--public-ipv6', '::ffff:198.18.0.1')).toThrow(/IPv4-mapped/);
  });
});

describe('IPv6 CIDRs and subnets', () => {
  it('parses CIDRs with host bits as written, subnets only without them', () => {
    expect(parseCidr6('fd00:10:244:1::1/64')).toEqual({ ip: 0xfd000010024400010000000000000001n, len: 64 });
    expect(subnetOf6(parseCidr6('fd00:10:244:1::1/64')!)).toEqual({ base: 0xfd000010024400010000000000000000n, len: 64 });
    expect(parseSubnet6('fd00:10:244::/56')).toEqual({ base: 0xfd000010024400000000000000000000n, len: 56 });
    expect(parseSubnet6('fd00:10:244::1/56')).toBeNull();
    for (const bad of ['fd00::/129', 'fd00::/064', 'fd00::', 'fd00::/', '10.0.0.0/8']) expect(parseCidr6(bad), bad).toBeNull();
    expect(formatCidr6(parseSubnet6('fd00:10:244::/56')!)).toBe('fd00:10:244::/56');
  });

  it('masks, containment and overlap', () => {
    expect(prefixMask6(0)).toBe(0n);
    expect(prefixMask6(128)).toBe((1n << 128n) - 1n);
    expect(prefixMask6(64)).toBe(((1n << 64n) - 1n) << 64n);
    const net = parseSubnet6('fd00:10:244::/56')!;
    expect(contains6(net, parseIpv6('fd00:10:244:ff::1')!)).toBe(true);
    expect(contains6(net, parseIpv6('fd00:10:244:100::')!)).toBe(false);
    expect(overlaps6(net, parseSubnet6('fd00:10:244:1::/64')!)).toBe(true);
    expect(overlaps6(parseSubnet6('fd00:10:244:2::/64')!, parseSubnet6('fd00:10:244:1::/64')!)).toBe(false);
  });

  it("names the IPv6 half of Flannel's key and parses it back (lower-case hex only, as Flannel's regex)", () => {
    const s = parseSubnet6('fd00:10:244:1::/64')!;
    expect(subnetKeyName6(s)).toBe('fd00:10:244:1::-64');
    expect(parseSubnetKeyName6('fd00:10:244:1::-64')).toEqual(s);
    expect(parseSubnetKeyName6('FD00:10:244:1::-64')).toBeNull();
    expect(parseSubnetKeyName6('fd00:10:244:1::1-64')).toBeNull();
  });
});
