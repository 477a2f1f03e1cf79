// The JSON that GET /status returns and `weftd status` reads: the contract between the health
// server and the CLI (and any script using `weftd status --json`). Times are ISO 8601 UTC strings;
// counters are totals since this weftd started. Fields are only ever added, never renamed.

export const STATUS_VERSION = 1;

/** alive/suspect/dead: gossip's view; lease-only: listed in etcd but not gossiping (a Flannel node). */
export type PeerState = 'alive' | 'suspect' | 'dead' | 'lease-only';

export interface NodeStatus {
  /** --node-name. */
  readonly name: string;
  /** Leased subnet, e.g. 10.244.1.0/24 (the IPv6 one on an IPv6-only node); null until the lease is held. */
  readonly subnet: string | null;
  /** The cluster network from <prefix>/config, e.g. 10.244.0.0/16 (IPv6Network when IPv6-only); null until it is read. */
  readonly network: string | null;
  /** With EnableIPv6: the leased IPv6 subnet (null until held) and IPv6Network. */
  readonly subnet6?: string | null;
  readonly network6?: string;
  /** With EnableIPv6: the PublicIPv6 this node advertises. */
  readonly publicIPv6?: string | null;
  /** Address peers send VXLAN to. */
  readonly publicIP: string;
  /** MAC of this node's VTEP (stable across restarts). */
  readonly vtepMAC: string;
  /** When the etcd lease expires unless renewed; null until the lease is held. */
  readonly leaseExpiry: string | null;
  /** Inner MTU (FLANNEL_MTU); null until known. */
  readonly mtu: number | null;
  readonly ipMasq: boolean;
  /** Same answer as /readyz. */
  readonly ready: boolean;
  /** Readiness conditions not met (empty when ready), e.g. ["lease", "tun"]. */
  readonly notReady: readonly string[];
  /** Whether etcd answered the last health check. */
  readonly etcdUp: boolean;
}

export interface PeerStatus {
  /** Node name; null for a peer known only from its lease (a Flannel node does not publish one). */
  readonly name: string | null;
  readonly publicIP: string;
  readonly subnet: string;
  readonly vtepMAC: string;
  readonly state: PeerState;
  /** Last message or probe answer from the peer; null if it never gossiped. */
  readonly lastSeen: string | null;
  /** Packets decapsulated from / encapsulated to this peer. */
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Packets from this peer dropped on receive (spoofed inner source, malformed …). */
  readonly drops: number;
}

export interface WeftStatus {
  readonly version: typeof STATUS_VERSION;
  /** When the daemon produced this document. */
  readonly generatedAt: string;
  readonly node: NodeStatus;
  /** Every peer with a route, sorted by subnet. */
  readonly peers: readonly PeerStatus[];
  /** Data plane drops by reason, all peers and directions together. */
  readonly drops: Readonly<Record<string, number>>;
}
