// Lease values in etcd, byte-identical to what Flannel's vxlan backend writes (json.Marshal of
// lease.LeaseAttrs{PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data}, the two data
// fields being vxlanLeaseAttrs{VNI, VtepMAC} and left out when empty):
//   IPv4        {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:…"}}
//   dual-stack  {"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan",
//                "BackendData":{"VNI":1,"VtepMAC":"0a:…"},"BackendV6Data":{"VNI":1,"VtepMAC":"0e:…"}}
//   IPv6-only   {"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendV6Data":{…}}
//               (Flannel's: no IPv4 VTEP, so no BackendData; PublicIP is Go's zero ip.IP4)
// PublicIPv6 is in Go's net.IP.String() form (formatIpv6). weft appends its own fields at the end
// of BackendData only; BackendV6Data is exactly Flannel's. Flannel ignores unknown fields. An
// IPv6-only weft node writes a BackendData holding weft's fields alone, where Flannel's has none
// (an IPv6-only Flannel node never reads BackendData: it has no IPv4 VTEP).
// Node names are restricted (see config) so JSON.stringify matches Go's escaping exactly.
import { goField as pick, isJsonObject } from './go-json.js';

export interface LeaseAttrs {
  readonly publicIp: string;
  readonly backendType: string;
  readonly vni: number | undefined;
  readonly vtepMac: string | undefined;
  /** weft's gossip port; undefined for a Flannel node. */
  readonly gossipPort: number | undefined;
  readonly nodeName: string | undefined;
  /** BackendData.WeftCsumElision: the node accepts frames with VXLAN_WEFT_CSUM_PARTIAL. */
  readonly csumElision: boolean;
  /** PublicIPv6 and BackendV6Data, when the node advertises an IPv6 VTEP (dual-stack or IPv6-only). */
  readonly v6?: V6Attrs | undefined;
}

/** The IPv6 VTEP of a lease: PublicIPv6 and BackendV6Data{VNI, VtepMAC}. */
export interface V6Attrs {
  readonly publicIp: string;
  readonly vni: number | undefined;
  readonly vtepMac: string | undefined;
}

export interface OwnLeaseAttrs {
  readonly publicIp: string;
  readonly vni: number;
  readonly vtepMac: string;
  readonly gossipPort: number;
  readonly nodeName: string;
  /** Advertise checksum elision (BackendData.WeftCsumElision, written only when true). */
  readonly csumElision?: boolean;
  /** Dual-stack and IPv6-only: the IPv6 underlay address (formatIpv6 form) and the IPv6 VTEP's MAC; VNI as for IPv4. */
  readonly v6?: { readonly publicIp: string; readonly vtepMac: string } | undefined;
  /** IPv6-only (EnableIPv4 false, `v6` set): no IPv4 VTEP; publicIp and vtepMac are not written. */
  readonly ipv6Only?: boolean;
}

/** Flannel's PublicIP of a lease without an IPv4 underlay (Go's zero ip.IP4). */
export const NO_PUBLIC_IP = '0.0.0.0';

export function encodeLeaseValue(a: OwnLeaseAttrs): string {
  const weft = { WeftGossipPort: a.gossipPort, WeftNodeName: a.nodeName, ...(a.csumElision ? { WeftCsumElision: true } : {}) };
  const v6Only = a.ipv6Only === true && a.v6 !== undefined;
  return JSON.stringify({
    PublicIP: v6Only ? NO_PUBLIC_IP : a.publicIp,
    PublicIPv6: a.v6 ? a.v6.publicIp : null,
    BackendType: 'vxlan',
    BackendData: v6Only ? weft : { VNI: a.vni, VtepMAC: a.vtepMac, ...weft },
    ...(a.v6 ? { BackendV6Data: { VNI: a.vni, VtepMAC: a.v6.vtepMac } } : {}),
  });
}

/**
 * The underlay address a lease is held by, for reuse and identity checks: PublicIP, or PublicIPv6
 * when PublicIP is 0.0.0.0 (IPv6-only). Flannel matches by PublicIP alone, so its IPv6-only nodes
 * all look alike; weft tells them apart.
 */
export function leaseOwnerIp(a: { readonly publicIp: string; readonly v6?: { readonly publicIp: string } | undefined; readonly ipv6Only?: boolean }): string {
  return (a.ipv6Only === true || a.publicIp === NO_PUBLIC_IP) && a.v6 ? a.v6.publicIp : a.publicIp;
}


/** Decodes any node's lease value (Flannel's or weft's); returns an error string when unusable. */
export function decodeLeaseValue(text: string): LeaseAttrs | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'value is not JSON';
  }
  if (!isJsonObject(v)) return 'value is not a JSON object';
  const o = v;
  const publicIp = pick(o, 'PublicIP');
  if (typeof publicIp !== 'string') return 'PublicIP is missing';
  const backendType = pick(o, 'BackendType');
  const data = pick(o, 'BackendData');
  const d = isJsonObject(data) ? data : {};
  const vni = pick(d, 'VNI');
  const mac = pick(d, 'VtepMAC');
  const gossipPort = pick(d, 'WeftGossipPort');
  const nodeName = pick(d, 'WeftNodeName');
  const csumElision = pick(d, 'WeftCsumElision');
  const publicIpv6 = pick(o, 'PublicIPv6');
  const data6 = pick(o, 'BackendV6Data');
  const d6 = isJsonObject(data6) ? data6 : {};
  const vni6 = pick(d6, 'VNI');
  const mac6 = pick(d6, 'VtepMAC');
  return {
    publicIp,
    backendType: typeof backendType === 'string' ? backendType : '',
    vni: typeof vni === 'number' ? vni : undefined,
    vtepMac: typeof mac === 'string' ? mac : undefined,
    gossipPort: typeof gossipPort === 'number' ? gossipPort : undefined,
    nodeName: typeof nodeName === 'string' ? nodeName : undefined,
    csumElision: csumElision === true,
    v6: typeof publicIpv6 === 'string' ? { publicIp: publicIpv6, vni: typeof vni6 === 'number' ? vni6 : undefined, vtepMac: typeof mac6 === 'string' ? mac6 : undefined } : undefined,
  };
}
