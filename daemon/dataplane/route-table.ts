// RouteTable: the peers, as the data plane routes them. The control plane validates each peer once
// into numbers (PeerWire) and the table changes one peer at a time (upsert, remove: O(1)), or is
// built whole from a snapshot (start, resync). Whoever owns a table changes it only between
// batches (the data plane thread applies deltas from its message handler, which never runs inside
// a batch), so every batch reads one consistent table.
//
// Every lease in Flannel's layout is a subnet of exactly SubnetLen inside Network, so the route
// lookup is an array index: `(dst - network) >>> (32 - subnetLen)` → peer slot (or -1). Receive
// validation uses an open-addressing hash from outer source address to a peer, and the subnet
// index of the inner source (which must belong to a peer with that same public address). A peer
// keeps its slot (and so its counters) while its subnet stays routed; a slot freed by a removal is
// reused, its counters zeroed.
//
// IPv6-only networks (ipv6Only): peers are keyed by their IPv6 subnet. The slot machinery above is
// kept as is by giving each IPv6 subnet index i the key i × 4 in a stand-in IPv4 layout, 0.0.0.0
// cut in /30s (ipv6OnlyLayout: never an address on the TUN or the wire, 0.0.0.0/8 being one no
// kernel forwards), and PeerSpec's subnet, publicIp and vtepMac are the peer's IPv6 subnet,
// PublicIPv6 and IPv6 VTEP MAC. Every peer is then reached over the IPv6 underlay (no PEER_WEFT).
import { WeftError } from '../errors.js';
import { formatIpv4, parseIpv4, parseSubnet, prefixMask, requireSubnet, type Subnet4 } from '../net/ipv4.js';
import { formatCidr6, formatIpv6, ipv6Bytes, ipv6FromBytes, isIpv4Mapped, parseIpv6, parseSubnet6, type Subnet6 } from '../net/ipv6.js';
import { formatMac, parseMac } from '../net/mac.js';
import { PEER_FIELDS } from './counters.js';
import { Subnet6Index } from './subnet6-index.js';

/** One peer as the control plane knows it (a Flannel lease: key, PublicIP, BackendData.VtepMAC). */
export interface PeerSpec {
  /** Leased subnet, '10.244.2.0/24'; its length must be SubnetLen. */
  readonly subnet: string;
  /** Underlay address VXLAN datagrams go to and come from. */
  readonly publicIp: string;
  /** The peer's VTEP MAC: inner Ethernet destination of what we send it. */
  readonly vtepMac: string;
  readonly nodeName?: string;
  /**
   * The peer's lease advertises checksum elision (BackendData.WeftCsumElision): it accepts frames
   * with VXLAN_WEFT_CSUM_PARTIAL, and, being weft, sends with non-zero outer UDP checksums, so its
   * own such frames are covered end to end. Flannel (kernel VXLAN) peers never do.
   */
  readonly csumElision?: boolean;
  /**
   * The peer is a weft node (its lease carries WeftGossipPort/WeftNodeName): it takes IPv6 inner
   * packets over the IPv4 underlay (inner Ethernet type 0x86DD to its IPv6 VTEP MAC).
   */
  readonly weft?: boolean;
  /** Dual-stack: the peer's IPv6 subnet ('fd00:10:244:5f::/64', IPv6SubnetLen long), routed when the table has network6. */
  readonly subnet6?: string;
  /** The peer's IPv6 VTEP MAC (BackendV6Data.VtepMAC); vtepMac when absent. */
  readonly vtepMac6?: string;
  /** The peer's PublicIPv6: its IPv6 underlay address (a data plane with localIpv6 sends to and accepts from it). */
  readonly publicIpv6?: string;
}

/** The stand-in IPv4 layout of an IPv6-only table (see the header): Network, SubnetLen and this node's key. */
export interface Ipv6OnlyLayout {
  readonly network: string;
  readonly subnetLen: number;
  readonly localSubnet: string;
}

/** Subnet keys of an IPv6-only table are /30s: the index's step is 4. */
const V6ONLY_SUBNET_LEN = 30;

/** The stand-in IPv4 layout for IPv6Network `network6` cut in /subnetLen6, with this node's IPv6 subnet `localSubnet6`. */
export function ipv6OnlyLayout(network6: string, subnetLen6: number, localSubnet6: string): Ipv6OnlyLayout {
  const net = parseSubnet6(network6);
  if (net === null) throw new WeftError('WEFT_ERR_CONFIG', `network6: '${network6}' is not an IPv6 network such as fd00:10:244::/56`);
  const index = new Subnet6Index(net, subnetLen6);
  const local = parseSubnet6(localSubnet6);
  const i = local === null ? -1 : index.indexOfSubnet(local);
  if (i < 0) throw new WeftError('WEFT_ERR_CONFIG', `localSubnet6 '${localSubnet6}' is not a /${subnetLen6} inside network6 ${network6}`);
  const bits = Math.log2(index.size);
  return { network: `0.0.0.0/${V6ONLY_SUBNET_LEN - bits}`, subnetLen: V6ONLY_SUBNET_LEN, localSubnet: `${formatIpv4(i * 4)}/${V6ONLY_SUBNET_LEN}` };
}

/** RouteTable.peerFlags bits. */
export const PEER_CSUM_ELISION = 1;
/** PeerSpec.weft: IPv6 inner packets go to it over the IPv4 underlay. */
export const PEER_WEFT = 2;
/** The peer has a public IPv6 (peerPublicIp6): kept by the table from PeerWire.publicIp6. */
export const PEER_PUBLIC_IP6 = 4;

export interface RouteTableOptions {
  /** The overlay Network, '10.244.0.0/16'. */
  readonly network: string;
  /** Flannel's SubnetLen: every lease is a /subnetLen inside network. */
  readonly subnetLen: number;
  /** This node's own subnet: a peer entry for it is ignored (listed in `rejected`). */
  readonly localSubnet?: string;
  /** Dual-stack: the IPv6 Network and IPv6SubnetLen (default 64); without them peers' subnet6 is not routed. */
  readonly network6?: string;
  readonly subnetLen6?: number;
  /** This node's own IPv6 subnet: a peer claiming it is rejected. */
  readonly localSubnet6?: string;
  /** An IPv6-only network: network, subnetLen and localSubnet are ipv6OnlyLayout's, network6 is required. */
  readonly ipv6Only?: boolean;
  readonly peers: readonly PeerSpec[];
}

/** The IPv6 half of a table's layout: Network6 and IPv6SubnetLen. */
export interface Layout6 {
  readonly network: Subnet6;
  readonly subnetLen: number;
}

/** One peer as numbers, validated once by a PeerEncoder: what crosses to the data plane thread. */
export interface PeerWire {
  /** Subnet base address as int32. */
  readonly subnetBase: number;
  /** Public IPv4 as int32. */
  readonly publicIp: number;
  /** VTEP MAC, 6 bytes. */
  readonly mac: Uint8Array;
  /** PEER_* flag bits. */
  readonly flags: number;
  readonly nodeName: string | undefined;
  /** Index of the peer's IPv6 subnet in the table's Network6 (Subnet6Index), −1 or absent: none. */
  readonly subnet6Index?: number;
  /** IPv6 VTEP MAC, 6 bytes, with subnet6Index. */
  readonly mac6?: Uint8Array;
  /** Public IPv6, 16 bytes (network order); absent: none. */
  readonly publicIp6?: Uint8Array;
}

/** One change to a table: a peer added or replaced (by subnet), or the peer of a subnet removed. */
export type RouteDelta = { readonly op: 'upsert'; readonly peer: PeerWire } | { readonly op: 'remove'; readonly subnetBase: number };

/**
 * A route table's peers as numbers, validated once where the table was built: what crosses to the
 * data plane thread (typed arrays, cloned by memcpy; nothing to parse again there).
 */
export interface RouteWire {
  readonly network: Subnet4;
  readonly subnetLen: number;
  /** Per peer: subnet base and public IPv4 as int32, VTEP MAC (6 bytes each), PEER_* flags, node name. */
  readonly subnetBase: Int32Array;
  readonly publicIp: Int32Array;
  readonly mac: Uint8Array;
  readonly flags: Uint8Array;
  readonly nodeNames: readonly (string | undefined)[];
  /** Dual-stack tables: the IPv6 layout, and per peer its IPv6 subnet index (−1: none) and IPv6 VTEP MAC. */
  readonly layout6?: Layout6;
  readonly subnet6Index?: Int32Array;
  readonly mac6?: Uint8Array;
  /** Per peer its public IPv6, 16 bytes each (all zero: none); absent when no peer has one. */
  readonly publicIp6?: Uint8Array;
  /** An IPv6-only table (see the header). */
  readonly ipv6Only?: true;
}

export interface RejectedPeer {
  readonly peer: PeerSpec;
  readonly reason: string;
}

/** Largest index array we build: 2^20 subnets (e.g. a /8 cut in /28s), 4 MiB. */
const MAX_SUBNET_BITS = 20;
/** Peer slots of an empty table; doubled when full. */
const MIN_CAPACITY = 8;
const WIRE_ERROR = 'route table wire is inconsistent (a data plane thread from another build?)';

/**
 * Validates peers against one network, once, into PeerWire: the control plane's side of the
 * boundary. The network and subnetLen are checked when the encoder is made.
 */
export class PeerEncoder {
  readonly network: Subnet4;
  readonly subnetLen: number;
  private readonly local: Subnet4 | undefined;
  private readonly mask: number;
  /** Dual-stack: the IPv6 layout and its index (to validate peers' IPv6 subnets). */
  readonly layout6: Layout6 | undefined;
  private readonly index6: Subnet6Index | undefined;
  private readonly local6: Subnet6 | undefined;
  /** An IPv6-only network: peers are encoded from their IPv6 subnet, PublicIPv6 and IPv6 VTEP MAC. */
  readonly ipv6Only: boolean;

  constructor(opts: { readonly network: string; readonly subnetLen: number; readonly localSubnet?: string; readonly network6?: string; readonly subnetLen6?: number; readonly localSubnet6?: string; readonly ipv6Only?: boolean }) {
    this.network = requireSubnet('network', opts.network);
    const { subnetLen } = opts;
    if (!Number.isInteger(subnetLen) || subnetLen < this.network.len || subnetLen > 30 || subnetLen - this.network.len > MAX_SUBNET_BITS) {
      throw new WeftError(
        'WEFT_ERR_CONFIG',
        `subnetLen: ${subnetLen} does not fit network ${opts.network} (need ${this.network.len} <= subnetLen <= 30, at most 2^${MAX_SUBNET_BITS} subnets)`,
      );
    }
    this.subnetLen = subnetLen;
    this.local = opts.localSubnet === undefined ? undefined : requireSubnet('localSubnet', opts.localSubnet);
    this.mask = prefixMask(this.network.len);
    if (opts.network6 !== undefined) {
      const network6 = parseSubnet6(opts.network6);
      if (network6 === null) throw new WeftError('WEFT_ERR_CONFIG', `network6: '${opts.network6}' is not an IPv6 network such as fd00:10:244::/56`);
      this.index6 = new Subnet6Index(network6, opts.subnetLen6 ?? 64);
      this.layout6 = { network: network6, subnetLen: opts.subnetLen6 ?? 64 };
      this.local6 = opts.localSubnet6 === undefined ? undefined : (parseSubnet6(opts.localSubnet6) ?? undefined);
    }
    this.ipv6Only = opts.ipv6Only === true;
    if (this.ipv6Only && this.index6 === undefined) throw new WeftError('WEFT_ERR_CONFIG', 'an IPv6-only route table needs network6');
  }

  /** The peer as numbers, or why it cannot be routed. */
  encode(peer: PeerSpec): PeerWire | string {
    if (this.ipv6Only) return this.encodeIpv6Only(peer);
    const c = parseSubnet(peer.subnet);
    if (c === null) return `subnet '${peer.subnet}' is not a.b.c.d/len`;
    if (c.len !== this.subnetLen) return `subnet ${peer.subnet} is not a /${this.subnetLen}`;
    if ((c.base & this.mask) !== (this.network.base & this.mask)) return `subnet ${peer.subnet} is outside ${formatIpv4(this.network.base)}/${this.network.len}`;
    if (this.local && c.base === this.local.base) return 'local subnet';
    const ip = parseIpv4(peer.publicIp);
    if (ip === null || ip === 0) return `publicIp '${peer.publicIp}' is not an IPv4 address`;
    const mac = parseMac(peer.vtepMac);
    if (mac === null) return `vtepMac '${peer.vtepMac}' is not aa:bb:cc:dd:ee:ff`;
    const ip6 = peer.publicIpv6 === undefined ? undefined : parseIpv6(peer.publicIpv6);
    if (ip6 === null || ip6 === 0n || (ip6 !== undefined && isIpv4Mapped(ip6))) return `publicIpv6 '${peer.publicIpv6}' is not an IPv6 address`;
    const flags = (peer.csumElision === true ? PEER_CSUM_ELISION : 0) | (peer.weft === true ? PEER_WEFT : 0);
    const wire = { subnetBase: c.base | 0, publicIp: ip | 0, mac, flags, nodeName: peer.nodeName, ...(ip6 === undefined ? {} : { publicIp6: ipv6Bytes(ip6) }) };
    if (peer.subnet6 === undefined || this.index6 === undefined) return wire;
    const s6 = parseSubnet6(peer.subnet6);
    const idx6 = s6 === null ? -1 : this.index6.indexOfSubnet(s6);
    if (idx6 < 0) return `subnet6 '${peer.subnet6}' is not a /${this.layout6!.subnetLen} inside ${formatCidr6(this.layout6!.network)}`;
    if (this.local6 && s6!.base === this.local6.base && s6!.len === this.local6.len) return 'local IPv6 subnet';
    const mac6 = parseMac(peer.vtepMac6 ?? peer.vtepMac);
    if (mac6 === null) return `vtepMac6 '${peer.vtepMac6}' is not aa:bb:cc:dd:ee:ff`;
    return { ...wire, subnet6Index: idx6, mac6 };
  }

  /** encode() in an IPv6-only network: the peer's IPv6 subnet keyed as the header says, reached at its PublicIPv6. */
  private encodeIpv6Only(peer: PeerSpec): PeerWire | string {
    const layout6 = this.layout6!;
    const s6 = parseSubnet6(peer.subnet);
    const idx6 = s6 === null ? -1 : this.index6!.indexOfSubnet(s6);
    if (idx6 < 0) return `subnet '${peer.subnet}' is not a /${layout6.subnetLen} inside ${formatCidr6(layout6.network)}`;
    if (this.local6 && s6!.base === this.local6.base && s6!.len === this.local6.len) return 'local IPv6 subnet';
    const ip6 = parseIpv6(peer.publicIp);
    if (ip6 === null || ip6 === 0n || isIpv4Mapped(ip6)) return `publicIp '${peer.publicIp}' is not an IPv6 address`;
    const mac = parseMac(peer.vtepMac);
    if (mac === null) return `vtepMac '${peer.vtepMac}' is not aa:bb:cc:dd:ee:ff`;
    const subnetBase = (this.network.base + idx6 * 2 ** (32 - this.subnetLen)) | 0;
    // publicIp: a key of its own per peer for the IPv4 sender hash, which no datagram is looked up in.
    return { subnetBase, publicIp: subnetBase | 1, mac, flags: peer.csumElision === true ? PEER_CSUM_ELISION : 0, nodeName: peer.nodeName, subnet6Index: idx6, mac6: mac, publicIp6: ipv6Bytes(ip6) };
  }
}

export class RouteTable {
  /** Network base address as int32. */
  readonly networkBase: number;
  readonly networkPrefixLen: number;
  readonly subnetLen: number;
  /** 32 − subnetLen: shift from an address offset in the network to its subnet index. */
  readonly hostBits: number;
  readonly subnetCount: number;
  /** Subnet index → peer slot, −1 where no lease. */
  readonly peerBySubnet: Int32Array;
  // Per peer slot (arrays replaced when the table grows, so read them through the table, once per
  // batch at most): public IPv4 (int32), subnet base (int32), VTEP MAC (6 bytes each), PEER_* flags,
  // PEER_FIELDS counters (see PeerCount, owned by whoever routes with this table), node name.
  peerPublicIp: Int32Array;
  peerSubnetBase: Int32Array;
  peerMac: Uint8Array;
  peerFlags: Uint8Array;
  peerCounters: Float64Array;
  /** Dual-stack: the IPv6 lookup, and per slot its IPv6 subnet index (−1: none) and IPv6 VTEP MAC. */
  readonly v6: Subnet6Index | undefined;
  peerSubnet6Index: Int32Array;
  peerMac6: Uint8Array;
  /** Per slot its public IPv6, 16 bytes (all zero: none). */
  peerPublicIp6: Uint8Array;
  private names: (string | undefined)[];
  /** Peers rejected by build(); empty for a table made from a wire. */
  readonly rejected: readonly RejectedPeer[];
  private live = 0;
  /** Slot → 1 when it holds a peer. */
  private used: Uint8Array;
  private free: number[] = [];
  /** Slot → next slot with the same public IP (−1: none): senders shared by several subnets. */
  private sameIpNext: Int32Array;
  private senderKeys: Int32Array;
  private senderValues: Int32Array;
  private senderMask: number;
  private senderShift: number;
  private specs: readonly PeerSpec[] | undefined;

  private constructor(network: Subnet4, subnetLen: number, capacity: number, rejected: RejectedPeer[], private readonly layout6?: Layout6, readonly ipv6Only = false) {
    this.networkBase = network.base | 0;
    this.networkPrefixLen = network.len;
    this.subnetLen = subnetLen;
    this.hostBits = 32 - subnetLen;
    this.subnetCount = 2 ** (subnetLen - network.len);
    this.peerBySubnet = new Int32Array(this.subnetCount).fill(-1);
    this.rejected = rejected;
    const cap = Math.max(MIN_CAPACITY, capacity);
    this.peerPublicIp = new Int32Array(cap);
    this.peerSubnetBase = new Int32Array(cap);
    this.peerMac = new Uint8Array(cap * 6);
    this.peerFlags = new Uint8Array(cap);
    this.peerCounters = new Float64Array(cap * PEER_FIELDS);
    this.v6 = layout6 === undefined ? undefined : new Subnet6Index(layout6.network, layout6.subnetLen);
    this.peerSubnet6Index = new Int32Array(cap).fill(-1);
    this.peerMac6 = new Uint8Array(cap * 6);
    this.peerPublicIp6 = new Uint8Array(cap * 16);
    this.names = new Array<string | undefined>(cap).fill(undefined);
    this.used = new Uint8Array(cap);
    this.sameIpNext = new Int32Array(cap).fill(-1);
    for (let i = cap - 1; i >= 0; i--) this.free.push(i);
    this.senderKeys = new Int32Array(0);
    this.senderValues = new Int32Array(0);
    this.senderMask = 0;
    this.senderShift = 0;
    this.resizeSenders(cap * 2);
  }

  /** The IPv6 layout (dual-stack and IPv6-only tables). */
  get layout(): Layout6 | undefined {
    return this.layout6;
  }

  /** Peers routed. */
  get size(): number {
    return this.live;
  }

  /** Per peer slot: its node name (holes for free slots). */
  get nodeNames(): readonly (string | undefined)[] {
    return this.names;
  }

  /** The peers routed, as the control plane describes them (formatted on demand, O(peers)). */
  get peers(): readonly PeerSpec[] {
    this.specs ??= this.slots().map((i) => ({ ...this.describeSlot(i), ...(this.peerFlags[i] & PEER_CSUM_ELISION ? { csumElision: true } : {}), ...(this.peerFlags[i] & PEER_WEFT ? { weft: true } : {}) }));
    return this.specs;
  }

  /** The peers as numbers, for another thread (see RouteWire): a snapshot, O(peers). */
  toWire(): RouteWire {
    const slots = this.slots();
    const n = slots.length;
    const w = { network: { base: this.networkBase >>> 0, len: this.networkPrefixLen }, subnetLen: this.subnetLen, subnetBase: new Int32Array(n), publicIp: new Int32Array(n), mac: new Uint8Array(n * 6), flags: new Uint8Array(n), nodeNames: slots.map((i) => this.names[i]) };
    const v6 = this.layout6 === undefined ? {} : { layout6: this.layout6, subnet6Index: new Int32Array(n), mac6: new Uint8Array(n * 6) };
    const publicIp6 = slots.some((s) => this.hasPublicIp6(s)) ? new Uint8Array(n * 16) : undefined;
    slots.forEach((s, i) => {
      publicIp6?.set(this.peerPublicIp6.subarray(s * 16, s * 16 + 16), i * 16);
      w.subnetBase[i] = this.peerSubnetBase[s];
      w.publicIp[i] = this.peerPublicIp[s];
      w.mac.set(this.peerMac.subarray(s * 6, s * 6 + 6), i * 6);
      w.flags[i] = this.peerFlags[s];
      if (v6.subnet6Index) {
        v6.subnet6Index[i] = this.peerSubnet6Index[s];
        v6.mac6.set(this.peerMac6.subarray(s * 6, s * 6 + 6), i * 6);
      }
    });
    return { ...w, ...v6, ...(publicIp6 ? { publicIp6 } : {}), ...(this.ipv6Only ? { ipv6Only: true as const } : {}) };
  }

  /**
   * The table of a RouteWire made by toWire() (on another thread): nothing is parsed again; the
   * shape is checked so that a wire from another build fails loudly instead of misrouting.
   */
  static fromWire(w: RouteWire): RouteTable {
    const n = w.subnetBase.length;
    if (w.publicIp.length !== n || w.mac.length !== n * 6 || w.flags.length !== n || w.nodeNames.length !== n || !(w.subnetLen >= w.network.len && w.subnetLen - w.network.len <= MAX_SUBNET_BITS)) {
      throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    }
    if (w.layout6 !== undefined && (w.subnet6Index?.length !== n || w.mac6?.length !== n * 6)) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    if (w.publicIp6 !== undefined && w.publicIp6.length !== n * 16) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    if (w.ipv6Only === true && w.layout6 === undefined) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    const t = new RouteTable(w.network, w.subnetLen, n, [], w.layout6, w.ipv6Only === true);
    for (let i = 0; i < n; i++) {
      const v6 = w.subnet6Index && w.mac6 ? { subnet6Index: w.subnet6Index[i], mac6: w.mac6.subarray(i * 6, i * 6 + 6) } : {};
      const ip6 = w.publicIp6?.subarray(i * 16, i * 16 + 16);
      t.upsert({ subnetBase: w.subnetBase[i], publicIp: w.publicIp[i], mac: w.mac.subarray(i * 6, i * 6 + 6), flags: w.flags[i], nodeName: w.nodeNames[i], ...v6, ...(ip6 && ip6.some((b) => b !== 0) ? { publicIp6: ip6 } : {}) });
    }
    return t;
  }

  /** Validates the network and every peer; a bad peer is skipped and listed in `rejected`. */
  static build(opts: RouteTableOptions): RouteTable {
    const encoder = new PeerEncoder(opts);
    const rejected: RejectedPeer[] = [];
    const accepted: PeerWire[] = [];
    const specs: PeerSpec[] = [];
    const seen = new Set<number>();
    const seen6 = new Set<number>();
    for (const peer of opts.peers) {
      const w = encoder.encode(peer);
      const i6 = typeof w === 'string' ? -1 : (w.subnet6Index ?? -1);
      const reason = typeof w === 'string' ? w : seen.has(w.subnetBase) ? `duplicate subnet ${peer.subnet}` : seen6.has(i6) ? `duplicate subnet6 ${peer.subnet6}` : null;
      if (reason !== null) {
        rejected.push({ peer, reason });
        continue;
      }
      seen.add((w as PeerWire).subnetBase);
      if (i6 >= 0) seen6.add(i6);
      accepted.push(w as PeerWire);
      specs.push(peer);
    }
    const t = new RouteTable(encoder.network, encoder.subnetLen, accepted.length, rejected, encoder.layout6, encoder.ipv6Only);
    for (const w of accepted) t.upsert(w);
    t.specs = specs;
    return t;
  }

  static empty(network: string, subnetLen: number): RouteTable {
    return RouteTable.build({ network, subnetLen, peers: [] });
  }

  /**
   * Routes `w.subnetBase` to this peer: its slot (and counters) when the subnet is already routed,
   * else a free one. O(1) amortised. Throws when the subnet is outside the table's network (a wire
   * that no PeerEncoder of this network made).
   */
  upsert(w: PeerWire): number {
    const idx = this.subnetIndex(w.subnetBase);
    if (idx < 0 || ((w.subnetBase - this.networkBase) & (2 ** this.hostBits - 1)) !== 0 || w.mac.length !== 6) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    let slot = this.peerBySubnet[idx];
    if (slot >= 0) {
      if (this.peerPublicIp[slot] !== (w.publicIp | 0)) {
        this.unlinkSender(slot);
        this.peerPublicIp[slot] = w.publicIp | 0;
        this.linkSender(slot);
      }
    } else {
      if (this.free.length === 0) this.grow();
      slot = this.free.pop()!;
      this.used[slot] = 1;
      this.live++;
      this.peerBySubnet[idx] = slot;
      this.peerSubnetBase[slot] = w.subnetBase | 0;
      this.peerPublicIp[slot] = w.publicIp | 0;
      this.linkSender(slot);
    }
    this.peerMac.set(w.mac, slot * 6);
    this.peerFlags[slot] = (w.flags & ~PEER_PUBLIC_IP6) | (w.publicIp6 === undefined ? 0 : PEER_PUBLIC_IP6);
    this.names[slot] = w.nodeName;
    this.route6(slot, w.subnet6Index ?? -1, w.mac6);
    if (w.publicIp6 !== undefined && w.publicIp6.length !== 16) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    if (w.publicIp6 === undefined) this.peerPublicIp6.fill(0, slot * 16, slot * 16 + 16);
    else this.peerPublicIp6.set(w.publicIp6, slot * 16);
    this.specs = undefined;
    return slot;
  }

  /** Stops routing the subnet at `subnetBase`; its slot's counters are zeroed. False when it was not routed. O(1). */
  remove(subnetBase: number): boolean {
    const idx = this.subnetIndex(subnetBase);
    const slot = idx < 0 ? -1 : this.peerBySubnet[idx];
    if (slot < 0) return false;
    this.unlinkSender(slot);
    this.route6(slot, -1, undefined);
    this.peerPublicIp6.fill(0, slot * 16, slot * 16 + 16);
    this.peerFlags[slot] = 0;
    this.peerBySubnet[idx] = -1;
    this.used[slot] = 0;
    this.names[slot] = undefined;
    this.peerCounters.fill(0, slot * PEER_FIELDS, (slot + 1) * PEER_FIELDS);
    this.free.push(slot);
    this.live--;
    this.specs = undefined;
    return true;
  }

  /** Applies deltas in order (between batches: see the header). */
  apply(deltas: readonly RouteDelta[]): void {
    for (const d of deltas) {
      if (d.op === 'upsert') this.upsert(d.peer);
      else this.remove(d.subnetBase);
    }
  }

  /** Copies the counters of every subnet `old` also routes into this table's slots for it, O(peers). */
  takeCounters(old: RouteTable): void {
    for (const slot of this.slots()) {
      const was = old.slotOf(this.peerSubnetBase[slot]);
      if (was >= 0) this.peerCounters.set(old.peerCounters.subarray(was * PEER_FIELDS, (was + 1) * PEER_FIELDS), slot * PEER_FIELDS);
    }
  }

  /** The slot routing the subnet at `subnetBase` (int32 or uint32), or −1. */
  slotOf(subnetBase: number): number {
    const idx = this.subnetIndex(subnetBase);
    return idx < 0 ? -1 : this.peerBySubnet[idx];
  }

  /**
   * Subnet index of an address (int32 or uint32), or −1 when outside the network. Hot path.
   */
  subnetIndex(ip: number): number {
    const rel = ((ip | 0) - this.networkBase) >>> 0;
    const idx = rel >>> this.hostBits;
    return idx < this.subnetCount ? idx : -1;
  }

  /** Peer slot routing `dst`, or −1. Hot path. */
  lookup(dst: number): number {
    const idx = this.subnetIndex(dst);
    return idx < 0 ? -1 : this.peerBySubnet[idx];
  }

  /** Peer slot routing the IPv6 address at u8[at, at+16), or −1 (also in an IPv4-only table). Hot path. */
  lookup6(u8: Uint8Array, at: number): number {
    const v6 = this.v6;
    return v6 === undefined ? -1 : v6.slotAt(v6.indexOf(u8, at));
  }

  /** The slot's peer has a public IPv6 (peerPublicIp6). Hot path. */
  hasPublicIp6(slot: number): boolean {
    return (this.peerFlags[slot] & PEER_PUBLIC_IP6) !== 0;
  }

  /** Points the IPv6 subnet `index6` (−1: none) at `slot`, unrouting the one the slot had. */
  private route6(slot: number, index6: number, mac6: Uint8Array | undefined): void {
    const old = this.peerSubnet6Index[slot];
    const v6 = this.v6;
    if (index6 >= 0 && (v6 === undefined || index6 >= v6.size || mac6?.length !== 6)) throw new WeftError('WEFT_ERR_NATIVE', WIRE_ERROR);
    if (old >= 0 && old !== index6 && v6!.slotAt(old) === slot) v6!.clear(old);
    this.peerSubnet6Index[slot] = index6;
    if (index6 >= 0) {
      v6!.set(index6, slot);
      this.peerMac6.set(mac6!, slot * 6);
    }
  }

  /** A peer slot whose public address is `publicIp` (int32 or uint32), or −1. Hot path. */
  senderIndex(publicIp: number): number {
    const key = publicIp | 0;
    const mask = this.senderMask;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.senderShift;
    for (;;) {
      const v = this.senderValues[slot];
      if (v < 0) return -1;
      if (this.senderKeys[slot] === key) return v;
      slot = (slot + 1) & mask;
    }
  }

  /** A readable view for status pages and logs, O(peers). */
  describe(): { subnet: string; publicIp: string; vtepMac: string; nodeName?: string; subnet6?: string; vtepMac6?: string; publicIpv6?: string }[] {
    return this.slots().map((i) => this.describeSlot(i));
  }

  /** The slots holding a peer, in slot order. */
  slots(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.used.length; i++) if (this.used[i] === 1) out.push(i);
    return out;
  }

  private describeSlot(i: number): { subnet: string; publicIp: string; vtepMac: string; nodeName?: string; subnet6?: string; vtepMac6?: string; publicIpv6?: string } {
    const nodeName = this.names[i];
    const index6 = this.peerSubnet6Index[i];
    const l6 = this.layout6;
    if (this.ipv6Only && l6 !== undefined) {
      const subnet6 = formatCidr6({ base: l6.network.base + (BigInt(index6) << BigInt(128 - l6.subnetLen)), len: l6.subnetLen });
      const publicIpv6 = formatIpv6(ipv6FromBytes(this.peerPublicIp6, i * 16));
      const vtepMac6 = formatMac(this.peerMac6, i * 6);
      return { subnet: subnet6, publicIp: publicIpv6, vtepMac: vtepMac6, ...(nodeName === undefined ? {} : { nodeName }), subnet6, vtepMac6, publicIpv6 };
    }
    return {
      subnet: `${formatIpv4(this.peerSubnetBase[i] >>> 0)}/${this.subnetLen}`,
      publicIp: formatIpv4(this.peerPublicIp[i] >>> 0),
      vtepMac: formatMac(this.peerMac, i * 6),
      ...(nodeName === undefined ? {} : { nodeName }),
      ...(index6 < 0 || l6 === undefined ? {} : { subnet6: formatCidr6({ base: l6.network.base + (BigInt(index6) << BigInt(128 - l6.subnetLen)), len: l6.subnetLen }), vtepMac6: formatMac(this.peerMac6, i * 6) }),
      ...(this.hasPublicIp6(i) ? { publicIpv6: formatIpv6(ipv6FromBytes(this.peerPublicIp6, i * 16)) } : {}),
    };
  }

  /** Doubles the slots (amortised O(1) per upsert). */
  private grow(): void {
    const cap = this.used.length;
    const next = cap * 2;
    const widen = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T, per = 1): T => {
      const b = make(next * per);
      b.set(a);
      return b;
    };
    this.peerPublicIp = widen(this.peerPublicIp, (n) => new Int32Array(n));
    this.peerSubnetBase = widen(this.peerSubnetBase, (n) => new Int32Array(n));
    this.peerMac = widen(this.peerMac, (n) => new Uint8Array(n), 6);
    this.peerFlags = widen(this.peerFlags, (n) => new Uint8Array(n));
    this.peerCounters = widen(this.peerCounters, (n) => new Float64Array(n), PEER_FIELDS);
    this.peerSubnet6Index = widen(this.peerSubnet6Index, (n) => new Int32Array(n).fill(-1));
    this.peerMac6 = widen(this.peerMac6, (n) => new Uint8Array(n), 6);
    this.peerPublicIp6 = widen(this.peerPublicIp6, (n) => new Uint8Array(n), 16);
    this.used = widen(this.used, (n) => new Uint8Array(n));
    const chain = new Int32Array(next).fill(-1);
    chain.set(this.sameIpNext);
    this.sameIpNext = chain;
    this.names.length = next;
    this.names.fill(undefined, cap);
    for (let i = next - 1; i >= cap; i--) this.free.push(i);
    this.resizeSenders(next * 2);
  }

  /** Rebuilds the sender hash with `want` (≥ 2 × slots) buckets. */
  private resizeSenders(want: number): void {
    let size = 8;
    while (size < want) size *= 2;
    this.senderKeys = new Int32Array(size);
    this.senderValues = new Int32Array(size).fill(-1);
    this.senderMask = size - 1;
    this.senderShift = 32 - Math.log2(size);
    this.sameIpNext.fill(-1);
    for (let i = 0; i < this.used.length; i++) if (this.used[i] === 1) this.linkSender(i);
  }

  private bucketOf(key: number): number {
    const mask = this.senderMask;
    let b = Math.imul(key, 0x9e3779b1) >>> this.senderShift;
    while (this.senderValues[b] >= 0 && this.senderKeys[b] !== key) b = (b + 1) & mask;
    return b;
  }

  /** Adds `slot` under its public IP: the hash's entry when the IP is new, else the chain behind it. */
  private linkSender(slot: number): void {
    const key = this.peerPublicIp[slot];
    const b = this.bucketOf(key);
    const head = this.senderValues[b];
    if (head < 0) {
      this.senderKeys[b] = key;
      this.senderValues[b] = slot;
      this.sameIpNext[slot] = -1;
    } else {
      this.sameIpNext[slot] = this.sameIpNext[head];
      this.sameIpNext[head] = slot;
    }
  }

  /** Removes `slot` from under its public IP (backward-shift deletion when it was the last one). */
  private unlinkSender(slot: number): void {
    const key = this.peerPublicIp[slot];
    const b = this.bucketOf(key);
    const head = this.senderValues[b];
    const next = this.sameIpNext[slot];
    this.sameIpNext[slot] = -1;
    if (head !== slot) {
      let p = head;
      while (this.sameIpNext[p] !== slot) p = this.sameIpNext[p];
      this.sameIpNext[p] = next;
      return;
    }
    if (next >= 0) {
      this.senderValues[b] = next;
      return;
    }
    const mask = this.senderMask;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & mask;
      if (this.senderValues[j] < 0) break;
      const home = Math.imul(this.senderKeys[j], 0x9e3779b1) >>> this.senderShift;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.senderKeys[hole] = this.senderKeys[j];
        this.senderValues[hole] = this.senderValues[j];
        hole = j;
      }
    }
    this.senderValues[hole] = -1;
  }
}
