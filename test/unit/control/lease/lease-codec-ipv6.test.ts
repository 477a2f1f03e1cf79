// Dual-stack lease values, byte-identical to Flannel's json.Marshal(lease.LeaseAttrs): fields in the
// struct's order PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data; the two data fields
// are json.Marshal(vxlanLeaseAttrs{VNI, VtepMAC}) and left out when empty (omitempty); PublicIP is
// IP4.MarshalJSON ("%s" of the dotted quad), PublicIPv6 is IP6.MarshalJSON ("%s" of net.IP.String())
// or null for a nil pointer. weft's own fields ride at the end of BackendData only. And the values
// and keys Flannel writes for dual-stack and IPv6-only nodes are read back.
import { describe, expect, it } from 'vitest';
import { decodeLeaseValue, encodeLeaseValue, leaseOwnerIp, type LeaseAttrs, type OwnLeaseAttrs } from '../../../../daemon/control/lease/lease-codec.js';
import { decodeStoredLease, leaseKeyOf, listingOf } from '../../../../daemon/control/lease/lease-store.js';
import { formatIpv6, parseIpv6 } from '../../../../daemon/net/ipv6.js';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../../../daemon/net/ipv6.js';
import { isNoSubnet4 } from '../../../../daemon/net/subnet-key.js';

const MAC4 = 'c6:d2:32:6f:8f:44';
const MAC6 = 'ce:7a:05:2e:91:0b';
const dual: OwnLeaseAttrs = { publicIp: '198.18.0.1', vni: 1, vtepMac: MAC4, gossipPort: 8473, nodeName: 'node1', v6: { publicIp: 'fd00:198:18::1', vtepMac: MAC6 } };

/** What Flannel's vxlan backend writes for a dual-stack node with these inputs. */
const FLANNEL_DUAL = `{"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${MAC4}"},"BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`;
/** What Flannel writes for an IPv6-only node: PublicIP is the zero IP4, BackendData is left out. */
const FLANNEL_V6_ONLY = `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::2","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`;

/** weft's value without weft's own BackendData fields. */
function withoutWeftFields(value: string): string {
  return value.replace(/,"Weft[A-Za-z]+":("[^"]*"|[0-9]+|true)/g, '');
}

describe('dual-stack lease value', () => {
  it("is Flannel's bytes plus weft's fields at the end of BackendData", () => {
    const v = encodeLeaseValue(dual);
    expect(v).toBe(
      `{"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${MAC4}","WeftGossipPort":8473,"WeftNodeName":"node1"},"BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`,
    );
    expect(withoutWeftFields(v)).toBe(FLANNEL_DUAL);
    expect(withoutWeftFields(encodeLeaseValue({ ...dual, csumElision: true }))).toBe(FLANNEL_DUAL);
  });

  it('keeps the IPv4 value unchanged without an IPv6 VTEP (PublicIPv6 null, no BackendV6Data)', () => {
    const { v6: _v6, ...v4only } = dual;
    expect(withoutWeftFields(encodeLeaseValue(v4only))).toBe(`{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${MAC4}"}}`);
  });

  it("writes PublicIPv6 in Go's net.IP.String() form when given the canonical address", () => {
    const canonical = formatIpv6(parseIpv6('FD00:0198:0018:0000:0000:0000:0000:0001')!);
    expect(canonical).toBe('fd00:198:18::1');
    expect(encodeLeaseValue({ ...dual, v6: { publicIp: canonical, vtepMac: MAC6 } })).toContain('"PublicIPv6":"fd00:198:18::1"');
  });

  it("decodes Flannel's dual-stack and IPv6-only values", () => {
    expect(decodeLeaseValue(FLANNEL_DUAL)).toMatchObject({ publicIp: '198.18.0.1', vni: 1, vtepMac: MAC4, v6: { publicIp: 'fd00:198:18::1', vni: 1, vtepMac: MAC6 } });
    expect(decodeLeaseValue(FLANNEL_V6_ONLY)).toMatchObject({ publicIp: '0.0.0.0', vni: undefined, vtepMac: undefined, v6: { publicIp: 'fd00:198:18::2', vni: 1, vtepMac: MAC6 } });
    expect(decodeLeaseValue(encodeLeaseValue(dual))).toMatchObject({ nodeName: 'node1', gossipPort: 8473, v6: { publicIp: 'fd00:198:18::1', vtepMac: MAC6 } });
    expect(decodeLeaseValue(`{"PublicIP":"198.18.0.1","PublicIPv6":null}`)).toMatchObject({ v6: undefined });
  });
});

describe('IPv6-only lease value', () => {
  const v6only: OwnLeaseAttrs = { ...dual, publicIp: '0.0.0.0', v6: { publicIp: 'fd00:198:18::2', vtepMac: MAC6 }, ipv6Only: true };

  it("is Flannel's bytes plus a BackendData holding weft's fields alone (Flannel writes none)", () => {
    const v = encodeLeaseValue(v6only);
    expect(v).toBe(`{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::2","BackendType":"vxlan","BackendData":{"WeftGossipPort":8473,"WeftNodeName":"node1"},"BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`);
    expect(v.replace(/"BackendData":\{[^}]*\},/, '')).toBe(FLANNEL_V6_ONLY);
    expect(encodeLeaseValue({ ...v6only, publicIp: '198.18.0.9' })).toBe(v);
  });

  it('decodes as a weft node with no IPv4 VTEP, owned by its PublicIPv6', () => {
    const a = decodeLeaseValue(encodeLeaseValue({ ...v6only, csumElision: true }));
    expect(a).toMatchObject({ publicIp: '0.0.0.0', vni: undefined, vtepMac: undefined, gossipPort: 8473, nodeName: 'node1', csumElision: true, v6: { publicIp: 'fd00:198:18::2', vni: 1, vtepMac: MAC6 } });
    expect(leaseOwnerIp(a as LeaseAttrs)).toBe('fd00:198:18::2');
    expect(leaseOwnerIp(decodeLeaseValue(FLANNEL_V6_ONLY) as LeaseAttrs)).toBe('fd00:198:18::2');
    expect(leaseOwnerIp(decodeLeaseValue(FLANNEL_DUAL) as LeaseAttrs)).toBe('198.18.0.1');
  });
});

describe('dual-stack and IPv6-only lease keys in a listing', () => {
  const prefix = '/coreos.com/network/subnets';
  const v4 = parseSubnet('10.244.1.0/24')!;
  const v6 = parseSubnet6('fd00:10:244:1::/64')!;

  it('names a dual-stack lease by both subnets', () => {
    expect(leaseKeyOf(prefix, { subnet: v4, subnet6: v6 })).toBe('/coreos.com/network/subnets/10.244.1.0-24&fd00:10:244:1::-64');
  });

  it("decodes Flannel's dual-stack lease with both subnets", () => {
    const d = decodeStoredLease({ key: `${prefix}/10.244.1.0-24&fd00:10:244:1::-64`, value: FLANNEL_DUAL, lease: '7', modRevision: '9' });
    expect(d).toMatchObject({ subnet: v4, subnet6: v6, attrs: { v6: { vtepMac: MAC6 } } });
  });

  it("decodes Flannel's IPv6-only lease with its IPv6 subnet and no IPv4 one (NO_SUBNET4, never a 0.0.0.0/0 route)", () => {
    const key = `${prefix}/0.0.0.0-0&fd00:10:244:2::-64`;
    const listing = listingOf([{ key, value: FLANNEL_V6_ONLY, lease: '7', modRevision: '9' }], '10');
    expect(listing.skipped).toEqual([]);
    expect(listing.leases).toMatchObject([{ key, subnet: { base: 0, len: 0 }, subnet6: parseSubnet6('fd00:10:244:2::/64'), attrs: { publicIp: '0.0.0.0', v6: { publicIp: 'fd00:198:18::2' } } }]);
    expect(isNoSubnet4(listing.leases[0].subnet)).toBe(true);
  });
});
