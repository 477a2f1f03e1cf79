// RouteTable against a plain linear scan on random inputs, plus validation of peers.
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../daemon/net/ipv4.js';
import { RouteTable, type PeerSpec } from '../../../daemon/dataplane/route-table.js';
import { u32 } from '../../fixtures/dataplane/packets.js';

/** The slow reference: scan every peer, compare masked addresses. */
function slowRouter(peers: readonly PeerSpec[]): { lookup(dst: number): number; isSender(ip: number): boolean } {
  const nets = peers.map((p) => {
    const [base, len] = p.subnet.split('/');
    return { base: u32(base), mask: Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0, ip: u32(p.publicIp) };
  });
  return {
    lookup: (dst) => nets.findIndex((n) => ((dst & n.mask) >>> 0) === n.base),
    isSender: (ip) => nets.some((n) => n.ip === ip),
  };
}

describe('RouteTable', () => {
  it('agrees with a linear scan on random peers and addresses', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
    for (const [network, subnetLen] of [
      ['10.244.0.0/16', 24],
      ['10.0.0.0/8', 24],
      ['172.16.0.0/12', 26],
      ['192.168.0.0/16', 30],
    ] as const) {
      const base = u32(network.split('/')[0]);
      const span = 2 ** (subnetLen - Number(network.split('/')[1]));
      const peers: PeerSpec[] = [];
      const used = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const idx = rnd(span);
        if (used.has(idx)) continue;
        used.add(idx);
        const sub = base + idx * 2 ** (32 - subnetLen);
        peers.push({ subnet: `${formatIpv4(sub)}/${subnetLen}`, publicIp: `198.18.${rnd(256)}.${1 + rnd(250)}`, vtepMac: '0e:00:00:00:00:01' });
      }
      const t = RouteTable.build({ network, subnetLen, peers });
      expect(t.rejected).toEqual([]);
      const slow = slowRouter(t.peers);
      for (let i = 0; i < 5000; i++) {
        const dst = i % 2 === 0 ? (base + rnd(span * 2 ** (32 - subnetLen))) >>> 0 : rnd(0x100000000) >>> 0;
        expect(t.lookup(dst)).toBe(slow.lookup(dst));
        expect(t.lookup(dst | 0)).toBe(slow.lookup(dst));
        const ip = i % 3 === 0 ? u32(peers[rnd(peers.length)].publicIp) : u32(`198.18.${rnd(256)}.${rnd(256)}`);
        const s = t.senderIndex(ip | 0);
        expect(s >= 0).toBe(slow.isSender(ip));
        if (s >= 0) expect(u32(t.peers[s].publicIp)).toBe(ip);
      }
    }
  });

  it('lists bad peers with a reason instead of failing the whole table', () => {
    const t = RouteTable.build({
      network: '10.244.0.0/16',
      subnetLen: 24,
      localSubnet: '10.244.1.0/24',
      peers: [
        { subnet: '10.244.1.0/24', publicIp: '198.18.0.1', vtepMac: '0e:00:00:00:00:01' },
        { subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '0e:00:00:00:00:02' },
        { subnet: '10.244.2.0/24', publicIp: '198.18.0.9', vtepMac: '0e:00:00:00:00:09' },
        { subnet: '10.245.3.0/24', publicIp: '198.18.0.3', vtepMac: '0e:00:00:00:00:03' },
        { subnet: '10.244.4.0/25', publicIp: '198.18.0.4', vtepMac: '0e:00:00:00:00:04' },
        { subnet: '10.244.5.0/24', publicIp: 'nope', vtepMac: '0e:00:00:00:00:05' },
        { subnet: '10.244.6.0/24', publicIp: '198.18.0.6', vtepMac: 'zz' },
      ],
    });
    expect(t.peers.map((p) => p.subnet)).toEqual(['10.244.2.0/24']);
    expect(t.rejected.map((r) => r.reason)).toEqual([
      'local subnet',
      'duplicate subnet 10.244.2.0/24',
      'subnet 10.245.3.0/24 is outside 10.244.0.0/16',
      'subnet 10.244.4.0/25 is not a /24',
      "publicIp 'nope' is not an IPv4 address",
      "vtepMac 'zz' is not aa:bb:cc:dd:ee:ff",
    ]);
    expect(t.describe()).toEqual([{ subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '0e:00:00:00:00:02' }]);
  });

  it('rejects a SubnetLen that does not fit the network', () => {
    expect(() => RouteTable.build({ network: '10.244.0.0/16', subnetLen: 12, peers: [] })).toThrow(/subnetLen/);
    expect(() => RouteTable.build({ network: '10.244.0.1/16', subnetLen: 24, peers: [] })).toThrow(/network/);
  });

  it('crosses to another thread as numbers: a cloned RouteWire routes, validates and describes exactly as the table it came from', () => {
    const peers: PeerSpec[] = Array.from({ length: 300 }, (_, i) => ({
      subnet: `10.${(i >> 8) + 1}.${i & 255}.0/24`,
      publicIp: `198.18.${i >> 7}.${(i & 127) + 1}`,
      vtepMac: `0e:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      ...(i % 3 === 0 ? { nodeName: `n${i}` } : {}),
      ...(i % 2 === 0 ? { csumElision: true } : {}),
    }));
    const t = RouteTable.build({ network: '10.0.0.0/8', subnetLen: 24, localSubnet: '10.1.0.0/24', peers });
    const w = RouteTable.fromWire(structuredClone(t.toWire()));
    for (let i = 0; i < 2000; i++) {
      const dst = (u32('10.0.0.0') + ((i * 2654435761) >>> 8)) >>> 0;
      expect(w.lookup(dst)).toBe(t.lookup(dst));
      const src = (u32('198.18.0.0') + (i % 600)) | 0;
      expect(w.senderIndex(src)).toBe(t.senderIndex(src));
    }
    expect([...w.peerFlags]).toEqual([...t.peerFlags]);
    expect(w.describe()).toEqual(t.describe());
    expect(w.peers).toEqual(t.peers);
    expect(t.peers.length).toBe(299); // the local subnet is not routed
  });

  it('refuses a RouteWire whose columns disagree or whose subnets fall outside its network', () => {
    const w = RouteTable.build({ network: '10.244.0.0/16', subnetLen: 24, peers: [{ subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '0e:00:00:00:00:02' }] }).toWire();
    expect(() => RouteTable.fromWire({ ...w, flags: new Uint8Array(2) })).toThrow(/inconsistent/);
    expect(() => RouteTable.fromWire({ ...w, subnetBase: Int32Array.of(u32('10.245.2.0') | 0) })).toThrow(/inconsistent/);
    expect(() => RouteTable.fromWire({ ...w, subnetBase: Int32Array.of((u32('10.244.2.0') + 5) | 0) })).toThrow(/inconsistent/);
  });
});
