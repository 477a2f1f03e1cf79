// The lab acting as flanneld for a node whose data plane is the kernel: `flannel.1` (and, dual-stack,
// `flannel-v6.1` over the IPv6 underlay) created exactly as Flannel's vxlan backend creates them, and
// per peer lease the permanent neighbour, FDB entry and onlink route on each (reference/flannel.md 1c;
// the IPv6 device takes the peer's IPv6 subnet, BackendV6Data.VtepMAC and PublicIPv6; an IPv6-only
// node has `flannel-v6.1` alone). Also Flannel's host-gw backend (plain routes via the peer's
// PublicIP), the lab's "underlay" plane. Sync is a reconcile: desired state from the leases, current
// state from the kernel, the difference applied.
import { DEFAULT_VNI, DEFAULT_VXLAN_PORT } from '../daemon/dataplane/constants.js';
import { ipIn, ipJson, run } from './exec.js';
import { subnetAddress, type Lease } from './flannel-format.js';
import type { Families } from './state.js';

const VXLAN_DEV = 'flannel.1';
const VXLAN6_DEV = 'flannel-v6.1';
/** VXLAN over IPv6 adds 70 bytes: the kernel's cap of `flannel-v6.1` below a 1500 underlay. */
const VXLAN6_OVERHEAD = 70;
/** Flannel's defaults, as the lab's network config leaves Backend.VNI and Backend.Port unset. */
export const VNI = DEFAULT_VNI;

/**
 * Creates `flannel.1` in `ns` (VNI 1, port 8472, local `localIp` dev eth0, nolearning, `mtu`) and returns
 * its kernel-random, locally administered MAC: the VtepMAC that goes into the lease.
 */
export async function createFlannelDevice(ns: string, localIp: string, mtu: number): Promise<string> {
  await ipIn(ns, 'link', 'add', VXLAN_DEV, 'mtu', String(mtu), 'type', 'vxlan', 'id', String(VNI), 'local', localIp, 'dev', 'eth0', 'dstport', String(DEFAULT_VXLAN_PORT), 'nolearning');
  const [link] = await ipJson<{ address: string }>(ns, 'link', 'show', VXLAN_DEV);
  return link.address;
}

/**
 * Creates `flannel-v6.1` in `ns` (VNI 1, port 8472, local `localIp6` dev eth0, nolearning; MTU the
 * underlay's less 70, as the kernel caps it) and returns its MAC: BackendV6Data's VtepMAC.
 */
export async function createFlannelDevice6(ns: string, localIp6: string, underlayMtu: number): Promise<string> {
  const mtu = underlayMtu - VXLAN6_OVERHEAD;
  await ipIn(ns, 'link', 'add', VXLAN6_DEV, 'mtu', String(mtu), 'type', 'vxlan', 'id', String(VNI), 'local', localIp6, 'dev', 'eth0', 'dstport', String(DEFAULT_VXLAN_PORT), 'nolearning');
  const [link] = await ipJson<{ address: string }>(ns, 'link', 'show', VXLAN6_DEV);
  return link.address;
}

/** Gives `flannel.1` its `<subnet>.0/32` (source for host-to-pod traffic) and brings it up. */
export async function configureFlannelDevice(ns: string, subnet: string): Promise<void> {
  await ipIn(ns, 'addr', 'add', `${subnetAddress(subnet)}/32`, 'dev', VXLAN_DEV);
  await ipIn(ns, 'link', 'set', VXLAN_DEV, 'up');
}

/** Gives `flannel-v6.1` its `<subnet6 network address>/128` (as Flannel does) and brings it up. */
export async function configureFlannelDevice6(ns: string, subnet6: string): Promise<void> {
  await ipIn(ns, 'addr', 'add', `${subnetAddress(subnet6)}/128`, 'dev', VXLAN6_DEV, 'nodad');
  await ipIn(ns, 'link', 'set', VXLAN6_DEV, 'up');
}

interface RouteEntry {
  dst: string;
  gateway?: string;
}
interface NeighEntry {
  dst: string;
  lladdr?: string;
}
interface FdbEntry {
  mac: string;
  dst?: string;
}

/** One peer of a VXLAN device: route `subnet` via `gw` (onlink), `gw` → `mac`, `mac` → `dst`. */
interface VxlanPeer {
  subnet: string;
  gw: string;
  mac: string;
  dst: string;
}

/** Makes `flannel.1` in `ns` route to exactly the vxlan leases other than `ownSubnet`. */
export async function syncVxlanPeers(ns: string, ownSubnet: string, leases: readonly Lease[]): Promise<string[]> {
  const peers = leases.filter((l) => l.backendType === 'vxlan' && l.subnet !== undefined && l.subnet !== ownSubnet && l.vtepMac !== undefined && (l.vni ?? VNI) === VNI);
  return syncDevice(ns, VXLAN_DEV, '-4', peers.map((p) => ({ subnet: p.subnet as string, gw: subnetAddress(p.subnet as string), mac: p.vtepMac as string, dst: p.publicIp })));
}

/**
 * Makes `flannel-v6.1` in `ns` route to exactly the IPv6 subnets of the vxlan leases (dual-stack or
 * IPv6-only) other than `ownSubnet6` (Flannel: the peer's v6 subnet via its network address,
 * BackendV6Data's VtepMAC, FDB to PublicIPv6).
 */
export async function syncVxlanPeers6(ns: string, ownSubnet6: string, leases: readonly Lease[]): Promise<string[]> {
  const peers = leases.filter(
    (l) => l.backendType === 'vxlan' && l.subnet6 !== undefined && l.subnet6 !== ownSubnet6 && l.publicIpv6 !== undefined && l.vtepMac6 !== undefined && (l.vni6 ?? VNI) === VNI,
  );
  return syncDevice(ns, VXLAN6_DEV, '-6', peers.map((p) => ({ subnet: p.subnet6 as string, gw: subnetAddress(p.subnet6 as string), mac: p.vtepMac6 as string, dst: p.publicIpv6 as string })));
}

async function syncDevice(ns: string, dev: string, family: '-4' | '-6', peers: readonly VxlanPeer[]): Promise<string[]> {
  const routes = await ipJson<RouteEntry>(ns, family, 'route', 'show', 'dev', dev);
  const neighs = await ipJson<NeighEntry>(ns, family, 'neigh', 'show', 'dev', dev);
  const fdb = JSON.parse((await run('ip', ['netns', 'exec', ns, 'bridge', '-j', 'fdb', 'show', 'dev', dev])) || '[]') as FdbEntry[];

  const wantRoutes = new Set(peers.map((p) => p.subnet));
  const wantNeigh = new Map(peers.map((p) => [p.gw, p.mac]));
  const wantFdb = new Map(peers.map((p) => [p.mac.toLowerCase(), p.dst]));

  for (const r of routes) if (r.gateway !== undefined && !wantRoutes.has(r.dst)) await ipIn(ns, family, 'route', 'del', r.dst, 'dev', dev);
  for (const n of neighs) if (!wantNeigh.has(n.dst)) await ipIn(ns, family, 'neigh', 'del', n.dst, 'dev', dev);
  for (const f of fdb) {
    if (f.mac === '00:00:00:00:00:00' || wantFdb.get(f.mac) === f.dst) continue;
    await run('ip', ['netns', 'exec', ns, 'bridge', 'fdb', 'del', f.mac, 'dev', dev, ...(f.dst ? ['dst', f.dst] : []), 'self']);
  }

  // Flannel's order: neighbour, FDB, then the route, so the kernel never has to resolve the gateway.
  for (const p of peers) {
    const mac = p.mac.toLowerCase();
    if (!neighs.some((n) => n.dst === p.gw && n.lladdr?.toLowerCase() === mac)) {
      await ipIn(ns, family, 'neigh', 'replace', p.gw, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
    }
    if (!fdb.some((f) => f.mac === mac && f.dst === p.dst)) {
      await run('ip', ['netns', 'exec', ns, 'bridge', 'fdb', 'replace', mac, 'dev', dev, 'dst', p.dst, 'self', 'permanent']);
    }
    if (!routes.some((r) => r.dst === p.subnet && r.gateway === p.gw)) {
      await ipIn(ns, family, 'route', 'replace', p.subnet, 'via', p.gw, 'dev', dev, 'onlink');
    }
  }
  return peers.map((p) => p.subnet);
}

/** Makes `eth0` in `ns` route to exactly the host-gw leases other than `ownSubnet` (via their PublicIP). */
export async function syncHostGwPeers(ns: string, ownSubnet: string, network: string, leases: readonly Lease[]): Promise<string[]> {
  const peers = leases.flatMap((l) => (l.backendType === 'host-gw' && l.subnet !== undefined && l.subnet !== ownSubnet ? [{ subnet: l.subnet, publicIp: l.publicIp }] : []));
  const netPrefix = subnetAddress(network).split('.').slice(0, 2).join('.') + '.';
  const routes = await ipJson<RouteEntry>(ns, 'route', 'show', 'dev', 'eth0');
  const want = new Map(peers.map((p) => [p.subnet, p.publicIp]));
  for (const r of routes) {
    if (r.gateway !== undefined && r.dst.startsWith(netPrefix) && want.get(r.dst) !== r.gateway) await ipIn(ns, 'route', 'del', r.dst, 'dev', 'eth0');
  }
  for (const p of peers) {
    if (!routes.some((r) => r.dst === p.subnet && r.gateway === p.publicIp)) await ipIn(ns, 'route', 'replace', p.subnet, 'via', p.publicIp, 'dev', 'eth0');
  }
  return peers.map((p) => p.subnet);
}

/**
 * Subnets `flannel.1` (kernel) or `eth0` (host-gw) currently routes to, for status, when the lab
 * carries IPv4; then, when it carries IPv6, the IPv6 subnets `flannel-v6.1` routes to.
 */
export async function installedPeers(ns: string, kind: 'kernel' | 'underlay', f: Families): Promise<string[]> {
  const routed = async (family: '-4' | '-6', dev: string): Promise<string[]> =>
    (await ipJson<RouteEntry>(ns, family, 'route', 'show', 'dev', dev)).filter((r) => r.gateway !== undefined && r.dst !== 'default').map((r) => r.dst);
  const v4 = f.ipv4 ? await routed('-4', kind === 'kernel' ? VXLAN_DEV : 'eth0') : [];
  return kind === 'kernel' && f.ipv6 ? [...v4, ...(await routed('-6', VXLAN6_DEV))] : v4;
}
