// Dataplane: one TUN device + one UDP socket + the native engine polling both, with the
// Forwarder doing the packet logic per batch.
//
//   Dataplane.open(opts) ──► up ──setRoutes(table)* / applyRoutes(deltas)*──► up ──close()──► closed
//   (open: TUN created or reattached, addressed <subnet>.0/32, MTU set, route Network dev TUN, UDP
//   bound, polling.)
//
// Persistence (opts.persist): the TUN is made persistent and owned by the process's euid, so close()
// (and a crash) leaves it with its address and route; packets routed to it meanwhile are dropped by
// the kernel, and the next open() by name reattaches. Offload flags are per attachment and reset by
// open(), so a device left with other offloads is reused as is; a name held by another process
// (EBUSY) or by something that is not a single-queue TUN (EINVAL) fails open() — the control plane
// removes such a device first (daemon/control/reconcile). close({ removeTun: true }) removes it.
//
// Offloads (both on by default, each a flag; the wire format never changes): UDP GSO/GRO on the
// underlay socket, and a TUN with virtio-net headers (TSO reads cut into datagrams, received TCP
// runs coalesced into GSO writes). Measured in one run on this machine (2 weft nodes in netns,
// iperf3 -C cubic, 4 s; kernel VXLAN 10.6–13.0 Gbit/s): none 771–798 Mbit/s, UDP only
// 823–1215, UDP + TUN 3463–4337 (0.27–0.41× kernel VXLAN).
//
// Thread: the engine runs on the event loop of the thread that opens it. weftd opens it on a worker
// thread (threaded-dataplane.ts): on a loaded machine main vs worker measured alike, but on a quiet
// one the control plane's work on the main loop (gossip, gRPC, etcd) added a 2-9 ms tail to pod
// RTT that the worker removes (figures in threaded-dataplane.ts).
import { WeftError } from '../errors.js';
import { formatIpv4, requireIpv4, requireSubnet } from '../net/ipv4.js';
import { formatCidr6, formatIpv6, ipv6Bytes, ipv6FromBytes, parseSubnet6, requireIpv6 } from '../net/ipv6.js';
import { requireMac } from '../net/mac.js';
import {
  DEFAULT_BATCH,
  DEFAULT_SOCKET_BUFFER,
  DEFAULT_CSUM_ELISION,
  DEFAULT_TUN_NAME,
  DEFAULT_TUN_OFFLOADS,
  DEFAULT_UDP_OFFLOADS,
  DEFAULT_VNI,
  DEFAULT_VXLAN_PORT,
  HEADROOM,
  MAX_BATCH,
  OVERHEAD,
  TUN_FLAG_PERSIST,
  TUN_FLAG_VNET_HDR,
  UDP_FLAG_FREEBIND,
  UDP_FLAG_GRO,
  UDP_RX_OFFSET,
  VXLAN_MAX_VNI,
} from './constants.js';
import { COUNT_NAMES, DROP_NAMES, PEER_FIELDS, PeerCount } from './counters.js';
import { allocateBatchMemory, Forwarder, maxSegments, type ForwarderOptions } from './forwarder.js';
import { loadNative, NATIVE_STAT_NAMES, NativeStat, type Engine } from './native.js';
import { RouteTable, type Layout6, type RouteDelta } from './route-table.js';
import { disableIpv6, quietIpv6, tunLink } from './tun-link.js';
import { warmUp, type WarmUpResult } from './warm-up.js';

export interface DataplaneOptions {
  /** TUN device name (default 'weft0'). */
  readonly tunName?: string;
  /** TUN MTU = underlay MTU − 50 (OVERHEAD); also FLANNEL_MTU. */
  readonly tunMtu: number;
  /** Overlay Network, '10.244.0.0/16': routed through the TUN. */
  readonly network: string;
  readonly subnetLen: number;
  /** This node's lease, '10.244.1.0/24'; the TUN gets its .0 as a /32. */
  readonly localSubnet: string;
  /** Backend.VNI (default 1). */
  readonly vni?: number;
  /** Backend.Port, bound locally and used towards peers (default 8472). */
  readonly port?: number;
  /**
   * The node's IPv6 underlay address ('::': any): a second underlay socket is bound to it (same
   * port, IPv6 only, the same offloads; bound even while the address is still in duplicate address
   * detection), polled by the same thread. Peers' publicIpv6 are then reachable over IPv6 (udpOut
   * entries with OUT_V6), and datagrams from them arrive flagged IN_FLAG_V6 with their slot.
   */
  readonly localIpv6?: string;
  /** Underlay address to bind (the node's PublicIP). */
  readonly localIp: string;
  /** Our VTEP MAC (the lease's BackendData.VtepMAC). */
  readonly localVtepMac: string;
  /**
   * Dual-stack: IPv6Network and IPv6SubnetLen (default 64), this node's IPv6 subnet and IPv6 VTEP
   * MAC (BackendV6Data.VtepMAC). With them the TUN carries IPv6 (quietly: no autoconfiguration,
   * DAD or router solicitations; its address and route are added by the control plane's
   * reconcile), and route tables must have the same IPv6 layout.
   */
  readonly network6?: string;
  readonly subnetLen6?: number;
  readonly localSubnet6?: string;
  readonly localVtepMac6?: string;
  /**
   * An IPv6-only network: network, subnetLen and localSubnet are ipv6OnlyLayout's stand-ins (see
   * route-table.ts), network6, localSubnet6 and localIpv6 are required, localIp is ignored. The TUN
   * gets no IPv4 address or route, the engine only the IPv6 underlay socket, and every peer is
   * reached over it.
   */
  readonly ipv6Only?: boolean;
  /** Packets per batch (default 64, max 1024). */
  readonly batchSize?: number;
  /** UDP socket buffer sizes in bytes (default 4 MiB each; forced past rmem_max when root). */
  readonly sendBuffer?: number;
  readonly receiveBuffer?: number;
  /**
   * UDP GSO on send (runs of equal-size datagrams to one peer as one UDP_SEGMENT message) and
   * UDP GRO on receive. The wire is unchanged: every datagram is a standard VXLAN frame, and a
   * peer without offloads (kernel VXLAN, older weft) receives them one by one. Default true.
   */
  readonly udpOffloads?: boolean;
  /**
   * TUN offloads: IFF_VNET_HDR with TSO4, TSO6 and checksum offload, so the kernel hands over up to 64 KiB
   * of one TCP flow per read, cut here into MTU-sized VXLAN datagrams; and received TCP runs are
   * coalesced into one GSO write. The wire is unchanged. Default true.
   */
  readonly tunOffloads?: boolean;
  /**
   * TUN transmit queue length in packets (default 5000; the kernel's 500 overflowed in bursts of
   * small packets before weft could read them: UDP 64 B received rose 50% in the netns lab).
   */
  readonly tunQueueLength?: number;
  /**
   * Checksum elision towards weft peers that advertise it (PeerSpec.csumElision): TSO reads are cut
   * with partial inner checksums and marked, so neither end sums payload bytes. Needs tunOffloads.
   * Frames towards kernel VXLAN peers always carry full checksums. Default true.
   */
  readonly csumElision?: boolean;
  /**
   * Interrupt moderation of TUN reads, in ns (0: off): a read of a few UDP datagrams soon after the
   * previous one waits this long for more, so that a flood of small datagrams is sent in batches
   * instead of one wake-up and one send each. Measured on 2 vCPUs (UDP 64 B, data plane thread at
   * SCHED_FIFO): weftd CPU per 1000 datagrams 13–15 ms without, 7 ms with 30 µs. Default 30 µs.
   */
  readonly readModerationNs?: number;
  /**
   * Busy polling, in ns (0: off): after a wake-up out of silence (a lone request, a ping), the data
   * plane thread polls for the answer this long instead of sleeping, which saves a wake-up per hop
   * of a round trip (on a VM, waking a halted vCPU). Never while traffic keeps it busy. Default 200 µs.
   */
  readonly busyPollNs?: number;
  /**
   * The decision cache (native/weft_replay.h): a lone IPv4 packet whose key (destination; or sender,
   * inner addresses and encap header) matches one TypeScript just decided is forwarded by the engine
   * with that decision, without a call into JavaScript; forgotten at every route change, counted
   * exactly (io.replayedOut/replayedIn). Default true.
   */
  readonly decisionCache?: boolean;
  /**
   * Run the per-packet code over synthetic traffic before the first packet, so that V8 optimizes it
   * at start rather than in the packet path (warm-up.ts). Default true.
   */
  readonly warmUp?: boolean;
  /** Initial routes (default: none). */
  readonly routes?: RouteTable;
  /** Keep the TUN (address, MTU, route) after close() and process exit; see the header. Default false. */
  readonly persist?: boolean;
}

export interface PeerStats {
  subnet: string;
  publicIp: string;
  nodeName?: string;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

export interface DataplaneStats {
  /**
   * txPackets, txBytes, rxPackets, rxBytes (inner IP), icmpSent, checksumsFinished, segmented,
   * superPackets, coalescedRuns, coalescedSegments.
   */
  totals: Record<string, number>;
  /** Drops by reason (names in counters.ts DROP_NAMES), including zeros. */
  drops: Record<string, number>;
  /** Syscall-level counters from the addon (reads, writes, batches, send drops, errors). */
  io: Record<string, number>;
  /** Per routed peer subnet, accumulated across route changes while it stays routed. */
  peers: PeerStats[];
}

/**
 * Per-peer counters of the peers that carried traffic, as numbers: what the data plane thread posts
 * (a memcpy to clone, nothing formatted on that thread; peersOfWire() formats on the reader's).
 */
export interface PeerCountersWire {
  readonly subnetLen: number;
  readonly subnetBase: Int32Array;
  readonly publicIp: Int32Array;
  /** PEER_FIELDS per peer, in PeerCount order. */
  readonly counters: Float64Array;
  readonly nodeNames: readonly (string | undefined)[];
  /** An IPv6-only table: the peers' IPv6 subnets (indexes of layout6's network) and public IPv6s (16 bytes each), shown instead. */
  readonly v6Only?: { readonly layout6: Layout6; readonly subnet6Index: Int32Array; readonly publicIp6: Uint8Array };
}

/** DataplaneStats with the peers as numbers, and only those with traffic. */
export type DataplaneStatsWire = Omit<DataplaneStats, 'peers'> & { readonly peers: PeerCountersWire };

const MIN_MTU = 576;
const DEFAULT_READ_MODERATION_NS = 30_000;
const DEFAULT_BUSY_POLL_NS = 200_000;
const DEFAULT_TUN_QUEUE_LENGTH = 5000;
const MAX_MTU = 9000;

export class Dataplane {
  readonly tunName: string;
  readonly mtu: number;
  private readonly forwarder: Forwarder;
  private readonly engine: Engine;
  private readonly nstats: Float64Array;
  /** open() attached to a TUN that already existed (left by an earlier process). */
  readonly reattached: boolean;
  /** What the JIT warm-up took, or why it was skipped. */
  readonly warmUp: WarmUpResult;
  private readonly tunFd: number;
  /** The engine has an IPv6 underlay socket: its peer table follows the route table's publicIpv6. */
  private readonly underlay6: boolean;
  private closed = false;

  private constructor(tunName: string, mtu: number, forwarder: Forwarder, engine: Engine, nstats: Float64Array, tunFd: number, reattached: boolean, underlay6: boolean, warmUp: WarmUpResult) {
    this.tunName = tunName;
    this.warmUp = warmUp;
    this.underlay6 = underlay6;
    this.mtu = mtu;
    this.tunFd = tunFd;
    this.reattached = reattached;
    this.forwarder = forwarder;
    this.engine = engine;
    this.nstats = nstats;
  }

  /**
   * Creates and configures the TUN, binds the UDP socket and starts forwarding. Needs
   * CAP_NET_ADMIN. Throws WeftError (WEFT_ERR_CONFIG, WEFT_ERR_TUN, WEFT_ERR_UNDERLAY,
   * WEFT_ERR_NATIVE); on failure nothing is left open.
   */
  static open(opts: DataplaneOptions): Dataplane {
    const network = requireSubnet('network', opts.network);
    const local = requireSubnet('localSubnet', opts.localSubnet);
    const localIp = requireIpv4('localIp', opts.localIp);
    const localIpv6 = opts.localIpv6 === undefined ? undefined : ipv6Bytes(requireIpv6('localIpv6', opts.localIpv6));
    const mac = requireMac('localVtepMac', opts.localVtepMac);
    const vni = opts.vni ?? DEFAULT_VNI;
    const port = opts.port ?? DEFAULT_VXLAN_PORT;
    const batch = opts.batchSize ?? DEFAULT_BATCH;
    const tunName = opts.tunName ?? DEFAULT_TUN_NAME;
    const mtu = opts.tunMtu;
    const offloads = opts.udpOffloads ?? DEFAULT_UDP_OFFLOADS;
    const tso = opts.tunOffloads ?? DEFAULT_TUN_OFFLOADS;
    checkRange('vni', vni, 0, VXLAN_MAX_VNI);
    checkRange('port', port, 1, 65535);
    checkRange('batchSize', batch, 1, MAX_BATCH);
    checkRange('tunMtu', mtu, MIN_MTU, MAX_MTU);
    if (local.len !== opts.subnetLen) {
      throw new WeftError('WEFT_ERR_CONFIG', `localSubnet ${opts.localSubnet} is not a /${opts.subnetLen} (SubnetLen)`);
    }
    const ipv6Only = opts.ipv6Only === true;
    if (ipv6Only && (opts.network6 === undefined || localIpv6 === undefined)) throw new WeftError('WEFT_ERR_CONFIG', 'an IPv6-only data plane needs network6, localSubnet6 and localIpv6');
    const routes = opts.routes ?? RouteTable.build({ network: opts.network, subnetLen: opts.subnetLen, network6: opts.network6, subnetLen6: opts.subnetLen6, ipv6Only, peers: [] });
    checkTable(routes, network.base, network.len, opts.subnetLen);
    if (routes.subnetIndex(local.base) < 0) {
      throw new WeftError('WEFT_ERR_CONFIG', `localSubnet ${opts.localSubnet} is outside network ${opts.network}`);
    }
    const v6 = dualStack(opts, routes);

    const native = loadNative();
    const slotSize = Math.ceil((HEADROOM + (tso ? 65535 : mtu + OVERHEAD)) / 64) * 64;
    const segments = maxSegments(mtu);
    // A UDP slot holds a 64 KiB datagram plus the headers its segmentation adds (segment.ts).
    const udpSlotSize = Math.ceil((UDP_RX_OFFSET + 65535 + segments * 120) / 64) * 64;
    const mem = allocateBatchMemory(batch, slotSize, udpSlotSize, mtu);
    const nstats = new Float64Array(NATIVE_STAT_NAMES.length);
    const forwarderOpts: ForwarderOptions = {
      vni,
      port,
      localSubnetBase: local.base,
      localVtepMac: mac,
      mtu,
      udpCapacity: udpSlotSize - UDP_RX_OFFSET,
      tunOffloads: tso,
      csumElision: opts.csumElision ?? DEFAULT_CSUM_ELISION,
      underlay6: localIpv6 !== undefined,
      ...(v6 ? { localSubnet6Index: v6.index, localVtepMac6: v6.mac } : {}),
    };
    const warmed = opts.warmUp === false ? { skipped: 'turned off' } : warmUp(forwarderOpts, { routes, slotSize, udpSlotSize });
    const forwarder = new Forwarder(mem, routes, forwarderOpts);

    let tun: { fd: number; name: string; existed: boolean };
    try {
      tun = native.openTun(tunName, (tso ? TUN_FLAG_VNET_HDR : 0) | (opts.persist ? TUN_FLAG_PERSIST : 0));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const hint =
        code === 'EBUSY' ? `another process holds ${tunName}: is another weftd running here?`
        : code === 'EINVAL' ? `${tunName} exists and is not a single-queue TUN: remove it with \`ip link del ${tunName}\``
        : 'needs CAP_NET_ADMIN and /dev/net/tun';
      throw new WeftError('WEFT_ERR_TUN', `cannot create TUN ${tunName}: ${(err as Error).message} (${hint})`, { cause: err });
    }
    let udpFd = -1;
    let udp6Fd = -1;
    try {
      const link = tunLink(tun.name, mtu, opts.network, opts.localSubnet);
      const address = requireSubnet('address', link.address!);
      if (v6) quietIpv6(link.name);
      else disableIpv6(link.name);
      try {
        // IPv6-only: no IPv4 address (0, 0) or route; the IPv6 ones are the control plane's reconcile's.
        native.configureLink(link.name, link.mtu, ipv6Only ? 0 : address.base, ipv6Only ? 0 : address.len, opts.tunQueueLength ?? DEFAULT_TUN_QUEUE_LENGTH);
        if (!ipv6Only) native.addRoute(link.name, network.base, network.len);
      } catch (err) {
        throw new WeftError('WEFT_ERR_TUN', `cannot configure ${link.name} (mtu ${link.mtu}, ${ipv6Only ? 'no IPv4 address' : `${link.address}, route ${link.network}`}): ${(err as Error).message}`, { cause: err });
      }
      try {
        if (!ipv6Only) udpFd = native.openUdp(
          localIp,
          port,
          opts.sendBuffer ?? DEFAULT_SOCKET_BUFFER,
          opts.receiveBuffer ?? DEFAULT_SOCKET_BUFFER,
          offloads ? UDP_FLAG_GRO : 0,
        );
      } catch (err) {
        throw new WeftError('WEFT_ERR_UNDERLAY', `cannot bind UDP ${opts.localIp}:${port}: ${(err as Error).message} (is localIp an address of this node, and the port free?)`, { cause: err });
      }
      if (localIpv6) {
        try {
          udp6Fd = native.openUdp6(localIpv6, port, opts.sendBuffer ?? DEFAULT_SOCKET_BUFFER, opts.receiveBuffer ?? DEFAULT_SOCKET_BUFFER, (offloads ? UDP_FLAG_GRO : 0) | UDP_FLAG_FREEBIND);
        } catch (err) {
          throw new WeftError('WEFT_ERR_UNDERLAY', `cannot bind UDP [${opts.localIpv6}]:${port}: ${(err as Error).message} (is the port free?)`, { cause: err });
        }
      }
      const engine = native.createEngine({
        tunFd: tun.fd,
        udpFd,
        udp6Fd,
        ...mem,
        nstats,
        tunRxBase: 0,
        udpRxBase: batch * slotSize,
        slotSize,
        udpSlotSize,
        headroom: HEADROOM,
        udpRxOffset: UDP_RX_OFFSET,
        batch,
        udpGso: offloads ? 1 : 0,
        tunVnetHdr: tso ? 1 : 0,
        moderateNs: opts.readModerationNs ?? DEFAULT_READ_MODERATION_NS,
        busyPollNs: opts.busyPollNs ?? DEFAULT_BUSY_POLL_NS,
        replayMtu: (opts.decisionCache ?? true) ? mtu : 0,
        onTun: forwarder.onTun,
        onUdp: forwarder.onUdp,
      });
      const dp = new Dataplane(tun.name, mtu, forwarder, engine, nstats, tun.fd, tun.existed, udp6Fd >= 0, warmed);
      dp.syncPeers6();
      dp.resetReplay();
      return dp;
    } catch (err) {
      if (opts.persist && !tun.existed) native.setTunPersist(tun.fd, false);
      native.closeFd(tun.fd);
      if (udpFd >= 0) native.closeFd(udpFd);
      if (udp6Fd >= 0) native.closeFd(udp6Fd);
      if (err instanceof WeftError) throw err;
      throw new WeftError('WEFT_ERR_NATIVE', `cannot start the data plane engine: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The table in use. */
  get routes(): RouteTable {
    return this.forwarder.routes;
  }

  /**
   * Swaps the route table (a snapshot: start, resync); takes effect at the next batch, and the table
   * is the data plane's from then on. It must be built for the same network and subnetLen.
   * Per-peer counters of subnets the new table still routes carry over; those of subnets it no
   * longer routes are dropped (a peer routed again starts at 0). O(peers).
   */
  setRoutes(table: RouteTable): void {
    const old = this.forwarder.routes;
    if (table === old) return;
    checkTable(table, old.networkBase >>> 0, old.networkPrefixLen, old.subnetLen);
    if (old.v6 !== undefined && (table.v6 === undefined || table.v6.network.base !== old.v6.network.base || table.v6.network.len !== old.v6.network.len || table.v6.size !== old.v6.size)) {
      throw new WeftError('WEFT_ERR_CONFIG', 'route table has no IPv6 layout, or another one than the data plane: rebuild it with the data plane\'s network6 and subnetLen6');
    }
    table.takeCounters(old);
    this.forwarder.routes = table;
    this.syncPeers6();
    this.resetReplay();
  }

  /**
   * Applies route changes to the table in use, in order; O(1) each. Call between batches (any
   * call from this thread's event loop is: a batch runs inside one native callback). A peer upserted
   * at a routed subnet keeps its counters; a removed one loses them.
   */
  applyRoutes(deltas: readonly RouteDelta[]): void {
    const table = this.forwarder.routes;
    if (!this.underlay6) table.apply(deltas);
    else {
      const native = loadNative();
      for (const d of deltas) {
        if (d.op === 'upsert') {
          this.syncPeer6(table, table.upsert(d.peer));
          continue;
        }
        const slot = table.slotOf(d.subnetBase);
        if (table.remove(d.subnetBase)) native.setPeer6(this.engine, slot, null);
      }
    }
    this.resetReplay();
  }

  /** The engine's decision cache forgets the old routes and counts into the table in use (which may have grown). */
  private resetReplay(): void {
    loadNative().resetReplay(this.engine, this.forwarder.routes.peerCounters, this.forwarder.counts);
  }

  /** The engine's IPv6 peers, all from the table in use (a new table: slots differ). */
  private syncPeers6(): void {
    if (!this.underlay6) return;
    const table = this.forwarder.routes;
    loadNative().clearPeers6(this.engine);
    for (const slot of table.slots()) this.syncPeer6(table, slot);
  }

  private syncPeer6(table: RouteTable, slot: number): void {
    loadNative().setPeer6(this.engine, slot, table.hasPublicIp6(slot) ? table.peerPublicIp6.slice(slot * 16, slot * 16 + 16) : null);
  }

  /** Packets read from the TUN and datagrams received, a cheap test for "anything happened". */
  packetsSeen(): number {
    return this.nstats[NativeStat.TUN_READ_PACKETS] + this.nstats[NativeStat.UDP_RECV_PACKETS];
  }

  /** Calls `hook` once, on this thread, before the next packet is handled. */
  onNextPacket(hook: () => void): void {
    this.forwarder.onNextPacket(hook);
  }

  /** Counters, every routed peer's included (O(peers), formatted). */
  stats(): DataplaneStats {
    return { ...this.totals(), peers: peerStats(this.forwarder.routes) };
  }

  /** Counters with only the peers that carried traffic, as numbers (see PeerCountersWire). */
  statsWire(): DataplaneStatsWire {
    return { ...this.totals(), peers: activePeers(this.forwarder.routes) };
  }

  private totals(): Omit<DataplaneStats, 'peers'> {
    const c = this.forwarder.coalescer;
    return {
      totals: { ...named(COUNT_NAMES, this.forwarder.counts), coalescedRuns: c?.runs ?? 0, coalescedSegments: c?.merged ?? 0 },
      drops: named(DROP_NAMES, this.forwarder.drops),
      io: named(NATIVE_STAT_NAMES, this.nstats),
    };
  }

  /**
   * Stops forwarding and closes the TUN fd and the socket. A non-persistent TUN goes with its fd
   * (address and route too); a persistent one stays unless `removeTun`. Idempotent.
   */
  close(opts: { readonly removeTun?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    const native = loadNative();
    if (opts.removeTun) native.setTunPersist(this.tunFd, false);
    native.closeEngine(this.engine);
  }

}

function peerStats(table: RouteTable): PeerStats[] {
  return peersOfWire(countersOf(table, table.slots()));
}

function activePeers(table: RouteTable): PeerCountersWire {
  const c = table.peerCounters;
  const slots: number[] = [];
  for (const slot of table.slots()) {
    const b = slot * PEER_FIELDS;
    for (let f = 0; f < PEER_FIELDS; f++) {
      if (c[b + f] === 0) continue;
      slots.push(slot);
      break;
    }
  }
  return countersOf(table, slots);
}

function countersOf(table: RouteTable, slots: readonly number[]): PeerCountersWire {
  const n = slots.length;
  const w = { subnetLen: table.subnetLen, subnetBase: new Int32Array(n), publicIp: new Int32Array(n), counters: new Float64Array(n * PEER_FIELDS), nodeNames: slots.map((s) => table.nodeNames[s]) };
  slots.forEach((slot, i) => {
    w.subnetBase[i] = table.peerSubnetBase[slot];
    w.publicIp[i] = table.peerPublicIp[slot];
    w.counters.set(table.peerCounters.subarray(slot * PEER_FIELDS, (slot + 1) * PEER_FIELDS), i * PEER_FIELDS);
  });
  const layout6 = table.layout;
  if (!table.ipv6Only || layout6 === undefined) return w;
  const v6Only = { layout6, subnet6Index: Int32Array.from(slots, (s) => table.peerSubnet6Index[s]), publicIp6: new Uint8Array(n * 16) };
  slots.forEach((slot, i) => v6Only.publicIp6.set(table.peerPublicIp6.subarray(slot * 16, slot * 16 + 16), i * 16));
  return { ...w, v6Only };
}

/** The peers of a PeerCountersWire, formatted. */
export function peersOfWire(w: PeerCountersWire): PeerStats[] {
  const c = w.counters;
  return w.nodeNames.map((name, i) => {
    const b = i * PEER_FIELDS;
    const v6 = w.v6Only;
    return {
      subnet: v6 ? formatCidr6({ base: v6.layout6.network.base + (BigInt(v6.subnet6Index[i]) << BigInt(128 - v6.layout6.subnetLen)), len: v6.layout6.subnetLen }) : `${formatIpv4(w.subnetBase[i] >>> 0)}/${w.subnetLen}`,
      publicIp: v6 ? formatIpv6(ipv6FromBytes(v6.publicIp6, i * 16)) : formatIpv4(w.publicIp[i] >>> 0),
      ...(name === undefined ? {} : { nodeName: name }),
      txPackets: c[b + PeerCount.TX_PACKETS],
      txBytes: c[b + PeerCount.TX_BYTES],
      rxPackets: c[b + PeerCount.RX_PACKETS],
      rxBytes: c[b + PeerCount.RX_BYTES],
    };
  });
}

function named(names: readonly string[], values: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) out[names[i]] = values[i];
  return out;
}

/** The IPv6 half of the options, checked against the table (undefined for IPv4 only). */
function dualStack(opts: DataplaneOptions, routes: RouteTable): { index: number; mac: Uint8Array } | undefined {
  if (opts.network6 === undefined) return undefined;
  const v6 = routes.v6;
  if (v6 === undefined) throw new WeftError('WEFT_ERR_CONFIG', `the route table has no IPv6 layout, but the data plane has network6 ${opts.network6}: build it with network6`);
  const local = opts.localSubnet6 === undefined ? null : parseSubnet6(opts.localSubnet6);
  const index = local === null ? -1 : v6.indexOfSubnet(local);
  if (index < 0) throw new WeftError('WEFT_ERR_CONFIG', `localSubnet6 '${opts.localSubnet6}' is not a /${opts.subnetLen6 ?? 64} inside network6 ${opts.network6}`);
  return { index, mac: requireMac('localVtepMac6', opts.localVtepMac6 ?? opts.localVtepMac) };
}

function checkRange(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new WeftError('WEFT_ERR_CONFIG', `${field}: ${v} is out of range (${min}-${max})`);
  }
}

function checkTable(table: RouteTable, base: number, prefixLen: number, subnetLen: number): void {
  if (table.networkBase >>> 0 !== base >>> 0 || table.networkPrefixLen !== prefixLen || table.subnetLen !== subnetLen) {
    throw new WeftError(
      'WEFT_ERR_CONFIG',
      `route table is for ${formatIpv4(table.networkBase >>> 0)}/${table.networkPrefixLen} SubnetLen ${table.subnetLen}, the data plane for ${formatIpv4(base >>> 0)}/${prefixLen} SubnetLen ${subnetLen}: rebuild it with the data plane's network`,
    );
  }
}
