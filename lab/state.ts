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
  underlayIp: string;
  dir: string;
  subnetFile: string;
  /** Node subnet, e.g. `10.244.1.0/24`, once leased. */
  subnet?: string;
  mtu?: number;
  vtepMac?: string;
  /** Dual-stack lab: eth0's IPv6 address (PublicIPv6), the leased IPv6 subnet and `flannel-v6.1`'s MAC. */
  underlayIp6?: string;
  subnet6?: string;
  vtepMac6?: string;
}

export interface PodRecord {
  name: string;
  node: string;
  ns: string;
  ip: string;
  /** Dual-stack lab: the pod's IPv6 address. */
  ip6?: string;
  containerId: string;
}

export interface LabState {
  version: 1;
  prefix: string;
  stateDir: string;
  network: string;
  /** Dual-stack lab: the IPv6 pod network (EnableIPv6, IPv6Network); undefined for IPv4 only. */
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
