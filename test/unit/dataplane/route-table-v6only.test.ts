// An IPv6-only route table (route-table.ts): the stand-in IPv4 layout keys each IPv6 subnet index
// i as i × 4 in 0.0.0.0 cut in /30s; peers are encoded from their IPv6 subnet, PublicIPv6 and IPv6
// VTEP MAC, never flagged PEER_WEFT (all over the IPv6 underlay); the table crosses threads as a
// wire and describes its peers by IPv6.
import { describe, expect, it } from 'vitest';
import { ipv6OnlyLayout, PeerEncoder, RouteTable } from '../../../daemon/dataplane/index.js';
import { PEER_CSUM_ELISION } from '../../../daemon/dataplane/route-table.js';

const NET6 = 'fd00:10:244::/56';
const peer = (i: number, extra = {}) => ({ subnet: `fd00:10:244:${i.toString(16)}::/64`, publicIp: `fd00:198:18::${i.toString(16)}`, vtepMac: `06:00:00:00:00:0${i}`, nodeName: `node${i}`, ...extra });

describe('IPv6-only route table', () => {
  it('lays IPv6Network out as 0.0.0.0 cut in /30s, one per IPv6 subnet', () => {
    expect(ipv6OnlyLayout(NET6, 64, 'fd00:10:244:5f::/64')).toEqual({ network: '0.0.0.0/22', subnetLen: 30, localSubnet: '0.0.1.124/30' });
    expect(ipv6OnlyLayout('fd00:10::/48', 64, 'fd00:10:0:1::/64').network).toBe('0.0.0.0/14');
    expect(() => ipv6OnlyLayout(NET6, 64, 'fd00:10:245::/64')).toThrow(/is not a \/64 inside network6/);
  });

  it('encodes peers from their IPv6 subnet, PublicIPv6 and IPv6 VTEP MAC, and refuses what is not IPv6', () => {
    const enc = new PeerEncoder({ ...ipv6OnlyLayout(NET6, 64, 'fd00:10:244:1::/64'), network6: NET6, subnetLen6: 64, localSubnet6: 'fd00:10:244:1::/64', ipv6Only: true });
    const w = enc.encode(peer(2, { csumElision: true, weft: true }));
    expect(w).toMatchObject({ subnetBase: 8, subnet6Index: 2, flags: PEER_CSUM_ELISION, nodeName: 'node2' });
    expect(enc.encode(peer(1))).toBe('local IPv6 subnet');
    expect(enc.encode(peer(2, { publicIp: '198.18.0.2' }))).toBe("publicIp '198.18.0.2' is not an IPv6 address");
    expect(enc.encode(peer(2, { subnet: '10.244.2.0/24' }))).toMatch(/is not a \/64 inside fd00:10:244::\/56/);
  });

  it('routes by IPv6 only, crosses threads as a wire and describes its peers by IPv6', () => {
    const t = RouteTable.build({ ...ipv6OnlyLayout(NET6, 64, 'fd00:10:244:1::/64'), network6: NET6, subnetLen6: 64, localSubnet6: 'fd00:10:244:1::/64', ipv6Only: true, peers: [peer(2), peer(3)] });
    const back = RouteTable.fromWire(structuredClone(t.toWire()));
    expect(back.ipv6Only).toBe(true);
    expect(back.describe()).toEqual([2, 3].map((i) => ({ ...peer(i), subnet6: peer(i).subnet, vtepMac6: peer(i).vtepMac, publicIpv6: peer(i).publicIp })));
    for (const s of back.slots()) expect(back.hasPublicIp6(s)).toBe(true);
  });
});
