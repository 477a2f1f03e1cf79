// Lease values in etcd, byte-identical to what Flannel's vxlan backend writes (json.Marshal of
// lease.LeaseAttrs with BackendData = vxlanLeaseAttrs{VNI, VtepMAC}):
//   {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:…"}}
// weft appends its own fields at the end of BackendData; Flannel ignores unknown fields.
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
}

export interface OwnLeaseAttrs {
  readonly publicIp: string;
  readonly vni: number;
  readonly vtepMac: string;
  readonly gossipPort: number;
  readonly nodeName: string;
  /** Advertise checksum elision (BackendData.WeftCsumElision, written only when true). */
  readonly csumElision?: boolean;
}

export function encodeLeaseValue(a: OwnLeaseAttrs): string {
  return JSON.stringify({
    PublicIP: a.publicIp,
    PublicIPv6: null,
    BackendType: 'vxlan',
    BackendData: { VNI: a.vni, VtepMAC: a.vtepMac, WeftGossipPort: a.gossipPort, WeftNodeName: a.nodeName, ...(a.csumElision ? { WeftCsumElision: true } : {}) },
  });
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
  return {
    publicIp,
    backendType: typeof backendType === 'string' ? backendType : '',
    vni: typeof vni === 'number' ? vni : undefined,
    vtepMac: typeof mac === 'string' ? mac : undefined,
    gossipPort: typeof gossipPort === 'number' ? gossipPort : undefined,
    nodeName: typeof nodeName === 'string' ? nodeName : undefined,
    csumElision: csumElision === true,
  };
}
