// The lab's state file, `<stateDir>/state.json`: everything the lab created (namespaces, processes,
// nodes, pods), written after every step so that `down` (or cleanup after a failed `up`) can remove
// exactly that, even from another process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../daemon/control/write-file-atomic.js';

export type NodeKind = 'kernel' | 'weft' | 'underlay';

export interface ProcessRecord {
  pid: number;
  role: string;
  ns: string;
  /** A string of the command line that identifies the process (guards against PID reuse). */
  marker: string;
  log: string;
}

export interface NodeRecord {
  name: string;
  index: number;
  kind: NodeKind;
  ns: string;
  /** eth0's primary address: IPv4 (PublicIP), or IPv6 in an IPv6-only lab (then equal to underlayIp6). */
  underlayIp: string;
  dir: string;
  subnetFile: string;
  /** Node IPv4 subnet, e.g. `10.244.1.0/24`, once leased (never in an IPv6-only lab). */
  subnet?: string;
  mtu?: number;
  vtepMac?: string;
  /** Dual-stack or IPv6-only lab: eth0's IPv6 address (PublicIPv6), the leased IPv6 subnet and `flannel-v6.1`'s MAC. */
  underlayIp6?: string;
  subnet6?: string;
  vtepMac6?: string;
}

export interface PodRecord {
  name: string;
  node: string;
  ns: string;
  /** The pod's primary address, as Kubernetes' podIP: IPv4, or IPv6 in an IPv6-only lab (then equal to ip6). */
  ip: string;
  /** Dual-stack or IPv6-only lab: the pod's IPv6 address. */
  ip6?: string;
  containerId: string;
}

export interface LabState {
  version: 1;
  prefix: string;
  stateDir: string;
  /** The IPv4 pod network; undefined in an IPv6-only lab (EnableIPv4 false). */
  network?: string;
  /** Dual-stack or IPv6-only lab: the IPv6 pod network (EnableIPv6, IPv6Network); undefined for IPv4 only. */
  ipv6Network?: string;
  etcdPrefix: string;
  etcdEndpoint: string;
  switchNs: string;
  etcdNs: string;
  createdAt: string;
  /** In creation order; removed in reverse. */
  namespaces: string[];
  processes: ProcessRecord[];
  nodes: NodeRecord[];
  pods: PodRecord[];
}

/** The address families a lab carries: IPv4 (Network), IPv6 (EnableIPv6), or both (dual-stack). */
export interface Families {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

export function familiesOf(s: Pick<LabState, 'network' | 'ipv6Network'>): Families {
  return { ipv4: s.network !== undefined, ipv6: s.ipv6Network !== undefined };
}

const STATE_ROOT = '/run/weft-lab';

export function defaultStateDir(prefix: string): string {
  return join(STATE_ROOT, prefix.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function stateFile(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export function saveState(state: LabState): void {
  writeFileAtomic(stateFile(state.stateDir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
}

/** The saved state, or undefined when there is none. */
export function loadState(stateDir: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(stateDir), 'utf8');
  } catch {
    return undefined;
  }
  return JSON.parse(text) as LabState;
}
