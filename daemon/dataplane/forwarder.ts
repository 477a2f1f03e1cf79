// The per-batch packet logic of the data plane, over memory the native engine shares with it:
// inside.ts carries TUN → UDP, outside.ts UDP → TUN. Both share the counters and the route table.
//
// Contracts: single-threaded; `onTun`/`onUdp` run synchronously inside the native callback and set
// ctl[CTL_UDP_OUT]/ctl[CTL_TUN_OUT]; every buffer is borrowed from the engine and only valid
// during the call. No allocation, exception or log per packet: drops are `drops[reason]++`.
import { TcpCoalescer } from './coalesce.js';
import { CTL_JS_ONLY, CTL_SIZE, META_STRIDE } from './constants.js';
import { COUNT_NAMES, DROP_COUNT } from './counters.js';
import { Inside } from './inside.js';
import type { BatchMemory } from './native.js';
import { Outside } from './outside.js';
import type { RouteTable } from './route-table.js';

export interface ForwarderOptions {
  readonly vni: number;
  /** Destination UDP port of peers (Backend.Port). */
  readonly port: number;
  /** This node's subnet (uint32 base, prefix length = routes.subnetLen). */
  readonly localSubnetBase: number;
  readonly localVtepMac: Uint8Array;
  /** TUN MTU: larger inner TCP packets (kernel TSO super-packets) are cut to it. */
  readonly mtu: number;
  /** Bytes from a received datagram's offset to the end of its slot. */
  readonly udpCapacity: number;
  /** The TUN carries virtio-net headers: TCP runs of a UDP GRO buffer are coalesced into GSO writes. */
  readonly tunOffloads?: boolean;
  /**
   * Towards peers that advertise it, leave the inner checksums of TUN reads partial and mark the
   * frame (VXLAN_WEFT_CSUM_PARTIAL). Needs tunOffloads (only vnet-header reads are partial).
   */
  readonly csumElision?: boolean;
  /** The engine has an IPv6 underlay socket (Dataplane localIpv6): IPv6 goes over it to Flannel peers. */
  readonly underlay6?: boolean;
  /** Dual-stack: this node's IPv6 subnet as an index of the table's Network6, and our IPv6 VTEP MAC. */
  readonly localSubnet6Index?: number;
  readonly localVtepMac6?: Uint8Array;
}

/** tunOut entries one received datagram may need (a 64 KiB super-packet cut to the MTU). */
export function maxSegments(mtu: number): number {
  return Math.ceil(65535 / (mtu - 60 - 60)) + 1;
}

/**
 * The memory a forwarder works on: an arena of `batch` TUN slots of slotSize followed by `batch` UDP
 * slots of udpSlotSize, and the meta arrays for batches of `batch` (tunOut sized for every datagram
 * cut to `mtu`).
 */
export function allocateBatchMemory(batch: number, slotSize: number, udpSlotSize: number, mtu: number): BatchMemory {
  return {
    arena: new ArrayBuffer(batch * (slotSize + udpSlotSize)),
    tunIn: new Int32Array(batch * META_STRIDE),
    udpIn: new Int32Array(batch * META_STRIDE),
    udpOut: new Int32Array(batch * META_STRIDE),
    tunOut: new Int32Array(batch * maxSegments(mtu) * META_STRIDE),
    ctl: new Int32Array(CTL_SIZE),
  };
}

export class Forwarder {
  /** Drop counters by reason (Drop.*). */
  readonly drops = new Float64Array(DROP_COUNT);
  /** Totals (Count.*). */
  readonly counts = new Float64Array(COUNT_NAMES.length);
  /** Set with tunOffloads; its counters are reported as totals. */
  readonly coalescer: TcpCoalescer | null;
  private readonly inside: Inside;
  private readonly outside: Outside;
  private nextPacket: (() => void) | null = null;
  private readonly ctl: Int32Array;

  constructor(mem: BatchMemory, routes: RouteTable, opts: ForwarderOptions) {
    const u8 = new Uint8Array(mem.arena);
    this.ctl = mem.ctl;
    this.coalescer = opts.tunOffloads ? new TcpCoalescer(u8, mem.tunOut) : null;
    const shared = { u8, tunIn: mem.tunIn, udpIn: mem.udpIn, udpOut: mem.udpOut, tunOut: mem.tunOut, ctl: mem.ctl };
    this.inside = new Inside(shared, this, routes, { ...opts, csumElision: (opts.csumElision ?? false) && (opts.tunOffloads ?? false) });
    this.outside = new Outside(shared, this, routes, this.coalescer, opts);
  }

  get routes(): RouteTable {
    return this.inside.routes;
  }

  /** Takes effect at the next batch. */
  set routes(table: RouteTable) {
    this.inside.routes = table;
    this.outside.routes = table;
  }

  /** Calls `hook` once, before the next batch in either direction (the engine replays no decision until then). */
  onNextPacket(hook: () => void): void {
    this.nextPacket = hook;
    this.ctl[CTL_JS_ONLY] = 1;
  }

  /** Native callback: `count` packets read from the TUN are described in tunIn. */
  readonly onTun = (count: number): void => {
    if (this.nextPacket !== null) this.woken();
    this.inside.onBatch(count);
  };

  /** Native callback: `count` receive buffers are described in udpIn. */
  readonly onUdp = (count: number): void => {
    if (this.nextPacket !== null) this.woken();
    this.outside.onBatch(count);
  };

  private woken(): void {
    const hook = this.nextPacket!;
    this.nextPacket = null;
    this.ctl[CTL_JS_ONLY] = 0;
    hook();
  }
}
