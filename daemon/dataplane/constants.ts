// Wire and layout constants of the data plane. Specification constants come from VXLAN (RFC 7348),
// Ethernet, IPv4/IPv6 and Flannel's vxlan backend; implementation constants describe weft's own
// buffers and must match daemon/dataplane/native/weft_native.h.

// ---- Specification ----
export const VXLAN_HEADER_SIZE = 8;
export const VXLAN_FLAGS_OFFSET = 0;
export const VXLAN_VNI_OFFSET = 4;
/** Flags byte: only the I bit (VNI valid) is set. */
export const VXLAN_FLAG_VNI = 0x08;
export const VXLAN_MAX_VNI = 0xffffff;
/**
 * weft's own bit in the first reserved VXLAN byte (offset 1; unused by VXLAN-GBP, whose bits there
 * are 0x40 and 0x08): the inner TCP/UDP checksum field holds only the pseudo-header sum, to be
 * finished by whoever needs it (checksum elision between weft nodes). Sent only to peers whose lease
 * advertises it (BackendData.WeftCsumElision); a kernel VXLAN device drops frames with it.
 */
export const VXLAN_WEFT_FLAGS_OFFSET = 1;
export const VXLAN_WEFT_CSUM_PARTIAL = 0x01;
export const ETH_ADDR_SIZE = 6;
export const INNER_ETH_SIZE = 14;
export const ETH_DST_OFFSET = 0;
export const ETH_SRC_OFFSET = 6;
export const ETH_TYPE_OFFSET = 12;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** VXLAN header + inner Ethernet: what weft writes in front of each inner packet. */
export const ENCAP_SIZE = VXLAN_HEADER_SIZE + INNER_ETH_SIZE;
/** Outer IPv4 (20) + UDP (8) + ENCAP_SIZE: underlay MTU − OVERHEAD = TUN MTU = FLANNEL_MTU. */
export const OVERHEAD = 20 + 8 + ENCAP_SIZE;
/** Flannel's Backend.Port when 0 or absent (the Linux kernel's VXLAN port, not IANA's 4789). */
export const DEFAULT_VXLAN_PORT = 8472;
/** Flannel's Backend.VNI when absent. */
export const DEFAULT_VNI = 1;

export const IPV4_MIN_HEADER_SIZE = 20;
export const IPV6_HEADER_SIZE = 40;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_ICMPV6 = 58;
export const TCP_CHECKSUM_OFFSET = 16;
export const UDP_CHECKSUM_OFFSET = 6;
export const TCP_MIN_HEADER_SIZE = 20;
export const UDP_HEADER_SIZE = 8;
export const ICMP_HEADER_SIZE = 8;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_NET_UNREACHABLE = 0;
/** ICMPv6 (RFC 4443): destination unreachable, code 0 no route; types below 128 are errors. */
export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_NO_ROUTE = 0;
/** ICMPv6 Packet Too Big (RFC 4443 3.2): its 32-bit field is the next hop's MTU. */
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_ERROR_TYPES_BELOW = 128;
/** IPv6's minimum link MTU: an ICMPv6 error and its quote must fit in it. */
export const IPV6_MIN_MTU = 1280;

// ---- Implementation ----
/** --tun-name and DataplaneOptions.tunName when not given. */
export const DEFAULT_TUN_NAME = 'weft0';
/** --tun-offloads, --udp-offloads, --checksum-elision and their DataplaneOptions when not given. */
export const DEFAULT_TUN_OFFLOADS = true;
export const DEFAULT_UDP_OFFLOADS = true;
export const DEFAULT_CSUM_ELISION = true;
/** Bytes reserved before each packet read from the TUN; the encap header is written at its end. */
export const HEADROOM = 64;
/** Where a received datagram lands in its slot; keeps the inner IP header 8-byte aligned. */
export const UDP_RX_OFFSET = HEADROOM - ENCAP_SIZE;
export const DEFAULT_BATCH = 64;
export const MAX_BATCH = 1024;
/** Socket buffers sized for bursts (ANCHORS.md: 4 MiB removed most loss). */
export const DEFAULT_SOCKET_BUFFER = 4 << 20;

/** int32 fields per batch entry in the native meta arrays (tunIn, udpIn, udpOut, tunOut). */
export const META_STRIDE = 8;
export const IN_OFFSET = 0;
export const IN_LENGTH = 1;
export const IN_ADDR = 2;
export const IN_PORT = 3;
export const IN_FLAGS = 4;
export const IN_FLAG_TRUNCATED = 1;
/** tunIn (vnet header): the L4 checksum at IN_CSUM is partial (pseudo-header sum only). */
export const IN_FLAG_NEEDS_CSUM = 2;
/** udpIn: received on the IPv6 underlay socket; IN_ADDR is the sender's peer slot (setPeer6), −1 when unknown. */
export const IN_FLAG_V6 = 4;
/** tunIn (vnet header): VIRTIO_NET_HDR_GSO_*; IN_GSO_SIZE is then the MSS. */
export const IN_GSO_TYPE = 6;
/** tunIn (vnet header): csum_start | csum_offset << 16. */
export const IN_CSUM = 7;
/** udpIn: UDP GRO segment size (0 = one datagram); IN_LENGTH is then the total of several. */
export const IN_GSO_SIZE = 5;
export const UDP_OUT_OFFSET = 0;
export const UDP_OUT_LENGTH = 1;
export const UDP_OUT_ADDR = 2;
export const UDP_OUT_PORT = 3;
/** udpOut: OUT_DATAGRAM, or OUT_TSO (a TCP super-packet the engine cuts; weft_native.h), | OUT_V6. */
export const UDP_OUT_KIND = 4;
export const UDP_OUT_MSS = 5;
/** udpOut (OUT_TSO): encap + IPv4 or IPv6 + TCP header bytes at UDP_OUT_OFFSET. */
export const UDP_OUT_HDR_LEN = 6;
/** udpOut (OUT_TSO): CSUM_FULL or CSUM_PARTIAL for each segment's TCP checksum. */
export const UDP_OUT_CSUM = 7;
export const OUT_DATAGRAM = 0;
export const OUT_TSO = 1;
/** udpOut kind bit: UDP_OUT_ADDR is a peer slot, sent over the IPv6 underlay to its address (setPeer6). */
export const OUT_V6 = 2;
export const CSUM_FULL = 0;
export const CSUM_PARTIAL = 1;
export const TUN_OUT_OFFSET = 0;
export const TUN_OUT_LENGTH = 1;
/** With a vnet-header TUN: virtio-net header flags and gso type (0, 0 = plain packet). */
export const TUN_OUT_FLAGS = 2;
export const TUN_OUT_GSO_TYPE = 3;
export const TUN_OUT_HDR_LEN = 4;
export const TUN_OUT_GSO_SIZE = 5;
export const TUN_OUT_CSUM_START = 6;
export const TUN_OUT_CSUM_OFFSET = 7;
export const VIRTIO_NEEDS_CSUM = 1;
export const VIRTIO_GSO_TCPV4 = 1;
export const VIRTIO_GSO_TCPV6 = 4;
export const VIRTIO_GSO_ECN = 0x80;
export const CTL_UDP_OUT = 0;
export const CTL_TUN_OUT = 1;
/**
 * Set by inside.ts/outside.ts after a one-packet batch when the engine may replay their decision for
 * packets of the same key (weft_replay.h): the peer's route table slot + 1; the engine zeroes it
 * before each callback.
 */
export const CTL_REPLAY = 2;
/** Nonzero: the engine replays nothing; every packet goes to the callbacks (a next-packet hook waits). */
export const CTL_JS_ONLY = 3;
export const CTL_SIZE = 4;

/** openTun flags, reserved for offloads (issue 7). */
export const TUN_FLAG_VNET_HDR = 1;
export const TUN_FLAG_MULTI_QUEUE = 2;
/** TUNSETOWNER(euid) + TUNSETPERSIST: the device, its address and routes outlive the process. */
export const TUN_FLAG_PERSIST = 4;
/** openUdp / openUdp6 flags. */
export const UDP_FLAG_GRO = 1;
/** openUdp6: IP_FREEBIND, so that an address still in duplicate address detection can be bound. */
export const UDP_FLAG_FREEBIND = 2;
