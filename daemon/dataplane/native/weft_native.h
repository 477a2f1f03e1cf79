/*
 * Shared layout between the C addon and daemon/dataplane/native.ts. Every number here has a twin
 * in TypeScript (constants.ts / native.ts); change both together.
 *
 * Batch interface (one engine per data plane, single-threaded, driven by uv_poll on the loop of
 * the JS environment that created it):
 *
 *   TUN readable  -> read() up to `batch` packets, packet i at arena[tunRxBase + i*slot + HEADROOM]
 *                    -> tunIn[i*META_STRIDE + {OFFSET, LENGTH, ...}]
 *                    -> onTun(count)          (JS fills udpOut/tunOut, sets ctl[CTL_*_OUT])
 *                    -> sendmmsg(udpOut), write(tunOut)
 *   UDP readable  -> recvmmsg() up to `batch` datagrams, i at arena[udpRxBase + i*udpSlot + UDP_RX_OFFSET]
 *                    (udpSlot holds a 64 KiB datagram: kernel peers on one host send TSO super-packets)
 *                    -> udpIn[i*META_STRIDE + {OFFSET, LENGTH, ADDR, PORT, FLAGS}]
 *                    -> onUdp(count)          (same out lists)
 *                    -> write(tunOut), sendmmsg(udpOut)
 *   UDP6 readable -> the same for the IPv6 underlay socket (when the engine has one), into the same
 *                    slots and udpIn, every entry flagged WEFT_IN_FLAG_V6 -> onUdp(count)
 *
 * IPv6 underlay: addresses never cross per packet. The engine keeps a table of IPv6 peers by route
 * table slot (setPeer6, called between batches when routes change). An udpOut entry whose KIND has
 * WEFT_OUT_V6 carries a slot in ADDR and goes out the IPv6 socket to that slot's address; a datagram
 * received on the IPv6 socket reports in ADDR the slot whose address sent it (an open-addressing hash
 * in C), or -1 when no peer has that address.
 *
 * Every meta entry is META_STRIDE int32 wide. Fields past the ones used today are reserved for
 * offloads (virtio-net header: gso type/size, csum start/offset; UDP GSO segment size) so that a
 * super-packet and its metadata travel through the same arrays without changing the interface.
 */
#ifndef WEFT_NATIVE_H
#define WEFT_NATIVE_H

#define WEFT_META_STRIDE 8

/* tunIn / udpIn fields */
#define WEFT_IN_OFFSET 0
#define WEFT_IN_LENGTH 1
#define WEFT_IN_ADDR 2   /* udpIn: source IPv4, host order, as int32 (WEFT_IN_FLAG_V6: peer slot) */
#define WEFT_IN_PORT 3   /* udpIn: source port */
#define WEFT_IN_FLAGS 4  /* WEFT_IN_FLAG_* */
#define WEFT_IN_GSO_SIZE 5 /* udpIn: UDP GRO segment size (0 = one datagram); LENGTH is the total.
                             tunIn (vnet header): TSO segment size (MSS) */
#define WEFT_IN_GSO_TYPE 6 /* tunIn (vnet header): VIRTIO_NET_HDR_GSO_* */
#define WEFT_IN_CSUM 7     /* tunIn (vnet header): csum_start | csum_offset << 16, from the packet */

#define WEFT_IN_FLAG_TRUNCATED 1
#define WEFT_IN_FLAG_NEEDS_CSUM 2 /* tunIn (vnet header): L4 checksum at CSUM to be finished */
#define WEFT_IN_FLAG_V6 4 /* udpIn: from the IPv6 socket; ADDR is the sender's peer slot, -1: unknown */

/* udpOut fields */
#define WEFT_UDP_OUT_OFFSET 0
#define WEFT_UDP_OUT_LENGTH 1
#define WEFT_UDP_OUT_ADDR 2  /* destination IPv4, host order, as int32 (WEFT_OUT_V6: peer slot) */
#define WEFT_UDP_OUT_PORT 3
#define WEFT_UDP_OUT_KIND 4  /* WEFT_OUT_DATAGRAM or WEFT_OUT_TSO, | WEFT_OUT_V6 */
/* A WEFT_OUT_TSO entry is one inner TCP super-packet with its VXLAN + Ethernet header in front:
 * OFFSET/LENGTH cover [encap (WEFT_ENCAP_SIZE) | IPv4 or IPv6 | TCP | payload] (IPv6: the fixed
 * header only, next header TCP; extension headers are refused). The engine cuts it into
 * segments of at most MSS payload bytes without moving the payload: each segment's headers are
 * written into engine scratch memory from the template at OFFSET and sent as iovecs
 * [headers_i, payload_i], with UDP_SEGMENT when GSO is on. */
#define WEFT_UDP_OUT_MSS 5
#define WEFT_UDP_OUT_HDR_LEN 6 /* encap + IP + TCP header bytes at OFFSET (<= WEFT_TSO_HDR_MAX) */
#define WEFT_UDP_OUT_CSUM 7    /* WEFT_CSUM_FULL: compute each segment's TCP checksum;
                                  WEFT_CSUM_PARTIAL: store the pseudo-header sum only (the peer
                                  hands it to its TUN as VIRTIO_NET_HDR_F_NEEDS_CSUM) */
#define WEFT_OUT_DATAGRAM 0
#define WEFT_OUT_TSO 1
#define WEFT_OUT_KIND_MASK 1
#define WEFT_OUT_V6 2 /* ADDR is a peer slot (setPeer6): sent over the IPv6 socket to its address */
#define WEFT_CSUM_FULL 0
#define WEFT_CSUM_PARTIAL 1
#define WEFT_ENCAP_SIZE 22
#define WEFT_TSO_HDR_MAX (WEFT_ENCAP_SIZE + 60 + 60)
/* With UDP GSO on, the engine also sends each run of consecutive DATAGRAM entries to the same
 * address with equal lengths (the last may be shorter) as one sendmsg with UDP_SEGMENT. */

/* tunOut fields */
#define WEFT_TUN_OUT_OFFSET 0
#define WEFT_TUN_OUT_LENGTH 1
/* With a vnet-header TUN, fields 2..7 are the virtio-net header written before the packet;
 * JS sets FLAGS and GSO_TYPE on every entry (0, 0 = a plain packet). */
#define WEFT_TUN_OUT_FLAGS 2
#define WEFT_TUN_OUT_GSO_TYPE 3
#define WEFT_TUN_OUT_HDR_LEN 4
#define WEFT_TUN_OUT_GSO_SIZE 5
#define WEFT_TUN_OUT_CSUM_START 6
#define WEFT_TUN_OUT_CSUM_OFFSET 7

/* ctl (Int32Array) */
#define WEFT_CTL_UDP_OUT 0   /* entries in udpOut to send after the callback */
#define WEFT_CTL_TUN_OUT 1   /* entries in tunOut to write after the callback */
#define WEFT_CTL_REPLAY 2    /* set by JS after a one-packet batch: k > 0 = its decision may be replayed
                                (weft_replay.h), k - 1 = the peer's route table slot; zeroed by the
                                engine before each callback */
#define WEFT_CTL_JS_ONLY 3   /* set by JS: nonzero = no replay, every packet goes to the callbacks */
#define WEFT_CTL_SIZE 4

/* TypeScript's counters a replayed decision bumps (counters.ts: Count, PeerCount, PEER_FIELDS). */
#define WEFT_COUNT_TX_PACKETS 0
#define WEFT_COUNT_TX_BYTES 1
#define WEFT_COUNT_RX_PACKETS 2
#define WEFT_COUNT_RX_BYTES 3
#define WEFT_COUNT_ELIDED_SENT 8
#define WEFT_COUNT_ELIDED_RECEIVED 9
#define WEFT_COUNT_FIELDS 10
#define WEFT_PEER_TX_PACKETS 0
#define WEFT_PEER_TX_BYTES 1
#define WEFT_PEER_RX_PACKETS 2
#define WEFT_PEER_RX_BYTES 3
#define WEFT_PEER_FIELDS 4

/* nstats (Float64Array), counted by C */
#define WEFT_NS_TUN_READ_PACKETS 0
#define WEFT_NS_TUN_READ_BYTES 1
#define WEFT_NS_TUN_READ_BATCHES 2
#define WEFT_NS_TUN_READ_ERRORS 3
#define WEFT_NS_UDP_RECV_PACKETS 4
#define WEFT_NS_UDP_RECV_BYTES 5
#define WEFT_NS_UDP_RECV_BATCHES 6
#define WEFT_NS_UDP_RECV_ERRORS 7
#define WEFT_NS_UDP_SEND_PACKETS 8
#define WEFT_NS_UDP_SEND_BYTES 9
#define WEFT_NS_UDP_SEND_CALLS 10
#define WEFT_NS_UDP_SEND_ERRORS 11
#define WEFT_NS_UDP_SEND_DROPPED 12  /* socket buffer full (EAGAIN): dropped, as a NIC would */
#define WEFT_NS_TUN_WRITE_PACKETS 13
#define WEFT_NS_TUN_WRITE_BYTES 14
#define WEFT_NS_TUN_WRITE_ERRORS 15
#define WEFT_NS_CALLBACK_ERRORS 16
#define WEFT_NS_UDP_SEND_GSO 17  /* sendmmsg messages carrying UDP_SEGMENT */
#define WEFT_NS_UDP_RECV_GRO 18  /* received buffers that were several datagrams (UDP_GRO) */
#define WEFT_NS_TUN_MODERATED 19 /* TUN wake-ups that waited for more packets (interrupt moderation) */
#define WEFT_NS_BUSY_POLLS 20        /* wake-ups out of silence that polled for the answer */
#define WEFT_NS_BUSY_POLL_ANSWERS 21 /* of those, answers forwarded while polling (a wake-up saved) */
#define WEFT_NS_UDP6_RECV_PACKETS 22 /* of UDP_RECV_PACKETS, received on the IPv6 socket */
#define WEFT_NS_UDP6_SEND_PACKETS 23 /* of UDP_SEND_PACKETS, sent on the IPv6 socket */
#define WEFT_NS_REPLAYED_OUT 24    /* TUN packets sent by a replayed decision (no call into JS) */
#define WEFT_NS_REPLAYED_IN 25     /* datagrams written to the TUN by a replayed decision */
#define WEFT_NS_SIZE 26

/* openTun flags */
#define WEFT_TUN_VNET_HDR 1    /* IFF_VNET_HDR + TUNSETOFFLOAD(CSUM, TSO4, TSO6) */
#define WEFT_TUN_MULTI_QUEUE 2 /* reserved for offloads */
#define WEFT_TUN_PERSIST 4     /* TUNSETOWNER(euid) + TUNSETPERSIST: the device outlives the fd */

/* openUdp / openUdp6 flags */
#define WEFT_UDP_GRO 1 /* setsockopt UDP_GRO: coalesced receives, split by TypeScript */
#define WEFT_UDP_FREEBIND 2 /* openUdp6: IP_FREEBIND, so an address still in duplicate address
                               detection can be bound (it receives once DAD is done) */

#endif
