// The lab acting as flanneld for a node whose data plane is the kernel: `flannel.1` created exactly as
// Flannel's vxlan backend creates it, and per peer lease the permanent neighbour, FDB entry and onlink
// route (reference/flannel.md 1c). Also Flannel's host-gw backend (plain routes via the peer's
// PublicIP), the lab's "underlay" plane. Sync is a reconcile: desired state from the leases, current
// state from the kernel, the difference applied.
import { DEFAULT_VNI, DEFAULT_VXLAN_PORT } from '../daemon/dataplane/constants.js';
import { ipIn, ipJson, run } from './exec.js';
import { subnetAddress, type Lease } from './flannel-format.js';

const VXLAN_DEV = 'flannel.1';
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

/** Gives `flannel.1` its `<subnet>.0/32` (source for host-to-pod traffic) and brings it up. */
export async function configureFlannelDevice(ns: string, subnet: string): Promise<void> {
  await ipIn(ns, 'addr', 'add', `${subnetAddress(subnet)}/32`, 'dev', VXLAN_DEV);
  await ipIn(ns, 'link', 'set', VXLAN_DEV, 'up');
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

/** Makes `flannel.1` in `ns` route to exactly the vxlan leases other than `ownSubnet`. */
export async function syncVxlanPeers(ns: string, ownSubnet: string, leases: readonly Lease[]): Promise<string[]> {
  const peers = leases.filter((l) => l.backendType === 'vxlan' && l.subnet !== ownSubnet && l.vtepMac !== undefined && (l.vni ?? VNI) === VNI);
  const routes = await ipJson<RouteEntry>(ns, 'route', 'show', 'dev', VXLAN_DEV);
  const neighs = await ipJson<NeighEntry>(ns, 'neigh', 'show', 'dev', VXLAN_DEV);
  const fdb = JSON.parse((await run('ip', ['netns', 'exec', ns, 'bridge', '-j', 'fdb', 'show', 'dev', VXLAN_DEV])) || '[]') as FdbEntry[];

  const wantRoutes = new Set(peers.map((p) => p.subnet));
  const wantNeigh = new Map(peers.map((p) => [subnetAddress(p.subnet), p.vtepMac as string]));
  const wantFdb = new Map(peers.map((p) => [(p.vtepMac as string).toLowerCase(), p.publicIp]));

  for (const r of routes) if (r.gateway !== undefined && !wantRoutes.has(r.dst)) await ipIn(ns, 'route', 'del', r.dst, 'dev', VXLAN_DEV);
  for (const n of neighs) if (!wantNeigh.has(n.dst)) await ipIn(ns, 'neigh', 'del', n.dst, 'dev', VXLAN_DEV);
  for (const f of fdb) {
    if (f.mac === '00:00:00:00:00:00' || wantFdb.get(f.mac) === f.dst) continue;
    await run('ip', ['netns', 'exec', ns, 'bridge', 'fdb', 'del', f.mac, 'dev', VXLAN_DEV, ...(f.dst ? ['dst', f.dst] : []), 'self']);
  }

  // Flannel's order: neighbour, FDB, then the route, so the kernel never has to ARP.
  for (const p of peers) {
    const gw = subnetAddress(p.subnet);
    const mac = p.vtepMac as string;
    if (!neighs.some((n) => n.dst === gw && n.lladdr?.toLowerCase() === mac.toLowerCase())) {
      await ipIn(ns, 'neigh', 'replace', gw, 'lladdr', mac, 'dev', VXLAN_DEV, 'nud', 'permanent');
    }
    if (!fdb.some((f) => f.mac === mac.toLowerCase() && f.dst === p.publicIp)) {
      await run('ip', ['netns', 'exec', ns, 'bridge', 'fdb', 'replace', mac, 'dev', VXLAN_DEV, 'dst', p.publicIp, 'self', 'permanent']);
    }
    if (!routes.some((r) => r.dst === p.subnet && r.gateway === gw)) {
      await ipIn(ns, 'route', 'replace', p.subnet, 'via', gw, 'dev', VXLAN_DEV, 'onlink');
    }
  }
  return peers.map((p) => p.subnet);
}

/** Makes `eth0` in `ns` route to exactly the host-gw leases other than `ownSubnet` (via their PublicIP). */
export async function syncHostGwPeers(ns: string, ownSubnet: string, network: string, leases: readonly Lease[]): Promise<string[]> {
  const peers = leases.filter((l) => l.backendType === 'host-gw' && l.subnet !== ownSubnet);
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

/** Subnets `flannel.1` (kernel) or `eth0` (host-gw) currently routes to, for status. */
export async function installedPeers(ns: string, kind: 'kernel' | 'underlay'): Promise<string[]> {
  const dev = kind === 'kernel' ? VXLAN_DEV : 'eth0';
  const routes = await ipJson<RouteEntry>(ns, 'route', 'show', 'dev', dev);
  return routes.filter((r) => r.gateway !== undefined && r.dst !== 'default').map((r) => r.dst);
}
