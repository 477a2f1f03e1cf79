// JIT warm-up of the per-packet code, run once before a data plane forwards its first packet.
//
// V8 compiles a function with its optimizing tier (TurboFan) only once the function is hot, and
// weftd runs V8 without background threads (bin/weftd.js), so that compile happens on the data plane
// thread, in the packet path: 3.6–9 ms each for onBatch, decap and encap (--trace-opt), during the
// first traffic after a start, and again after each deoptimization, when a kind of packet the code
// had not met arrives (a ping after TCP, a TCP PSH, sequence numbers past 2^31). Until then packets
// run through baseline code.
//
// warmUp drives the same classes over synthetic traffic of each kind the data plane carries (ICMP,
// UDP and TCP, IPv4 and, with a dual-stack or IPv6-only table, IPv6; plain, partial-checksum and TSO
// reads; single datagrams and UDP GRO runs; between weft nodes with and without checksum elision
// and from a Flannel node), in both directions, for enough batches that V8 optimizes it, so that the
// compiles happen at start and the code real packets meet has seen them all.
//
// Contracts: touches only its own memory and three private route tables of synthetic nodes (subnets
// 1–3 of the real network, documentation-prefix underlay addresses); shares no state with the real
// forwarder but its classes. Synchronous; allocates while it runs (~2 MiB of buffers), holds nothing
// afterwards.
import {
  CTL_TUN_OUT,
  CTL_UDP_OUT,
  HEADROOM,
  IN_ADDR,
  IN_CSUM,
  IN_FLAG_NEEDS_CSUM,
  IN_FLAG_V6,
  IN_FLAGS,
  IN_GSO_SIZE,
  IN_GSO_TYPE,
  IN_LENGTH,
  IN_OFFSET,
  IN_PORT,
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  META_STRIDE,
  OUT_TSO,
  OUT_V6,
  TCP_CHECKSUM_OFFSET,
  UDP_OUT_KIND,
  UDP_OUT_LENGTH,
  UDP_CHECKSUM_OFFSET,
  UDP_OUT_OFFSET,
  UDP_RX_OFFSET,
  VIRTIO_GSO_TCPV4,
  VIRTIO_GSO_TCPV6,
} from './constants.js';
import { finish, fold, ipv4PseudoSum, ipv6PseudoSum, storeIpv4HeaderChecksum, sum16 } from './checksum.js';
import { DROP_NAMES } from './counters.js';
import { allocateBatchMemory, Forwarder, type ForwarderOptions } from './forwarder.js';
import { formatIpv4, parseIpv4 } from '../net/ipv4.js';
import { formatCidr6, ipv6Bytes, ipv6FromBytes } from '../net/ipv6.js';
import { ipv6OnlyLayout, RouteTable, type PeerSpec } from './route-table.js';

/** Batches per kind of traffic: V8 (Node 24) optimizes the hot functions well within it (warm-up.test.ts checks). */
export const WARM_UP_ROUNDS = 400;
/** Packets in a full batch of the warm-up (the engine's may be larger; the code is the same). */
const BATCH = 16;
/** Segments of a synthetic UDP GRO run. */
const GRO_RUN = 8;
/** TSO reads per batch of them. */
const TSO_READS = 4;
const MSS = 1200;
/** TCP header with the timestamp option. */
const TCP_HEADER_SIZE = 32;
/** Payload of a synthetic TSO read: not a multiple of the MSS, as most are not. */
const TSO_PAYLOAD = 32 * MSS + 700;
/** First TCP sequence number: the warm-up's flows cross 2^31 and wrap past 2^32 as real ones do. */
const SEQ_BASE = 0xfff00000;

export interface WarmUpLayout {
  /** The real table: its network, SubnetLen, IPv6 layout and IPv6-only mode are the synthetic nodes'. */
  readonly routes: RouteTable;
  /** Slot sizes of the real engine (dataplane.ts): udpCapacity in the options depends on them. */
  readonly slotSize: number;
  readonly udpSlotSize: number;
}

export type WarmUpResult =
  | {
      readonly ms: number;
      /** Packets and datagrams handed to the forwarders. */
      readonly packets: number;
      /** What the synthetic forwarders dropped, by reason: traffic meant to take the forwarding paths, so none. */
      readonly drops: Readonly<Record<string, number>>;
      /** TCP segments merged by the receivers' coalescers (0 without TUN offloads). */
      readonly coalesced: number;
    }
  | { readonly skipped: string };

/** One synthetic node: its forwarder and what the others need to address it. */
interface Node {
  readonly fwd: Forwarder;
  /** 1–3: the last byte of its VTEP MAC and underlay addresses. */
  readonly id: number;
  /** Public IPv4 (0 in an IPv6-only network). */
  readonly ip: number;
  readonly subnet: number;
  /** The IPv6 subnet's 16 bytes; its hosts are these with the last byte set. */
  readonly subnet6: Uint8Array | undefined;
}

/**
 * Runs `opts`' forwarder code over synthetic traffic (see the file comment). Returns how long it
 * took, or why it did not run (a network with fewer than four subnets has no room for the synthetic
 * nodes beside one another). Never throws: it is an optimization, and whatever goes wrong in it
 * must not keep the data plane from opening.
 */
export function warmUp(opts: ForwarderOptions, layout: WarmUpLayout, rounds = WARM_UP_ROUNDS): WarmUpResult {
  try {
    return run(opts, layout, rounds);
  } catch (err) {
    return { skipped: `failed: ${(err as Error).message}` };
  }
}

function run(opts: ForwarderOptions, layout: WarmUpLayout, rounds: number): WarmUpResult {
  const t0 = performance.now();
  const { routes } = layout;
  const v6 = routes.v6;
  const v4 = !routes.ipv6Only;
  if (v4 && routes.subnetLen - routes.networkPrefixLen < 2) return { skipped: `network /${routes.networkPrefixLen} has fewer than 4 subnets of /${routes.subnetLen}` };
  if (v6 !== undefined && v6.size < 4) return { skipped: `network6 /${v6.network.len} has fewer than 4 subnets` };

  const mem = allocateBatchMemory(BATCH, layout.slotSize, layout.udpSlotSize, opts.mtu);
  const u8 = new Uint8Array(mem.arena);
  const udpBase = BATCH * layout.slotSize;
  const underlay6 = opts.underlay6 === true;

  // Node 1 (the warm-up's "us") and node 2 are weft nodes; node 3 is a Flannel (kernel VXLAN) node.
  const subnetLen6 = v6 === undefined ? 0 : v6.network.len + Math.log2(v6.size);
  const subnet4 = (i: number): number => (routes.networkBase + i * 2 ** (32 - routes.subnetLen)) >>> 0;
  const subnet6 = (i: number): Uint8Array | undefined => (v6 === undefined ? undefined : ipv6Bytes(v6.network.base + (BigInt(i) << BigInt(128 - subnetLen6))));
  const cidr6 = (i: number): string => formatCidr6({ base: ipv6FromBytes(subnet6(i)!), len: subnetLen6 });
  const mac = (i: number): string => `02:00:00:00:00:0${i}`;
  const spec = (i: number, weft: boolean): PeerSpec => {
    const elision = weft && opts.csumElision === true ? { csumElision: true } : {};
    if (routes.ipv6Only) return { subnet: cidr6(i), publicIp: `2001:db8::${i}`, vtepMac: mac(i), ...elision };
    return {
      subnet: `${formatIpv4(subnet4(i))}/${routes.subnetLen}`,
      publicIp: `192.0.2.${i}`,
      vtepMac: mac(i),
      ...(weft ? { weft: true } : {}),
      ...elision,
      ...(v6 ? { subnet6: cidr6(i), vtepMac6: `02:00:00:00:06:0${i}` } : {}),
      ...(underlay6 ? { publicIpv6: `2001:db8::${i}` } : {}),
    };
  };
  const makeNode = (i: number, peers: readonly PeerSpec[]): Node => {
    const layout6 = routes.ipv6Only ? ipv6OnlyLayout(formatCidr6(v6!.network), subnetLen6, cidr6(i)) : undefined;
    // Through the wire, as the data plane thread gets its tables: objects of the same shapes.
    const built = RouteTable.build({
      ...(layout6 ?? { network: `${formatIpv4(routes.networkBase >>> 0)}/${routes.networkPrefixLen}`, subnetLen: routes.subnetLen, localSubnet: `${formatIpv4(subnet4(i))}/${routes.subnetLen}` }),
      ...(v6 ? { network6: formatCidr6(v6.network), subnetLen6, localSubnet6: cidr6(i) } : {}),
      ipv6Only: routes.ipv6Only,
      peers,
    });
    const table = RouteTable.fromWire(built.toWire());
    const s6 = subnet6(i);
    const fwd = new Forwarder(mem, table, {
      ...opts,
      localSubnetBase: layout6 ? parseIpv4(layout6.localSubnet.split('/')[0]!)! : subnet4(i),
      localVtepMac: Uint8Array.of(2, 0, 0, 0, 0, i),
      ...(s6 ? { localSubnet6Index: table.v6!.indexOfSubnet({ base: ipv6FromBytes(s6), len: subnetLen6 }), localVtepMac6: Uint8Array.of(2, 0, 0, 0, routes.ipv6Only ? 0 : 6, i) } : {}),
    });
    return { fwd, id: i, ip: routes.ipv6Only ? 0 : parseIpv4(`192.0.2.${i}`)!, subnet: subnet4(i), subnet6: s6 };
  };
  const a = makeNode(1, [spec(2, true), spec(3, false)]);
  const b = makeNode(2, [spec(1, true), spec(3, false)]);
  const k = makeNode(3, [spec(1, false), spec(2, false)]);
  /** The slot `to`'s table keeps `from` in: what the engine reports as the sender of an IPv6-underlay datagram. */
  const slotOf = (to: Node, from: Node): number => {
    const table = to.fwd.routes;
    return table.slots().find((s) => table.peerMac[s * 6 + 5] === from.id) ?? -1;
  };

  let packets = 0;
  const tunPartial = opts.tunOffloads === true;
  /** Reads `n` packets made by `write(i, off)` (length returned) into `from`'s TUN side; returns datagrams out. */
  const readTun = (from: Node, n: number, write: (i: number, off: number) => number, partial: number, gso = 0): number => {
    for (let i = 0; i < n; i++) {
      const off = i * layout.slotSize + HEADROOM;
      const m = i * META_STRIDE;
      mem.tunIn[m + IN_OFFSET] = off;
      mem.tunIn[m + IN_LENGTH] = write(i, off);
      mem.tunIn[m + IN_FLAGS] = partial !== 0 ? IN_FLAG_NEEDS_CSUM : 0;
      mem.tunIn[m + IN_CSUM] = partial;
      mem.tunIn[m + IN_GSO_TYPE] = gso;
      mem.tunIn[m + IN_GSO_SIZE] = gso !== 0 ? MSS : 0;
    }
    mem.ctl[CTL_UDP_OUT] = 0;
    mem.ctl[CTL_TUN_OUT] = 0;
    from.fwd.onTun(n);
    packets += n;
    return mem.ctl[CTL_UDP_OUT]!;
  };
  /** Hands the datagrams `from` just sent (udpOut[0, n)) to `to`, `run` of them per receive buffer (UDP GRO). */
  const deliver = (from: Node, to: Node, n: number, run = 1): void => {
    let slots = 0;
    for (let i = 0; i < n; i += run) {
      const at = udpBase + slots * layout.udpSlotSize + UDP_RX_OFFSET;
      let len = 0;
      let size = 0;
      let kind = 0;
      for (let j = i; j < Math.min(n, i + run); j++) {
        const m = j * META_STRIDE;
        kind = mem.udpOut[m + UDP_OUT_KIND]!;
        if ((kind & OUT_TSO) !== 0) return; // the engine cuts these; nothing to receive here
        size = mem.udpOut[m + UDP_OUT_LENGTH]!;
        u8.copyWithin(at + len, mem.udpOut[m + UDP_OUT_OFFSET]!, mem.udpOut[m + UDP_OUT_OFFSET]! + size);
        len += size;
      }
      const m = slots * META_STRIDE;
      mem.udpIn[m + IN_OFFSET] = at;
      mem.udpIn[m + IN_LENGTH] = len;
      mem.udpIn[m + IN_PORT] = opts.port;
      mem.udpIn[m + IN_FLAGS] = (kind & OUT_V6) !== 0 ? IN_FLAG_V6 : 0;
      mem.udpIn[m + IN_ADDR] = (kind & OUT_V6) !== 0 ? slotOf(to, from) : from.ip | 0;
      mem.udpIn[m + IN_GSO_SIZE] = len > size ? size : 0;
      mem.udpIn[m + IN_GSO_TYPE] = 0;
      slots++;
    }
    mem.ctl[CTL_UDP_OUT] = 0;
    mem.ctl[CTL_TUN_OUT] = 0;
    to.fwd.onUdp(slots);
    packets += slots;
  };

  /** The inner families of the traffic: false for IPv4, true for IPv6. */
  const families = [...(v4 ? [false] : []), ...(v6 ? [true] : [])];
  const kinds: { readonly v6: boolean; readonly proto: number; readonly size: number; readonly partial: boolean }[] = [];
  for (const fam of families) {
    kinds.push({ v6: fam, proto: fam ? IP_PROTO_ICMPV6 : IP_PROTO_ICMP, size: 84, partial: false });
    for (const proto of [IP_PROTO_UDP, IP_PROTO_TCP]) {
      for (const size of proto === IP_PROTO_TCP ? [tcpSize(fam, 0), tcpSize(fam, MSS)] : [92, MSS + 48]) {
        kinds.push({ v6: fam, proto, size, partial: false });
        if (tunPartial) kinds.push({ v6: fam, proto, size, partial: true });
      }
    }
  }
  const pairs: readonly (readonly [Node, Node])[] = [
    [a, b],
    [b, a],
    [a, k],
    [k, a],
  ];
  const nodes = [a, b, k];
  for (let r = 0; r < rounds; r++) {
    const n = r % 2 === 0 ? 1 : BATCH;
    // Each node's first batch of a round runs the forwarder's next-packet hook (the data plane
    // thread sets one whenever its stats timer stops). Without it, the thread's first onNextPacket
    // threw away the optimized onTun/onUdp (their code relied on the field never having held a
    // function), and a lab carrying only pings still ran them as baseline code after 3,300 pings.
    // Two hooks from two sites, so that the hook's call site is not specialised to either.
    for (const node of nodes) node.fwd.onNextPacket(r % 2 === 0 ? warmUpHookA : warmUpHookB);
    for (const [from, to] of pairs) {
      // IPv6 to a Flannel node goes over the IPv6 underlay only (flannel-v6.1): without one, nothing to warm.
      const v6ok = routes.ipv6Only || underlay6 || (from !== k && to !== k);
      for (const kd of kinds) {
        if (kd.v6 && !v6ok) continue;
        const write = (i: number, off: number): number => writePacket(u8, off, kd.v6, kd.proto, kd.size, from, to, r * BATCH + i, kd.partial);
        const csum = kd.partial ? partialCsum(kd.v6, kd.proto) : 0;
        const sent = readTun(from, n, write, csum);
        deliver(from, to, sent);
      }
      // A UDP GRO run of one TCP flow (coalesced into one TUN write), and a TSO read (cut by the engine).
      for (const fam of families) {
        if (fam && !v6ok) continue;
        const write = (i: number, off: number): number => writePacket(u8, off, fam, IP_PROTO_TCP, tcpSize(fam, MSS), from, to, r * GRO_RUN + i, tunPartial);
        deliver(from, to, readTun(from, GRO_RUN, write, tunPartial ? partialCsum(fam, IP_PROTO_TCP) : 0), GRO_RUN);
        if (tunPartial) {
          const tso = (_: number, off: number): number => writePacket(u8, off, fam, IP_PROTO_TCP, tcpSize(fam, TSO_PAYLOAD), from, to, r * 32, true);
          readTun(from, TSO_READS, tso, partialCsum(fam, IP_PROTO_TCP), fam ? VIRTIO_GSO_TCPV6 : VIRTIO_GSO_TCPV4);
        }
      }
    }
  }
  const drops: Record<string, number> = {};
  for (const n of nodes) n.fwd.drops.forEach((v, i) => v > 0 && (drops[DROP_NAMES[i]!] = (drops[DROP_NAMES[i]!] ?? 0) + v));
  const coalesced = nodes.reduce((sum, n) => sum + (n.fwd.coalescer?.merged ?? 0), 0);
  return { ms: performance.now() - t0, packets, drops, coalesced };
}

/** Bytes of a TCP segment of `payload` bytes with timestamps. */
function tcpSize(v6: boolean, payload: number): number {
  return (v6 ? IPV6_HEADER_SIZE : IPV4_MIN_HEADER_SIZE) + TCP_HEADER_SIZE + payload;
}

/** IN_CSUM of a partial checksum as the TUN reports it: csum_start (from the IP header) | csum_offset << 16. */
function partialCsum(v6: boolean, proto: number): number {
  return (v6 ? IPV6_HEADER_SIZE : IPV4_MIN_HEADER_SIZE) | ((proto === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET) << 16);
}

/**
 * Writes at u8[off] an IPv4 or IPv6 packet of `size` bytes from a host of `from`'s subnet to one of
 * `to`'s, with valid headers and an L4 checksum that is complete, or partial (the pseudo-header sum
 * only, as a TUN with offloads hands it over). `seq` numbers TCP segments of one flow. Returns size.
 */
function writePacket(u8: Uint8Array, off: number, v6: boolean, proto: number, size: number, from: Node, to: Node, seq: number, partial: boolean): number {
  u8.fill(0, off, off + size);
  const hl = v6 ? IPV6_HEADER_SIZE : IPV4_MIN_HEADER_SIZE;
  const l4 = off + hl;
  const l4len = size - hl;
  if (v6) {
    u8[off] = 0x60;
    u8[off + 4] = l4len >>> 8;
    u8[off + 5] = l4len & 0xff;
    u8[off + 6] = proto;
    u8[off + 7] = 64;
    u8.set(from.subnet6!, off + 8);
    u8[off + 23] = 2;
    u8.set(to.subnet6!, off + 24);
    u8[off + 39] = 2;
  } else {
    u8[off] = 0x45;
    u8[off + 2] = size >>> 8;
    u8[off + 3] = size & 0xff;
    u8[off + 6] = 0x40;
    u8[off + 8] = 64;
    u8[off + 9] = proto;
    for (let i = 0; i < 4; i++) {
      u8[off + 12 + i] = (from.subnet >>> (24 - 8 * i)) & 0xff;
      u8[off + 16 + i] = (to.subnet >>> (24 - 8 * i)) & 0xff;
    }
    u8[off + 15] = 2;
    u8[off + 19] = 2;
    storeIpv4HeaderChecksum(u8, off, 20);
  }
  const payload = l4 + (proto === IP_PROTO_TCP ? TCP_HEADER_SIZE : 8);
  if (!partial) for (let i = payload; i < off + size; i++) u8[i] = (i * 7 + seq) & 0xff;
  let csumAt: number;
  if (proto === IP_PROTO_TCP) {
    u8[l4] = 0x9c;
    u8[l4 + 1] = 0x40;
    u8[l4 + 2] = 0x14;
    u8[l4 + 3] = 0x51;
    // Sequence and acknowledgement numbers as large as real ones, wrapping past 2^32.
    const s = (SEQ_BASE + seq * MSS) >>> 0;
    u8[l4 + 4] = s >>> 24;
    u8[l4 + 5] = (s >>> 16) & 0xff;
    u8[l4 + 6] = (s >>> 8) & 0xff;
    u8[l4 + 7] = s & 0xff;
    u8[l4 + 8] = 0xc3;
    u8[l4 + 11] = 0x01;
    u8[l4 + 12] = (TCP_HEADER_SIZE / 4) << 4;
    u8[l4 + 13] = (seq & 3) === 3 ? 0x18 : 0x10; // ACK, on every fourth PSH too (which ends a coalesced run)
    u8[l4 + 14] = 0xff;
    csumAt = l4 + TCP_CHECKSUM_OFFSET;
    // NOP, NOP, timestamps (kind 8, length 10): what Linux puts on every segment.
    u8[l4 + 20] = 1;
    u8[l4 + 21] = 1;
    u8[l4 + 22] = 8;
    u8[l4 + 23] = 10;
    u8[l4 + 24] = 0x7f;
    u8[l4 + 29] = 0x3f;
  } else if (proto === IP_PROTO_UDP) {
    u8[l4] = 0x9c;
    u8[l4 + 1] = 0x40;
    u8[l4 + 2] = 0x14;
    u8[l4 + 3] = 0x51;
    u8[l4 + 4] = l4len >>> 8;
    u8[l4 + 5] = l4len & 0xff;
    csumAt = l4 + UDP_CHECKSUM_OFFSET;
  } else {
    u8[l4] = v6 ? 128 : 8;
    u8[l4 + 4] = 0x12;
    u8[l4 + 6] = seq >>> 8;
    u8[l4 + 7] = seq & 0xff;
    csumAt = l4 + 2;
  }
  const pseudo = proto === IP_PROTO_ICMP ? 0 : v6 ? ipv6PseudoSum(u8, off, proto, l4len) : ipv4PseudoSum(u8, off, proto, l4len);
  const c = partial ? fold(pseudo) : finish(sum16(u8, l4, l4len, pseudo));
  u8[csumAt] = c >>> 8;
  u8[csumAt + 1] = c & 0xff;
  return size;
}

function warmUpHookA(): void {}

function warmUpHookB(): void {}
