// Typed loader for the N-API addon (daemon/dataplane/native/weft_native.c, built by node-gyp into
// build/Release/weft_native.node). Loaded lazily, once per JS environment (main thread or worker).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeftError } from '../errors.js';
import { CTL_SIZE, META_STRIDE } from './constants.js';

/** Native counters (Float64Array nstats), indices as in weft_native.h. */
export const NativeStat = {
  TUN_READ_PACKETS: 0,
  TUN_READ_BYTES: 1,
  TUN_READ_BATCHES: 2,
  TUN_READ_ERRORS: 3,
  UDP_RECV_PACKETS: 4,
  UDP_RECV_BYTES: 5,
  UDP_RECV_BATCHES: 6,
  UDP_RECV_ERRORS: 7,
  UDP_SEND_PACKETS: 8,
  UDP_SEND_BYTES: 9,
  UDP_SEND_CALLS: 10,
  UDP_SEND_ERRORS: 11,
  UDP_SEND_DROPPED: 12,
  TUN_WRITE_PACKETS: 13,
  TUN_WRITE_BYTES: 14,
  TUN_WRITE_ERRORS: 15,
  CALLBACK_ERRORS: 16,
  UDP_SEND_GSO: 17,
  UDP_RECV_GRO: 18,
  TUN_MODERATED: 19,
  BUSY_POLLS: 20,
  BUSY_POLL_ANSWERS: 21,
  UDP6_RECV_PACKETS: 22,
  UDP6_SEND_PACKETS: 23,
  REPLAYED_OUT: 24,
  REPLAYED_IN: 25,
} as const;

export const NATIVE_STAT_NAMES: readonly string[] = [
  'tunReadPackets',
  'tunReadBytes',
  'tunReadBatches',
  'tunReadErrors',
  'udpRecvPackets',
  'udpRecvBytes',
  'udpRecvBatches',
  'udpRecvErrors',
  'udpSendPackets',
  'udpSendBytes',
  'udpSendCalls',
  'udpSendErrors',
  'udpSendDropped',
  'tunWritePackets',
  'tunWriteBytes',
  'tunWriteErrors',
  'callbackErrors',
  'udpSendGso',
  'udpRecvGro',
  'tunModerated',
  'busyPolls',
  'busyPollAnswers',
  'udp6RecvPackets',
  'udp6SendPackets',
  'replayedOut',
  'replayedIn',
];

/** The shared memory of one engine: arena plus meta arrays (see weft_native.h). */
export interface BatchMemory {
  readonly arena: ArrayBuffer;
  readonly tunIn: Int32Array;
  readonly udpIn: Int32Array;
  readonly udpOut: Int32Array;
  readonly tunOut: Int32Array;
  readonly ctl: Int32Array;
}

export interface EngineOptions extends BatchMemory {
  /** The fds become the engine's: closed by closeEngine (or when the environment exits). */
  readonly tunFd: number;
  readonly udpFd: number;
  /**
   * The IPv6 underlay socket (openUdp6), polled beside udpFd; −1 or absent: none. Its datagrams
   * arrive in udpIn with IN_FLAG_V6, and udpOut entries with OUT_V6 leave through it.
   */
  readonly udp6Fd?: number;
  readonly nstats: Float64Array;
  readonly tunRxBase: number;
  readonly udpRxBase: number;
  readonly slotSize: number;
  readonly udpSlotSize: number;
  readonly headroom: number;
  readonly udpRxOffset: number;
  readonly batch: number;
  /** 1: send runs of equal-size datagrams to one peer as one UDP_SEGMENT message. */
  readonly udpGso: number;
  /** 1: the TUN was opened with TUN_FLAG_VNET_HDR (virtio-net header before every packet). */
  readonly tunVnetHdr: number;
  /** Interrupt moderation of TUN reads in ns (0: off): see on_tun_readable in the addon. */
  readonly moderateNs: number;
  /** Busy polling for the answer after a wake-up out of silence, in ns (0: off): see busy_poll in the addon. */
  readonly busyPollNs: number;
  /**
   * The decision cache (weft_replay.h): the TUN MTU (longer inner packets are never replayed); 0:
   * off. It replays nothing before the first resetReplay.
   */
  readonly replayMtu: number;
  readonly onTun: (count: number) => void;
  readonly onUdp: (count: number) => void;
}

/** Opaque handle of a running engine. */
export interface Engine {
  readonly __brand: 'weft-engine';
}

export interface NativeAddon {
  /**
   * Opens /dev/net/tun as `name` (IFF_TUN | IFF_NO_PI | flags), non-blocking; attaches to an existing
   * TUN of that name (`existed`), resetting its offloads to `flags`. Throws with errno text (EBUSY:
   * another process holds it; EINVAL: the name is not a single-queue TUN).
   */
  openTun(name: string, flags: number): { fd: number; name: string; existed: boolean };
  /** TUNSETPERSIST on an open TUN fd: off = the device is removed when its last fd closes. */
  setTunPersist(fd: number, on: boolean): void;
  /** Sets MTU, IPv4 address/prefixLen, transmit queue length (0 = keep) and IFF_UP on the link. */
  configureLink(name: string, mtu: number, addr: number, prefixLen: number, txqlen: number): void;
  /** Adds dst/prefixLen dev name; returns false when the route already existed. */
  addRoute(name: string, dst: number, prefixLen: number): boolean;
  /** Non-blocking UDP socket bound to addr:port; buffer sizes in bytes, 0 = kernel default; flags UDP_FLAG_GRO. */
  openUdp(addr: number, port: number, sndbuf: number, rcvbuf: number, flags: number): number;
  /** The same over IPv6: bound to addr (16 bytes, network order):port, IPV6_V6ONLY. */
  openUdp6(addr: Uint8Array, port: number, sndbuf: number, rcvbuf: number, flags: number): number;
  /**
   * The IPv6 underlay address (16 bytes) of route table slot `slot`, null: none. udpOut entries
   * with OUT_V6 go to it, and datagrams from it report the slot. Call between batches (it may
   * allocate). Throws on an engine without udp6Fd.
   */
  setPeer6(engine: Engine, slot: number, addr: Uint8Array | null): void;
  /** Forgets every IPv6 peer. */
  clearPeers6(engine: Engine): void;
  /**
   * After every route change (swap or deltas), before the next batch: the decision cache forgets
   * what it learned and counts what it replays into these arrays from then on (the table's
   * peerCounters and the forwarder's counts), which the engine keeps alive. No-op once closed.
   */
  resetReplay(engine: Engine, peerCounters: Float64Array, counts: Float64Array): void;
  closeFd(fd: number): void;
  createEngine(opts: EngineOptions): Engine;
  /** Idempotent. */
  closeEngine(engine: Engine): void;
  /**
   * The datagrams (encap + IPv4 or IPv6 + TCP + payload each) the engine sends for an OUT_TSO udpOut entry
   * at arena[off, off+len), built by the engine's own code. For tests: it allocates.
   */
  /**
   * SCHED_FIFO at `priority` (1-99) for the calling thread (0: back to SCHED_OTHER). Throws with
   * the errno (EPERM without CAP_SYS_NICE, or in a cgroup without a real-time budget).
   */
  setRealtime(priority: number): void;
  /**
   * The nf_tables ruleset generation of the caller's network namespace: every committed nf_tables
   * transaction (iptables-nft's included) changes it. -1 where nf_tables does not answer.
   */
  nftGeneration(): number;
  /** The control plane's wake-up timer (daemon/native/weft_wakeup.c; used by daemon/clock.ts). */
  createWakeup(callback: () => void): WakeupHandle;
  armWakeup(wakeup: WakeupHandle, ms: number): void;
  disarmWakeup(wakeup: WakeupHandle): void;
  tsoSegments(arena: ArrayBuffer, off: number, len: number, mss: number, hdrLen: number, csum: number): Buffer[];
  readonly META_STRIDE: number;
  readonly CTL_SIZE: number;
  readonly NS_SIZE: number;
}

/** An unref'd libuv timer of the caller's environment (opaque). */
export interface WakeupHandle {
  readonly __brand: 'WakeupHandle';
}

const ADDON = 'weft_native.node';
let addon: NativeAddon | undefined;

/** Where the addon is searched: $WEFT_NATIVE_ADDON, then build/Release above this file. */
function candidates(): string[] {
  const out: string[] = [];
  if (process.env.WEFT_NATIVE_ADDON) out.push(process.env.WEFT_NATIVE_ADDON);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    out.push(join(dir, 'build', 'Release', ADDON));
    dir = dirname(dir);
  }
  return out;
}

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    throw new WeftError('WEFT_ERR_NATIVE', `native addon ${ADDON} not found (looked in ${candidates().join(', ')}): run \`npm run build:native\``);
  }
  const loaded = createRequire(import.meta.url)(path) as NativeAddon;
  if (loaded.META_STRIDE !== META_STRIDE || loaded.CTL_SIZE !== CTL_SIZE || loaded.NS_SIZE !== NATIVE_STAT_NAMES.length) {
    throw new WeftError('WEFT_ERR_NATIVE', `native addon ${path} has a different batch layout than this build: run \`npm run build\``);
  }
  addon = loaded;
  return addon;
}
