// A multi-node lab on one machine, entirely inside namespaces it creates (names start with the lab's
// prefix; nothing touches the root namespace):
//
//   <prefix>sw      bridge br0 (the underlay switch, 198.18.0.0/15, MTU 1500)
//   <prefix>etcd    etcd on 198.18.0.254:2379 (IPv6-only: [fd00:198:18::fe]:2379; `<etcdPrefix>/config`
//                   put by the lab)
//   <prefix>nodeN   eth0 198.18.0.N/15 (dual-stack: and fd00:198:18::N/64; IPv6-only: that alone),
//                   forwarding on, and one of:
//                     kernel   the lab acts as flanneld: lease in etcd, subnet.env, flannel.1
//                              (dual-stack: and flannel-v6.1; IPv6-only: flannel-v6.1 alone), peers
//                     weft     weftd, which leases, writes subnet.env and carries the packets
//                     underlay Flannel host-gw: lease, subnet.env, plain routes (no encapsulation)
//   <prefix>nodeN-podM   a pod wired to nodeN's cni0 by a real CNI plugin (pods.ts)
//
// A dual-stack lab (`dualStack`) adds EnableIPv6/IPv6Network to the network config, turns IPv6 on in
// each of its namespaces (only there), and gives pods an address of each family. An IPv6-only lab
// (`ipv6Only`) has EnableIPv4 false and no IPv4 anywhere: underlay, leases, subnet.env and pods.
//
// State (state.json, etcd data, subnet.env files, logs, host-local IPAM) lives under the state dir,
// /run/weft-lab/<prefix>/ by default. Every step is recorded before the next, so destroy() (or
// `npm run lab -- down` from another process) removes exactly what was created.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { etcdctl, etcdUrl, ETCD_IP, ETCD_IP6, listLeases, createUnderLease, startEtcd, waitEtcdHealthy } from './etcd.js';
import { addNetns, destroyNetns, listNetns } from './netns.js';
import { nsRun, runs, startDetached, stopPid } from './exec.js';
import { formatSubnetEnv, hostGwLeaseValue, leaseKey, subnetAddress, vxlan6OnlyLeaseValue, vxlanLeaseValue, type Lease } from './flannel-format.js';
import {
  configureFlannelDevice,
  configureFlannelDevice6,
  createFlannelDevice,
  createFlannelDevice6,
  installedPeers,
  syncHostGwPeers,
  syncVxlanPeers,
  syncVxlanPeers6,
  VNI,
} from './kernel-node.js';
import { OVERHEAD } from '../daemon/dataplane/constants.js';
import { DEFAULT_POD_NETWORK, type PodNetwork } from './pods.js';
import { defaultStateDir, familiesOf, loadState, saveState, type Families, type LabState, type NodeKind, type NodeRecord, type PodRecord, type ProcessRecord } from './state.js';
import { attach, createSwitch, enableForwarding, enableIpv6, UNDERLAY_MTU, underlayIp, underlayIp6 } from './underlay.js';
import { healthz, startWeftd, waitWeftdReady } from './weft-node.js';

export const NETWORK = '10.244.0.0/16';
/** The IPv6 pod network of a dual-stack lab, cut into /64s (Flannel's IPv6SubnetLen default for a /56). */
export const NETWORK6 = 'fd00:10:244::/56';
const SUBNET6_LEN = 64;
const DEFAULT_ETCD_PREFIX = '/coreos.com/network';
const LEASE_TTL_SECONDS = 24 * 3600;

export interface LabOptions {
  /** Namespace name prefix, e.g. `wl-`; also names the default state dir. */
  prefix: string;
  stateDir?: string;
  etcdPrefix?: string;
  /** How pods are wired (default: DEFAULT_POD_NETWORK). */
  podNetwork?: PodNetwork;
  /** IPv6 as well: v6 underlay, EnableIPv6 network config, dual-stack leases and pods. */
  dualStack?: boolean;
  /** IPv6 alone (EnableIPv4 false): v6 underlay, IPv6-only leases, subnet.env and pods. */
  ipv6Only?: boolean;
  /** Extra weftd flags for weft nodes. */
  weftdArgs?: readonly string[];
  /** Progress lines (the CLI prints them). */
  log?: (line: string) => void;
}

export interface NodeStatus extends NodeRecord {
  running: boolean | undefined;
  /** Subnets this node routes to over the overlay (kernel: flannel.1 routes; weft: /status). */
  peers: string[] | undefined;
  weftStatus?: unknown;
}

export interface LabStatus {
  prefix: string;
  stateDir: string;
  etcd: { ns: string; endpoint: string; healthy: boolean };
  leases: Lease[];
  nodes: NodeStatus[];
  pods: PodRecord[];
}

export class Lab {
  private readonly podNetwork: PodNetwork;
  private readonly weftdExtra: readonly string[];
  private readonly log: (line: string) => void;

  private constructor(readonly state: LabState, opts: Omit<LabOptions, 'prefix'>) {
    this.podNetwork = opts.podNetwork ?? DEFAULT_POD_NETWORK;
    this.weftdExtra = opts.weftdArgs ?? [];
    this.log = opts.log ?? (() => undefined);
  }

  /** Creates the switch and etcd, and puts the network config. Cleans up after itself on failure. */
  static async create(opts: LabOptions): Promise<Lab> {
    requireRoot();
    const stateDir = opts.stateDir ?? defaultStateDir(opts.prefix);
    if (loadState(stateDir)) {
      throw new LabError(`a lab already exists in ${stateDir}: remove it with \`npm run lab -- down --prefix ${opts.prefix}\``);
    }
    if (opts.dualStack && opts.ipv6Only) throw new LabError('a lab is dual-stack or IPv6-only, not both: drop one of the two options');
    const state: LabState = {
      version: 1,
      prefix: opts.prefix,
      stateDir,
      ...(opts.ipv6Only ? {} : { network: NETWORK }),
      ...(opts.dualStack || opts.ipv6Only ? { ipv6Network: NETWORK6 } : {}),
      etcdPrefix: opts.etcdPrefix ?? DEFAULT_ETCD_PREFIX,
      etcdEndpoint: etcdUrl(opts.ipv6Only ? ETCD_IP6 : ETCD_IP),
      switchNs: `${opts.prefix}sw`,
      etcdNs: `${opts.prefix}etcd`,
      createdAt: new Date().toISOString(),
      namespaces: [],
      processes: [],
      nodes: [],
      pods: [],
    };
    const lab = new Lab(state, opts);
    try {
      saveState(state);
      await lab.addNs(state.switchNs);
      await createSwitch(state.switchNs);
      await lab.addNs(state.etcdNs);
      if (lab.families.ipv4) await attach(state.switchNs, 'etcd', state.etcdNs, ETCD_IP);
      else await attach(state.switchNs, 'etcd', state.etcdNs, undefined, UNDERLAY_MTU, ETCD_IP6);
      const etcd = startEtcd(state.etcdNs, stateDir, lab.etcdIp);
      lab.recordProcess(etcd);
      await waitEtcdHealthy(state.etcdNs, etcd);
      await lab.etcdctl('put', `${state.etcdPrefix}/config`, JSON.stringify(networkConfig(state)));
      lab.log(`etcd ready at ${state.etcdEndpoint} (namespace ${state.etcdNs})`);
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** The lab saved in `stateDir` (default for `prefix`), for status and down from another process. */
  static open(prefix: string, stateDir = defaultStateDir(prefix), opts: Omit<LabOptions, 'prefix'> = {}): Lab | undefined {
    const state = loadState(stateDir);
    return state ? new Lab(state, opts) : undefined;
  }

  get nodes(): readonly NodeRecord[] {
    return this.state.nodes;
  }

  get pods(): readonly PodRecord[] {
    return this.state.pods;
  }

  node(name: string): NodeRecord {
    const n = this.state.nodes.find((x) => x.name === name);
    if (!n) throw new LabError(`no node ${name} in lab ${this.state.prefix} (nodes: ${this.state.nodes.map((x) => x.name).join(', ') || 'none'})`);
    return n;
  }

  pod(name: string): PodRecord {
    const p = this.state.pods.find((x) => x.name === name);
    if (!p) throw new LabError(`no pod ${name} in lab ${this.state.prefix}`);
    return p;
  }

  /**
   * Adds node `node<index>` (default: the next free index) of `kind`, attached to the switch, with
   * its network up: leased subnet, subnet.env, and (kernel, underlay) peers synced from etcd.
   */
  async addNode(kind: NodeKind, index = nextIndex(this.state.nodes)): Promise<NodeRecord> {
    if (index < 1 || index > 253) throw new LabError(`node index ${index} outside 1..253`);
    const name = `node${index}`;
    if (this.state.nodes.some((n) => n.name === name)) throw new LabError(`${name} already exists`);
    const dir = join(this.state.stateDir, name);
    mkdirSync(dir, { recursive: true });
    const f = this.families;
    if (f.ipv6 && kind === 'underlay') throw new LabError('a dual-stack or IPv6-only lab has kernel and weft nodes only (the lab does not build host-gw for IPv6)');
    const node: NodeRecord = { name, index, kind, ns: `${this.state.prefix}${name}`, underlayIp: f.ipv4 ? underlayIp(index) : underlayIp6(index), dir, subnetFile: join(dir, 'subnet.env') };
    if (f.ipv6) node.underlayIp6 = underlayIp6(index);
    this.state.nodes.push(node);
    await this.addNs(node.ns);
    await attach(this.state.switchNs, `n${index}`, node.ns, f.ipv4 ? node.underlayIp : undefined, UNDERLAY_MTU, node.underlayIp6);
    await enableForwarding(node.ns, f);
    if (kind === 'weft') await this.startWeftNode(node);
    else await this.startFlannelNode(node);
    saveState(this.state);
    this.log(`${name} (${kind}) up: ${[...new Set([node.underlayIp, node.underlayIp6])].filter(Boolean).join(' ')}, subnet ${[node.subnet, node.subnet6].filter(Boolean).join(' ')}, MTU ${node.mtu}`);
    return node;
  }

  /** Adds a pod namespace wired to `nodeName`'s cni0; returns it with its IP. */
  async addPod(nodeName: string): Promise<PodRecord> {
    const node = this.node(nodeName);
    const n = this.state.pods.filter((p) => p.node === nodeName).length + 1;
    const name = `${nodeName}-pod${n}`;
    const ns = `${this.state.prefix}${name}`;
    await this.addNs(ns);
    const { ip, ip6 } = await this.podNetwork.add({ node, podNs: ns, containerId: ns });
    const pod: PodRecord = { name, node: nodeName, ns, ip, ...(ip6 !== undefined ? { ip6 } : {}), containerId: ns };
    this.state.pods.push(pod);
    saveState(this.state);
    this.log(`${name} up: ${[...new Set([ip, ip6])].filter(Boolean).join(' ')} on ${nodeName}'s cni0 (${this.podNetwork.name})`);
    return pod;
  }

  /** Stops `nodeName`'s weftd (SIGTERM, then SIGKILL after `graceMs`); its lease stays in etcd. */
  async stopWeftd(nodeName: string, graceMs = 3_000): Promise<void> {
    const node = this.node(nodeName);
    for (const p of this.state.processes.filter((x) => x.ns === node.ns && x.role.startsWith('weftd'))) {
      await stopPid(p.pid, p.marker, graceMs);
      this.state.processes = this.state.processes.filter((x) => x !== p);
    }
    saveState(this.state);
  }

  /** Kills `nodeName`'s weftd with SIGKILL (no leave, no cleanup) and waits until it is gone. */
  async killWeftd(nodeName: string): Promise<void> {
    const node = this.node(nodeName);
    for (const p of this.state.processes.filter((x) => x.ns === node.ns && x.role.startsWith('weftd'))) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
      await stopPid(p.pid, p.marker, 0);
      this.state.processes = this.state.processes.filter((x) => x !== p);
    }
    saveState(this.state);
  }

  /**
   * Starts `nodeName`'s weftd again (after stopWeftd) and waits until it is ready; `extra`: weftd
   * arguments for this start only, after the lab's own (weftdArgs).
   */
  async startWeftd(nodeName: string, extra: readonly string[] = []): Promise<void> {
    const node = this.node(nodeName);
    if (node.kind !== 'weft') throw new LabError(`${nodeName} is a ${node.kind} node, not a weft node`);
    await this.startWeftNode(node, extra);
    saveState(this.state);
  }

  /** Stops the lab's etcd (by PID); its data dir stays, so startEtcd() brings the same cluster back. */
  async stopEtcd(): Promise<void> {
    for (const p of this.state.processes.filter((x) => x.role === 'etcd')) {
      await stopPid(p.pid, p.marker);
      this.state.processes = this.state.processes.filter((x) => x !== p);
    }
    saveState(this.state);
  }

  /** Starts the lab's etcd again (after stopEtcd) on its data dir and waits until it is healthy. */
  async startEtcd(): Promise<void> {
    if (this.state.processes.some((x) => x.role === 'etcd')) throw new LabError(`etcd of lab ${this.state.prefix} is already running`);
    const etcd = startEtcd(this.state.etcdNs, this.state.stateDir, this.etcdIp);
    this.recordProcess(etcd);
    await waitEtcdHealthy(this.state.etcdNs, etcd);
  }

  /** Re-reads every lease from etcd and reconciles the peers of each kernel and underlay node. */
  async syncKernelPeers(): Promise<void> {
    const leases = await this.leases();
    const { network } = this.state;
    for (const node of this.state.nodes) {
      if (node.kind === 'kernel' && node.subnet !== undefined) await syncVxlanPeers(node.ns, node.subnet, leases);
      if (node.kind === 'kernel' && node.subnet6 !== undefined) await syncVxlanPeers6(node.ns, node.subnet6, leases);
      if (node.kind === 'underlay' && node.subnet !== undefined && network !== undefined) await syncHostGwPeers(node.ns, node.subnet, network, leases);
    }
  }

  leases(): Promise<Lease[]> {
    return listLeases(this.state.etcdNs, this.state.etcdPrefix);
  }

  /** etcdctl against the lab's etcd (run in the etcd namespace). */
  etcdctl(...args: string[]): Promise<string> {
    return etcdctl(this.state.etcdNs, args);
  }

  /**
   * Starts a long-running `cmd` inside a lab namespace, logged to `<stateDir>/<role>.log` and recorded,
   * so destroy() (or `down`) stops it by PID.
   */
  startProcess(ns: string, role: string, cmd: string, args: readonly string[]): ProcessRecord {
    const log = join(this.state.stateDir, `${role.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`);
    const pid = startDetached(ns, cmd, args, log);
    const proc: ProcessRecord = { pid, role, ns, marker: cmd, log };
    this.recordProcess(proc);
    return proc;
  }

  /** Stops a process started by startProcess() (by PID) and forgets it. */
  async stopProcess(proc: ProcessRecord): Promise<void> {
    await stopPid(proc.pid, proc.marker);
    this.state.processes = this.state.processes.filter((p) => p !== proc);
    saveState(this.state);
  }

  /** Runs a command inside a lab namespace (a node's or a pod's, by ns name). */
  exec(ns: string, cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
    return nsRun(ns, cmd, args, { timeout: timeoutMs });
  }

  async status(): Promise<LabStatus> {
    const s = this.state;
    let leases: Lease[] = [];
    let healthy = false;
    try {
      leases = await this.leases();
      healthy = true;
    } catch {
      /* reported as unhealthy */
    }
    const nodes: NodeStatus[] = [];
    for (const node of s.nodes) {
      const proc = s.processes.find((p) => p.ns === node.ns);
      const st: NodeStatus = { ...node, running: undefined, peers: undefined };
      if (node.kind === 'weft') {
        st.running = proc !== undefined && runs(proc.pid, proc.marker);
        const body = await healthz(node.ns, '/status');
        if (body !== undefined) {
          st.weftStatus = parseJson(body);
          st.peers = peersFromWeftStatus(st.weftStatus, node.subnet6 !== undefined ? leases : []);
        }
      } else {
        st.peers = await installedPeers(node.ns, node.kind, this.families).catch(() => undefined);
      }
      nodes.push(st);
    }
    return { prefix: s.prefix, stateDir: s.stateDir, etcd: { ns: s.etcdNs, endpoint: s.etcdEndpoint, healthy }, leases, nodes, pods: [...s.pods] };
  }

  /** Stops every process and removes every namespace and the state dir. Safe to call twice. */
  async destroy(): Promise<void> {
    const s = this.state;
    for (const p of [...s.processes].reverse()) await stopPid(p.pid, p.marker);
    const names = new Set([...s.namespaces].reverse());
    for (const n of labNamespaces(s.prefix)) names.add(n);
    // Whatever still runs inside a lab namespace is the lab's (started there by it); destroyNetns kills it.
    for (const ns of names) await destroyNetns(ns);
    rmSync(s.stateDir, { recursive: true, force: true });
    s.processes = [];
    s.namespaces = [];
  }

  private async startFlannelNode(node: NodeRecord): Promise<void> {
    const kernel = node.kind === 'kernel';
    const { network, ipv6Network } = this.state;
    const f = this.families;
    // Flannel's FLANNEL_MTU: the underlay's less 50, for IPv6 too (flannel-v6.1 itself is capped at 70 less).
    node.mtu = kernel ? UNDERLAY_MTU - OVERHEAD : UNDERLAY_MTU;
    if (kernel && f.ipv4) node.vtepMac = await createFlannelDevice(node.ns, node.underlayIp, node.mtu);
    if (kernel && node.underlayIp6 !== undefined) node.vtepMac6 = await createFlannelDevice6(node.ns, node.underlayIp6, UNDERLAY_MTU);
    const v6 = node.underlayIp6 !== undefined && node.vtepMac6 !== undefined ? { publicIp: node.underlayIp6, vtepMac: node.vtepMac6 } : undefined;
    let value = hostGwLeaseValue(node.underlayIp);
    if (kernel) value = f.ipv4 ? vxlanLeaseValue(node.underlayIp, VNI, node.vtepMac as string, v6) : vxlan6OnlyLeaseValue(VNI, v6 as NonNullable<typeof v6>);
    const held = await this.acquireSubnet(node.index, value);
    if (held.subnet !== undefined) node.subnet = held.subnet;
    if (held.subnet6 !== undefined) node.subnet6 = held.subnet6;
    saveState(this.state);
    const env4 = network !== undefined && node.subnet !== undefined ? { network, subnet: node.subnet } : {};
    const env6 = ipv6Network !== undefined && node.subnet6 !== undefined ? { ipv6Network, subnet6: node.subnet6 } : {};
    writeFileSync(node.subnetFile, formatSubnetEnv({ ...env4, ...env6, mtu: node.mtu, ipMasq: false }));
    if (kernel && node.subnet !== undefined) await configureFlannelDevice(node.ns, node.subnet);
    if (kernel && node.subnet6 !== undefined) await configureFlannelDevice6(node.ns, node.subnet6);
    await this.syncKernelPeers();
  }

  private async startWeftNode(node: NodeRecord, extra: readonly string[] = []): Promise<void> {
    const proc = startWeftd(node, this.state.etcdEndpoint, this.state.etcdPrefix, [...this.weftdExtra, ...extra]);
    this.recordProcess(proc);
    const env = await waitWeftdReady(node, proc);
    if (env.subnet !== undefined) node.subnet = env.subnet;
    if (env.subnet6 !== undefined) node.subnet6 = env.subnet6;
    node.mtu = env.mtu;
    if (!this.state.processes.some((x) => x.role === 'etcd')) return; // stopped by stopEtcd(): weftd started from its state cache
    const own = (await this.leases()).find((l) => (env.subnet !== undefined ? l.subnet === env.subnet : l.subnet6 === env.subnet6));
    if (own?.vtepMac) node.vtepMac = own.vtepMac;
    if (own?.vtepMac6) node.vtepMac6 = own.vtepMac6;
    await this.syncKernelPeers();
  }

  /**
   * flanneld's acquire, simplified: 10.244.<index>.0/24 if free, else the first free /24; dual-stack,
   * with fd00:10:244:<index in hex>::/64 beside it (both free); IPv6-only, that /64 alone;
   * create-if-absent.
   */
  private async acquireSubnet(index: number, value: string): Promise<{ subnet?: string; subnet6?: string }> {
    const f = this.families;
    const leases = await this.leases();
    const taken = new Set(leases.flatMap((l) => (l.subnet === undefined ? [] : [l.subnet])));
    const taken6 = new Set(leases.flatMap((l) => (l.subnet6 === undefined ? [] : [l.subnet6])));
    const base = NETWORK.split('.').slice(0, 2).join('.');
    const base6 = subnetAddress(NETWORK6).replace(/::$/, '');
    const order = [index, ...Array.from({ length: 254 }, (_, i) => i + 1).filter((i) => i !== index)];
    for (const n of order) {
      const subnet = f.ipv4 ? `${base}.${n}.0/24` : undefined;
      const subnet6 = f.ipv6 ? `${base6}:${n.toString(16)}::/${SUBNET6_LEN}` : undefined;
      if ((subnet !== undefined && taken.has(subnet)) || (subnet6 !== undefined && taken6.has(subnet6))) continue;
      if (await createUnderLease(this.state.etcdNs, leaseKey(this.state.etcdPrefix, subnet, subnet6), value, LEASE_TTL_SECONDS)) {
        return { ...(subnet !== undefined ? { subnet } : {}), ...(subnet6 !== undefined ? { subnet6 } : {}) };
      }
    }
    throw new LabError(`no free subnet left in ${[this.state.network, this.state.ipv6Network].filter(Boolean).join(' and ')}`);
  }

  /** The address families this lab carries. */
  get families(): Families {
    return familiesOf(this.state);
  }

  /** etcd's underlay address: IPv4, or IPv6 in an IPv6-only lab. */
  private get etcdIp(): string {
    return this.families.ipv4 ? ETCD_IP : ETCD_IP6;
  }

  private async addNs(ns: string): Promise<void> {
    this.state.namespaces.push(ns);
    saveState(this.state);
    await addNetns(ns);
    if (this.families.ipv6) await enableIpv6(ns);
  }

  private recordProcess(p: ProcessRecord): void {
    this.state.processes.push(p);
    saveState(this.state);
  }
}

/** The network config the lab puts at `<etcdPrefix>/config` (IPv6-only: EnableIPv4 false, no Network). */
export function networkConfig(s: Pick<LabState, 'network' | 'ipv6Network'>): object {
  return {
    ...(s.network !== undefined ? { Network: s.network } : { EnableIPv4: false }),
    ...(s.ipv6Network !== undefined ? { EnableIPv6: true, IPv6Network: s.ipv6Network, IPv6SubnetLen: SUBNET6_LEN } : {}),
    Backend: { Type: 'vxlan' },
  };
}

function nextIndex(nodes: readonly NodeRecord[]): number {
  return nodes.reduce((m, n) => Math.max(m, n.index), 0) + 1;
}

function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new LabError('the lab creates network namespaces: run it as root');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Peers from weftd's /status (`peers: [{subnet, state, …}]`), as `subnet [subnet6] (state)`: a
 * dual-stack weft node routes a peer's IPv6 subnet with its IPv4 one, so `leases6` (the leases, for
 * a dual-stack node; else none) names it.
 */
function peersFromWeftStatus(status: unknown, leases6: readonly Lease[]): string[] | undefined {
  const peers = (status as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers)) return undefined;
  return peers.map((p: { subnet?: unknown; state?: unknown }) => {
    const subnet6 = leases6.find((l) => l.subnet !== undefined && l.subnet === p.subnet)?.subnet6;
    return `${String(p.subnet)}${subnet6 !== undefined ? ` ${subnet6}` : ''}${typeof p.state === 'string' ? ` (${p.state})` : ''}`;
  });
}

/** Lab namespaces that exist now: `<prefix>` followed by sw, etcd, nodeN or nodeN-podM. */
export function labNamespaces(prefix: string): string[] {
  return listNetns().filter((n) => n.startsWith(prefix) && /^(sw|etcd|node\d+)(-pod\d+)?$/.test(n.slice(prefix.length)));
}
