// Flannel's on-disk and in-etcd formats as the lab writes and reads them: subnet lease keys and
// values (`<prefix>/subnets/10.244.1.0-24`, dual-stack `…/10.244.1.0-24&fd00:10:244:1::-64`,
// IPv6-only `…/0.0.0.0-0&fd00:10:244:1::-64`), and subnet.env. Keys, lease decoding and subnet.env text are weft's own (daemon/net/subnet-key.ts,
// daemon/control/lease/lease-codec.ts and subnet-file.ts); only the Flannel node's lease value is
// written here, as weft's encoder adds weft's fields. Pure functions.
import { formatCidr, formatIpv4, parseCidr, parseSubnet, subnetOf as subnetOfCidr } from '../daemon/net/ipv4.js';
import { formatCidr6, parseCidr6, parseSubnet6, subnetOf6 } from '../daemon/net/ipv6.js';
import { isNoSubnet4, leaseKeyName, NO_SUBNET4, parseLeaseKeyName } from '../daemon/net/subnet-key.js';
import { decodeLeaseValue } from '../daemon/control/lease/lease-codec.js';
import { formatSubnetEnv as formatFlannelSubnetEnv } from '../daemon/control/lease/subnet-file.js';

export interface Lease {
  /** `10.244.1.0/24`; undefined for an IPv6-only lease. */
  subnet?: string;
  /** PublicIP (`0.0.0.0` in an IPv6-only lease, as Flannel writes it). */
  publicIp: string;
  backendType: string;
  vni?: number;
  vtepMac?: string;
  /** weft's node name in BackendData, when the lease is a weft node's. */
  nodeName?: string;
  /** Dual-stack or IPv6-only: the IPv6 subnet (`fd00:10:244:1::/64`), PublicIPv6 and BackendV6Data's VNI and VtepMAC. */
  subnet6?: string;
  publicIpv6?: string;
  vni6?: number;
  vtepMac6?: string;
}

/** The IPv6 VTEP of a Flannel vxlan node: its PublicIPv6 and `flannel-v6.1`'s MAC. */
export interface Vtep6 {
  publicIp: string;
  vtepMac: string;
}

/**
 * `10.244.1.0/24` → `<prefix>/subnets/10.244.1.0-24`; with `subnet6`, `…/10.244.1.0-24&fd00:10:244:1::-64`;
 * IPv6-only (no `subnet`), `…/0.0.0.0-0&fd00:10:244:1::-64`.
 */
export function leaseKey(etcdPrefix: string, subnet: string | undefined, subnet6?: string): string {
  if (subnet === undefined && subnet6 === undefined) throw new Error('a lease key names at least one subnet');
  const v4 = subnet === undefined ? NO_SUBNET4 : parseSubnet(subnet);
  if (v4 === null) throw new Error(`not an IPv4 subnet: ${subnet}`);
  const v6 = subnet6 === undefined ? undefined : parseSubnet6(subnet6);
  if (v6 === null) throw new Error(`not an IPv6 subnet: ${subnet6}`);
  return `${etcdPrefix}/subnets/${leaseKeyName({ subnet: v4, subnet6: v6 })}`;
}

/**
 * The lease a Flannel vxlan node stores, byte-compatible with flanneld's JSON; dual-stack with `v6`
 * (PublicIPv6 and BackendV6Data, the VNI shared by both devices).
 */
export function vxlanLeaseValue(publicIp: string, vni: number, vtepMac: string, v6?: Vtep6): string {
  return JSON.stringify({
    PublicIP: publicIp,
    PublicIPv6: v6 ? v6.publicIp : null,
    BackendType: 'vxlan',
    BackendData: { VNI: vni, VtepMAC: vtepMac },
    ...(v6 ? { BackendV6Data: { VNI: vni, VtepMAC: v6.vtepMac } } : {}),
  });
}

/** The lease a Flannel vxlan node of an IPv6-only network stores: no IPv4 VTEP, PublicIP 0.0.0.0. */
export function vxlan6OnlyLeaseValue(vni: number, v6: Vtep6): string {
  return JSON.stringify({ PublicIP: '0.0.0.0', PublicIPv6: v6.publicIp, BackendType: 'vxlan', BackendV6Data: { VNI: vni, VtepMAC: v6.vtepMac } });
}

/** The lease a Flannel host-gw node stores (no encapsulation; peers route to PublicIP). */
export function hostGwLeaseValue(publicIp: string): string {
  return JSON.stringify({ PublicIP: publicIp, PublicIPv6: null, BackendType: 'host-gw', BackendData: null });
}

/**
 * Parses one etcd key/value with weft's key and value codecs; undefined for keys that are not subnet
 * leases and values weft cannot use.
 */
export function parseLease(key: string, value: string): Lease | undefined {
  if (!key.slice(0, key.lastIndexOf('/') + 1).endsWith('/subnets/')) return undefined;
  const subnets = parseLeaseKeyName(key);
  if (subnets === null) return undefined;
  const v = decodeLeaseValue(value);
  if (typeof v === 'string') return undefined;
  const lease: Lease = { publicIp: v.publicIp, backendType: v.backendType };
  if (!isNoSubnet4(subnets.subnet)) lease.subnet = formatCidr(subnets.subnet);
  if (v.vni !== undefined) lease.vni = v.vni;
  if (v.vtepMac !== undefined) lease.vtepMac = v.vtepMac;
  if (v.nodeName !== undefined) lease.nodeName = v.nodeName;
  if (subnets.subnet6) lease.subnet6 = formatCidr6(subnets.subnet6);
  if (v.v6) {
    lease.publicIpv6 = v.v6.publicIp;
    if (v.v6.vni !== undefined) lease.vni6 = v.v6.vni;
    if (v.v6.vtepMac !== undefined) lease.vtepMac6 = v.v6.vtepMac;
  }
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
  /** FLANNEL_NETWORK and the subnet of FLANNEL_SUBNET; undefined in an IPv6-only network. */
  network?: string;
  subnet?: string;
  /** Dual-stack or IPv6-only: FLANNEL_IPV6_NETWORK and the subnet of FLANNEL_IPV6_SUBNET. */
  ipv6Network?: string;
  subnet6?: string;
  mtu: number;
  ipMasq: boolean;
}

/** subnet.env as flanneld writes it (weft's writer, daemon/control/lease/subnet-file.ts). */
export function formatSubnetEnv(env: SubnetEnv): string {
  const need = <T>(v: T | null, what: string): T => {
    if (v === null) throw new Error(`not ${what}`);
    return v;
  };
  const ipv6 =
    env.ipv6Network !== undefined && env.subnet6 !== undefined
      ? { network: need(parseSubnet6(env.ipv6Network), `an IPv6 subnet: ${env.ipv6Network}`), subnet: need(parseSubnet6(env.subnet6), `an IPv6 subnet: ${env.subnet6}`) }
      : undefined;
  const v4 = env.network !== undefined && env.subnet !== undefined;
  return formatFlannelSubnetEnv({
    network: v4 ? need(parseSubnet(env.network as string), `an IPv4 subnet: ${env.network}`) : undefined,
    subnet: v4 ? need(parseSubnet(env.subnet as string), `an IPv4 subnet: ${env.subnet}`) : undefined,
    ipv6,
    mtu: env.mtu,
    ipMasq: env.ipMasq,
  });
}

/** An IPv4 (or dual-stack) node's subnet.env. */
export type SubnetEnv4 = SubnetEnv & { network: string; subnet: string };

/** Parses an IPv4 or dual-stack subnet.env; undefined while FLANNEL_SUBNET or FLANNEL_MTU is missing. */
export function parseSubnetEnv(text: string): SubnetEnv4 | undefined {
  const env = parseAnySubnetEnv(text);
  return env?.subnet === undefined ? undefined : { ...env, network: env.network ?? '', subnet: env.subnet };
}

/**
 * Parses subnet.env of any family; undefined while FLANNEL_MTU, or both FLANNEL_SUBNET and
 * FLANNEL_IPV6_SUBNET (with FLANNEL_IPV6_NETWORK), are missing.
 */
export function parseAnySubnetEnv(text: string): SubnetEnv | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const sub = kv.get('FLANNEL_SUBNET');
  const mtu = Number(kv.get('FLANNEL_MTU'));
  if (!Number.isInteger(mtu) || mtu <= 0) return undefined;
  const env: SubnetEnv = { mtu, ipMasq: kv.get('FLANNEL_IPMASQ') === 'true' };
  if (sub) {
    env.network = kv.get('FLANNEL_NETWORK') ?? '';
    env.subnet = subnetOf(sub);
  }
  const sub6 = parseCidr6(kv.get('FLANNEL_IPV6_SUBNET') ?? '');
  const net6 = kv.get('FLANNEL_IPV6_NETWORK');
  if (sub6 !== null && net6 !== undefined) {
    env.ipv6Network = net6;
    env.subnet6 = formatCidr6(subnetOf6(sub6));
  }
  return env.subnet === undefined && env.subnet6 === undefined ? undefined : env;
}
