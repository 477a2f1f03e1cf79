// RouteTable: an immutable snapshot of the peers, built by the control plane and swapped whole
// into the data plane with `dataplane.setRoutes(table)`. The data plane reads it once per batch.
//
// Every lease in Flannel's layout is a subnet of exactly SubnetLen inside Network, so the route
// lookup is an array index: `(dst - network) >>> (32 - subnetLen)` → peer index (or -1). Receive
// validation uses an open-addressing hash from outer source address to a peer, and the subnet
// index of the inner source (which must belong to a peer with that same public address).
import { WeftError } from '../errors.js';
import { formatIpv4, parseIpv4, parseSubnet, prefixMask, requireSubnet, type Subnet4 } from '../net/ipv4.js';
import { formatMac, parseMac } from '../net/mac.js';
import { PEER_FIELDS } from './counters.js';

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
}

/** RouteTable.peerFlags bits. */
export const PEER_CSUM_ELISION = 1;

export interface RouteTableOptions {
  /** The overlay Network, '10.244.0.0/16'. */
  readonly network: string;
  /** Flannel's SubnetLen: every lease is a /subnetLen inside network. */
  readonly subnetLen: number;
  /** This node's own subnet: a peer entry for it is ignored (listed in `rejected`). */
  readonly localSubnet?: string;
  readonly peers: readonly PeerSpec[];
}

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
}

export interface RejectedPeer {
  readonly peer: PeerSpec;
  readonly reason: string;
}

/** Largest index array we build: 2^20 subnets (e.g. a /8 cut in /28s), 4 MiB. */
const MAX_SUBNET_BITS = 20;

export class RouteTable {
  /** Network base address as int32. */
  readonly networkBase: number;
  readonly networkPrefixLen: number;
  readonly subnetLen: number;
  /** 32 − subnetLen: shift from an address offset in the network to its subnet index. */
  readonly hostBits: number;
  readonly subnetCount: number;
  /** Subnet index → peer index, −1 where no lease. */
  readonly peerBySubnet: Int32Array;
  /** Per peer: public IPv4 (int32), subnet base (int32), VTEP MAC (6 bytes each). */
  readonly peerPublicIp: Int32Array;
  readonly peerSubnetBase: Int32Array;
  readonly peerMac: Uint8Array;
  /** Per peer: PEER_* flag bits. */
  readonly peerFlags: Uint8Array;
  /** Per peer: PEER_FIELDS counters (see PeerCount), owned by whoever routes with this table. */
  readonly peerCounters: Float64Array;
  readonly nodeNames: readonly (string | undefined)[];
  readonly rejected: readonly RejectedPeer[];
  private specs: readonly PeerSpec[] | undefined;
  private readonly senderKeys: Int32Array;
  private readonly senderValues: Int32Array;
  private readonly senderMask: number;
  private readonly senderShift: number;

  private constructor(w: RouteWire, specs: readonly PeerSpec[] | undefined, rejected: RejectedPeer[]) {
    const { network, subnetLen } = w;
    this.networkBase = network.base | 0;
    this.networkPrefixLen = network.len;
    this.subnetLen = subnetLen;
    this.hostBits = 32 - subnetLen;
    this.subnetCount = 2 ** (subnetLen - network.len);
    this.peerBySubnet = new Int32Array(this.subnetCount).fill(-1);
    const n = w.subnetBase.length;
    this.peerPublicIp = w.publicIp;
    this.peerSubnetBase = w.subnetBase;
    this.peerMac = w.mac;
    this.peerFlags = w.flags;
    this.nodeNames = w.nodeNames;
    this.peerCounters = new Float64Array(n * PEER_FIELDS);
    let size = 8;
    while (size < n * 2) size *= 2;
    this.senderKeys = new Int32Array(size);
    this.senderValues = new Int32Array(size).fill(-1);
    this.senderMask = size - 1;
    this.senderShift = 32 - Math.log2(size);
    for (let i = 0; i < n; i++) {
      const ip = w.publicIp[i];
      this.peerBySubnet[((w.subnetBase[i] >>> 0) - (network.base >>> 0)) / 2 ** this.hostBits] = i;
      if (this.senderIndex(ip) < 0) this.insertSender(ip, i);
    }
    this.specs = specs;
    this.rejected = rejected;
  }

  /** The peers routed, as the control plane describes them (formatted on demand for a table built from a RouteWire). */
  get peers(): readonly PeerSpec[] {
    this.specs ??= this.describe().map((d, i) => ({ ...d, ...(this.peerFlags[i] & PEER_CSUM_ELISION ? { csumElision: true } : {}) }));
    return this.specs;
  }

  /** The peers as numbers, for another thread (see RouteWire). */
  toWire(): RouteWire {
    return { network: { base: this.networkBase >>> 0, len: this.networkPrefixLen }, subnetLen: this.subnetLen, subnetBase: this.peerSubnetBase, publicIp: this.peerPublicIp, mac: this.peerMac, flags: this.peerFlags, nodeNames: this.nodeNames };
  }

  /**
   * The table of a RouteWire made by toWire() (on another thread): nothing is parsed again; the
   * shape is checked so that a wire from another build fails loudly instead of misrouting.
   */
  static fromWire(w: RouteWire): RouteTable {
    const n = w.subnetBase.length;
    const size = 2 ** (w.subnetLen - w.network.len);
    const bad =
      w.publicIp.length !== n || w.mac.length !== n * 6 || w.flags.length !== n || w.nodeNames.length !== n ||
      !(w.subnetLen >= w.network.len && w.subnetLen - w.network.len <= MAX_SUBNET_BITS) ||
      Array.prototype.some.call(w.subnetBase, (b: number) => {
        const idx = ((b >>> 0) - (w.network.base >>> 0)) / 2 ** (32 - w.subnetLen);
        return !(Number.isInteger(idx) && idx >= 0 && idx < size);
      });
    if (bad) throw new WeftError('WEFT_ERR_NATIVE', 'route table wire is inconsistent (a data plane thread from another build?)');
    return new RouteTable(w, undefined, []);
  }

  /** Validates the network and every peer; a bad peer is skipped and listed in `rejected`. */
  static build(opts: RouteTableOptions): RouteTable {
    const network = requireSubnet('network', opts.network);
    const { subnetLen } = opts;
    if (!Number.isInteger(subnetLen) || subnetLen < network.len || subnetLen > 30 || subnetLen - network.len > MAX_SUBNET_BITS) {
      throw new WeftError(
        'WEFT_ERR_CONFIG',
        `subnetLen: ${subnetLen} does not fit network ${opts.network} (need ${network.len} <= subnetLen <= 30, at most 2^${MAX_SUBNET_BITS} subnets)`,
      );
    }
    const local = opts.localSubnet === undefined ? undefined : requireSubnet('localSubnet', opts.localSubnet);
    const accepted: PeerSpec[] = [];
    const rejected: RejectedPeer[] = [];
    const seen = new Set<number>();
    const mask = prefixMask(network.len);
    for (const peer of opts.peers) {
      const c = parseSubnet(peer.subnet);
      let reason: string | null = null;
      if (c === null) reason = `subnet '${peer.subnet}' is not a.b.c.d/len`;
      else if (c.len !== subnetLen) reason = `subnet ${peer.subnet} is not a /${subnetLen}`;
      else if ((c.base & mask) !== (network.base & mask)) reason = `subnet ${peer.subnet} is outside ${opts.network}`;
      else if (local && c.base === local.base) reason = 'local subnet';
      else if (seen.has(c.base)) reason = `duplicate subnet ${peer.subnet}`;
      else if (parseIpv4(peer.publicIp) === null || parseIpv4(peer.publicIp) === 0) reason = `publicIp '${peer.publicIp}' is not an IPv4 address`;
      else if (parseMac(peer.vtepMac) === null) reason = `vtepMac '${peer.vtepMac}' is not aa:bb:cc:dd:ee:ff`;
      if (reason !== null) {
        rejected.push({ peer, reason });
        continue;
      }
      seen.add(c!.base);
      accepted.push(peer);
    }
    const n = accepted.length;
    const wire = { network, subnetLen, subnetBase: new Int32Array(n), publicIp: new Int32Array(n), mac: new Uint8Array(n * 6), flags: new Uint8Array(n), nodeNames: accepted.map((p) => p.nodeName) };
    accepted.forEach((p, i) => {
      wire.subnetBase[i] = parseSubnet(p.subnet)!.base | 0;
      wire.publicIp[i] = parseIpv4(p.publicIp)! | 0;
      wire.mac.set(parseMac(p.vtepMac)!, i * 6);
      wire.flags[i] = p.csumElision === true ? PEER_CSUM_ELISION : 0;
    });
    return new RouteTable(wire, accepted, rejected);
  }

  static empty(network: string, subnetLen: number): RouteTable {
    return RouteTable.build({ network, subnetLen, peers: [] });
  }

  /**
   * Subnet index of an address (int32 or uint32), or −1 when outside the network. Hot path.
   */
  subnetIndex(ip: number): number {
    const rel = ((ip | 0) - this.networkBase) >>> 0;
    const idx = rel >>> this.hostBits;
    return idx < this.subnetCount ? idx : -1;
  }

  /** Peer index routing `dst`, or −1. Hot path. */
  lookup(dst: number): number {
    const idx = this.subnetIndex(dst);
    return idx < 0 ? -1 : this.peerBySubnet[idx];
  }

  /** Peer index of an outer source address (int32 or uint32), or −1. Hot path. */
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

  private insertSender(key: number, value: number): void {
    const mask = this.senderMask;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.senderShift;
    while (this.senderValues[slot] >= 0) slot = (slot + 1) & mask;
    this.senderKeys[slot] = key;
    this.senderValues[slot] = value;
  }

  /** A readable view for status pages and logs. */
  describe(): { subnet: string; publicIp: string; vtepMac: string; nodeName?: string }[] {
    return this.nodeNames.map((nodeName, i) => ({
      subnet: `${formatIpv4(this.peerSubnetBase[i] >>> 0)}/${this.subnetLen}`,
      publicIp: formatIpv4(this.peerPublicIp[i] >>> 0),
      vtepMac: formatMac(this.peerMac, i * 6),
      ...(nodeName === undefined ? {} : { nodeName }),
    }));
  }
}
