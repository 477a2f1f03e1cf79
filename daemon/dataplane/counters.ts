// Drop reasons and the counters the hot path bumps. A drop is `drops[reason]++`: no exception, no
// log line, no allocation. Names are stable: they become metric labels and stats() keys.

export const Drop = {
  // TUN -> UDP (outbound)
  /** Destination inside no leased subnet; answered with ICMP net unreachable. */
  NO_ROUTE: 0,
  /** Destination outside the overlay Network, or in our own subnet (would loop). */
  NOT_OVERLAY: 1,
  /** IPv6 on the TUN while this node has no IPv6 network (an IPv4-only config). */
  IPV6_UNSUPPORTED: 2,
  /** Shorter than an IP header, bad version or lengths. */
  MALFORMED_OUTBOUND: 3,
  // UDP -> TUN (inbound)
  /** Datagram shorter than VXLAN + Ethernet + IP header, or cut by the receive buffer. */
  TRUNCATED: 4,
  /** VXLAN flags byte other than 0x08. */
  BAD_FLAGS: 5,
  /** Reserved VXLAN bits set. */
  BAD_RESERVED: 6,
  WRONG_VNI: 7,
  /** Outer source address belongs to no peer. */
  UNKNOWN_SENDER: 8,
  /** Inner Ethernet destination is not our VtepMAC (IPv6: our BackendV6Data.VtepMAC). */
  WRONG_DST_MAC: 9,
  /** Inner ethertype neither IPv4 nor IPv6 (ARP and friends never cross a Flannel VXLAN). */
  NON_IP: 10,
  /** Inner IPv6 while this node has no IPv6 network (an IPv4-only config). */
  INNER_IPV6: 11,
  /** Inner IP header inconsistent: version, header length, total (IPv6: payload) length. */
  MALFORMED_INNER: 12,
  /** Inner source outside the subnet leased to the outer sender. */
  SPOOFED_SOURCE: 13,
  /** Inner destination outside this node's subnet. */
  NOT_FOR_US: 14,
  /** Inner TCP/UDP checksum wrong and not a partial (pseudo-header only) one. */
  BAD_L4_CHECKSUM: 15,
  /** TUN super-packet that cannot be segmented: unsupported GSO type, inconsistent lengths, MSS. */
  BAD_SUPER_PACKET: 16,
  /** VXLAN_WEFT_CSUM_PARTIAL from a sender whose lease does not advertise checksum elision. */
  ELISION_UNEXPECTED: 17,
  /** VXLAN_WEFT_CSUM_PARTIAL on a packet that is not an unfragmented TCP/UDP packet with sane headers. */
  BAD_ELISION: 18,
  /**
   * IPv6 towards a peer that is not weft (a Flannel/kernel node): it takes IPv6 only over the IPv6
   * underlay, and this node has none (no PublicIPv6) or the peer's lease has no PublicIPv6.
   */
  IPV6_NO_PATH: 19,
  /** IPv6 towards a Flannel peer larger than the IPv6 underlay carries: answered with Packet Too Big. */
  TOO_BIG_FOR_UNDERLAY6: 20,
} as const;

export type DropReason = (typeof Drop)[keyof typeof Drop];

export const DROP_NAMES: readonly string[] = [
  'noRoute',
  'notOverlay',
  'ipv6Unsupported',
  'malformedOutbound',
  'truncated',
  'badFlags',
  'badReserved',
  'wrongVni',
  'unknownSender',
  'wrongDstMac',
  'nonIp',
  'innerIpv6',
  'malformedInner',
  'spoofedSource',
  'notForUs',
  'badL4Checksum',
  'badSuperPacket',
  'elisionUnexpected',
  'badElision',
  'ipv6NoPath',
  'tooBigForUnderlay6',
];

export const DROP_COUNT = DROP_NAMES.length;

/** Counters kept by TypeScript per data plane (native ones are in native.ts). */
export const Count = {
  TX_PACKETS: 0,
  TX_BYTES: 1,
  RX_PACKETS: 2,
  RX_BYTES: 3,
  ICMP_SENT: 4,
  /** Inner L4 checksums finished for a kernel VXLAN sender (CHECKSUM_PARTIAL over veth). */
  CHECKSUMS_FINISHED: 5,
  /** Inner TCP super-packets (kernel TSO over veth) cut to the MTU. */
  SEGMENTED: 6,
  /** TSO super-packets read from a vnet-header TUN and cut into datagrams. */
  SUPER_PACKETS: 7,
  /** Packets (super-packets count once) sent with VXLAN_WEFT_CSUM_PARTIAL. */
  ELIDED_SENT: 8,
  /** Packets received with VXLAN_WEFT_CSUM_PARTIAL and handed on without summing them. */
  ELIDED_RECEIVED: 9,
} as const;

export const COUNT_NAMES: readonly string[] = ['txPackets', 'txBytes', 'rxPackets', 'rxBytes', 'icmpSent', 'checksumsFinished', 'segmented', 'superPackets', 'elidedSent', 'elidedReceived'];

/** Per-peer counter fields, PEER_FIELDS per peer in RouteTable.peerCounters. */
export const PeerCount = { TX_PACKETS: 0, TX_BYTES: 1, RX_PACKETS: 2, RX_BYTES: 3 } as const;
export const PEER_FIELDS = 4;
