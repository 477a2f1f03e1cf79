// Subnet6Index against a plain BigInt reference: for random networks, subnet lengths and
// addresses (inside, at the edges, outside by one bit), the index read from packet bytes is the
// reference's ((address − network) >> (128 − subnetLen)), or −1 outside.
import { describe, expect, it } from 'vitest';
import { Subnet6Index } from '../../../daemon/dataplane/subnet6-index.js';
import { parseIpv6, parseSubnet6, prefixMask6, type Subnet6 } from '../../../daemon/net/ipv6.js';

function bytesOf(v: bigint): Uint8Array {
  const u8 = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    u8[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return u8;
}

function reference(net: Subnet6, subnetLen: number, addr: bigint): number {
  if ((addr & prefixMask6(net.len)) !== net.base) return -1;
  return Number((addr - net.base) >> BigInt(128 - subnetLen));
}

let seed = 0x5eed;
const rand = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
};
const rand128 = (): bigint => {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 16n) | BigInt(rand(0x10000));
  return v;
};

describe('Subnet6Index', () => {
  it('indexes Flannel\u2019s default layout: fd00:10:244::/56 in /64s', () => {
    const ix = new Subnet6Index(parseSubnet6('fd00:10:244::/56')!, 64);
    expect(ix.size).toBe(256);
    const at = (s: string): number => ix.indexOf(bytesOf(parseIpv6(s)!), 0);
    expect(at('fd00:10:244::')).toBe(0);
    expect(at('fd00:10:244:5f::2')).toBe(0x5f);
    expect(at('fd00:10:244:ff:ffff:ffff:ffff:ffff')).toBe(255);
    expect(at('fd00:10:245::')).toBe(-1);
    expect(at('fd00:10:243:ff::')).toBe(-1);
    expect(ix.indexOfSubnet(parseSubnet6('fd00:10:244:5f::/64')!)).toBe(0x5f);
    expect(ix.indexOfSubnet(parseSubnet6('fd00:10:244:5e::/63')!)).toBe(-1);
  });

  it('agrees with a BigInt reference for random networks, lengths and addresses (fuzz)', () => {
    for (let round = 0; round < 400; round++) {
      const netLen = rand(65);
      const subnetLen = Math.min(64, netLen + rand(21));
      const net: Subnet6 = { base: rand128() & prefixMask6(netLen), len: netLen };
      const ix = new Subnet6Index(net, subnetLen);
      for (let k = 0; k < 50; k++) {
        let addr: bigint;
        const kind = rand(4);
        if (kind === 0) addr = rand128();
        else if (kind === 1) addr = net.base | (rand128() & ~prefixMask6(netLen));
        else if (kind === 2) addr = net.base | (~prefixMask6(netLen) & ((1n << 128n) - 1n)); // last address
        else addr = (net.base | (rand128() & ~prefixMask6(netLen))) ^ (netLen > 0 ? 1n << BigInt(128 - 1 - rand(netLen)) : 0n); // one network bit flipped
        const u8 = new Uint8Array(40);
        u8.set(bytesOf(addr), 24);
        expect(ix.indexOf(u8, 24), `${net.base.toString(16)}/${netLen} in /${subnetLen}: ${addr.toString(16)}`).toBe(reference(net, subnetLen, addr));
      }
    }
  });

  it('maps indexes to peer slots and refuses layouts the data plane cannot index', () => {
    const ix = new Subnet6Index(parseSubnet6('fd00:10:244::/56')!, 64);
    expect(ix.slotAt(3)).toBe(-1);
    ix.set(3, 7);
    expect(ix.slotAt(3)).toBe(7);
    expect(ix.slotAt(-1)).toBe(-1);
    ix.clear(3);
    expect(ix.slotAt(3)).toBe(-1);
    expect(() => new Subnet6Index(parseSubnet6('fd00:10:244::/56')!, 80)).toThrow(/IPv6SubnetLen 80 does not fit IPv6Network \/56/);
    expect(() => new Subnet6Index(parseSubnet6('fd00::/32')!, 64)).toThrow(/at most 2\^20 subnets/);
  });
});
