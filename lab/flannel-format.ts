// Flannel's on-disk and in-etcd formats as the lab writes and reads them: subnet lease keys and
// values (`<prefix>/subnets/10.244.1.0-24`), and subnet.env. Pure functions.
import { formatCidr, formatIpv4, parseCidr, parseSubnetKeyName, subnetOf as subnetOfCidr } from '../daemon/net/ipv4.js';

export interface Lease {
  /** `10.244.1.0/24` */
  subnet: string;
  publicIp: string;
  backendType: string;
  vni?: number;
  vtepMac?: string;
  /** weft's node name in BackendData, when the lease is a weft node's. */
  nodeName?: string;
}

/** `10.244.1.0/24` → `<prefix>/subnets/10.244.1.0-24` */
export function leaseKey(etcdPrefix: string, subnet: string): string {
  return `${etcdPrefix}/subnets/${subnet.replace('/', '-')}`;
}

/** The lease a Flannel vxlan node stores, byte-compatible with flanneld's JSON. */
export function vxlanLeaseValue(publicIp: string, vni: number, vtepMac: string): string {
  return JSON.stringify({ PublicIP: publicIp, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: vtepMac } });
}

/** The lease a Flannel host-gw node stores (no encapsulation; peers route to PublicIP). */
export function hostGwLeaseValue(publicIp: string): string {
  return JSON.stringify({ PublicIP: publicIp, PublicIPv6: null, BackendType: 'host-gw', BackendData: null });
}

/** Parses one etcd key/value; undefined for keys that are not IPv4 subnet leases. */
export function parseLease(key: string, value: string): Lease | undefined {
  const subnet = key.slice(0, key.lastIndexOf('/') + 1).endsWith('/subnets/') ? parseSubnetKeyName(key) : null;
  if (subnet === null) return undefined;
  let v: { PublicIP?: unknown; BackendType?: unknown; BackendData?: { VNI?: unknown; VtepMAC?: unknown; NodeName?: unknown; nodeName?: unknown } | null };
  try {
    v = JSON.parse(value) as typeof v;
  } catch {
    return undefined;
  }
  if (typeof v.PublicIP !== 'string') return undefined;
  const lease: Lease = { subnet: formatCidr(subnet), publicIp: v.PublicIP, backendType: typeof v.BackendType === 'string' ? v.BackendType : '' };
  const bd = v.BackendData;
  if (bd && typeof bd.VNI === 'number') lease.vni = bd.VNI;
  if (bd && typeof bd.VtepMAC === 'string') lease.vtepMac = bd.VtepMAC;
  const nodeName = bd?.NodeName ?? bd?.nodeName;
  if (typeof nodeName === 'string') lease.nodeName = nodeName;
  return lease;
}

/** `10.244.1.0/24` → `10.244.1.0` */
export function subnetAddress(subnet: string): string {
  return subnet.split('/')[0];
}

/** `10.244.1.0/24` → `10.244.1.1/24` (FLANNEL_SUBNET: first host / length). */
export function firstHost(subnet: string): string {
  const c = parseCidr(subnet);
  if (c === null) throw new Error(`not a CIDR: ${subnet}`);
  return `${formatIpv4(c.ip + 1)}/${c.len}`;
}

/** FLANNEL_SUBNET `10.244.1.1/24` → the subnet `10.244.1.0/24`. */
function subnetOf(cidr: string): string {
  const c = parseCidr(cidr);
  if (c === null) throw new Error(`not a CIDR: ${cidr}`);
  return formatCidr(subnetOfCidr(c));
}

export interface SubnetEnv {
  network: string;
  subnet: string;
  mtu: number;
  ipMasq: boolean;
}

export function formatSubnetEnv(env: SubnetEnv): string {
  return `FLANNEL_NETWORK=${env.network}\nFLANNEL_SUBNET=${firstHost(env.subnet)}\nFLANNEL_MTU=${env.mtu}\nFLANNEL_IPMASQ=${env.ipMasq}\n`;
}

/** Parses subnet.env; undefined while FLANNEL_SUBNET or FLANNEL_MTU is missing. */
export function parseSubnetEnv(text: string): SubnetEnv | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const sub = kv.get('FLANNEL_SUBNET');
  const mtu = Number(kv.get('FLANNEL_MTU'));
  if (!sub || !Number.isInteger(mtu) || mtu <= 0) return undefined;
  return { network: kv.get('FLANNEL_NETWORK') ?? '', subnet: subnetOf(sub), mtu, ipMasq: kv.get('FLANNEL_IPMASQ') === 'true' };
}
