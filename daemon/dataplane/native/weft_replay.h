/*
 * Decision cache: TypeScript's decision for a lone packet, replayed by the engine for the next
 * packets of the same key, so that a ping, a request or an answer crosses the data plane without a
 * call into JavaScript (the call is most of what weft adds to a round trip over a C relay).
 *
 * Who decides stays TypeScript. After a one-packet batch, inside.ts / outside.ts set ctl[CTL_REPLAY]
 * = peer slot + 1 when their decision for that packet left its bytes as they were (no checksum
 * finished, no ICMP answer, no cut) and depended only on what the key below holds; the engine then
 * remembers the 22 encap bytes and the out entry. It replays that decision only for a packet whose
 * key matches and that passes the same structural checks TypeScript made, and forgets everything at
 * each route change (replay_reset). What is replayed is counted exactly as TypeScript counts it,
 * into TypeScript's own counters (the route table's per-peer counters and the forwarder's totals).
 *
 * Out (TUN -> UDP): a lone plain IPv4 packet (header of 20 bytes, no fragment, no GSO); key:
 *   destination, protocol, whether the vnet header asks for a checksum and where.
 * In (UDP -> TUN): a lone datagram over the IPv4 underlay, not truncated or GRO'd, carrying a plain
 *   IPv4 packet that fills it (no padding), no longer than the MTU, no fragment; key: outer source
 *   address, the 22 bytes of VXLAN + inner Ethernet header (elision flag included), inner source,
 *   destination and protocol. Replayed only for elided TCP/UDP (checked as outside.ts checks them:
 *   TCP header length, UDP length) and for other protocols without elision; TCP/UDP that TypeScript
 *   must verify (a kernel VXLAN sender's) always goes to TypeScript.
 *
 * Single-threaded, owned by one engine; no allocation.
 */
#ifndef WEFT_REPLAY_H
#define WEFT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_REPLAY_WAYS 64

typedef struct replay_out {
  uint32_t epoch; /* 0: empty */
  uint32_t dst;
  uint32_t shape; /* protocol | needs_csum << 8 */
  int32_t csum;   /* tunIn CSUM when needs_csum */
  int32_t addr, port, peer, elided;
  uint8_t hdr[22];
} replay_out;

typedef struct replay_in {
  uint32_t epoch;
  int32_t sender;
  uint32_t src, dst, proto;
  int32_t peer, elided;
  int32_t meta[8]; /* the tunOut entry TypeScript wrote; OFFSET and LENGTH are per packet */
  uint8_t hdr[22];
} replay_in;

/* What a lookup found out about a packet, for replay_learn_* after the callback. */
typedef struct replay_key {
  uint32_t dst, src, proto, shape, slot;
  int32_t csum, sender, off, len;
} replay_key;

typedef struct replay {
  int32_t mtu;      /* 0: off */
  uint32_t epoch;   /* bumped by replay_reset (0: never reset, replays nothing); entries of another epoch are empty */
  double *peer;     /* route table per-peer counters (PeerCount fields), peer_len doubles */
  size_t peer_len;
  double *counts;   /* forwarder totals (Count.*), counts_len doubles */
  size_t counts_len;
  replay_out out[WEFT_REPLAY_WAYS];
  replay_in in[WEFT_REPLAY_WAYS];
} replay;

enum { REPLAY_NONE = -1, REPLAY_MISS = 0, REPLAY_HIT = 1 };

/* Points the cache at the counters of a new route table and forgets every decision. */
void replay_reset(replay *r, double *peer, size_t peer_len, double *counts, size_t counts_len);

/*
 * The one packet of a TUN batch, described by tun_in[0] over arena: REPLAY_HIT (udp_out[0] and
 * ctl set, counted), REPLAY_MISS (a candidate: *k is filled for replay_learn_out) or REPLAY_NONE.
 */
int replay_try_out(replay *r, uint8_t *arena, const int32_t *tun_in, int32_t *udp_out, int32_t *ctl, replay_key *k);
/* After the callback for a REPLAY_MISS packet: remembers TypeScript's decision if it allowed it. */
void replay_learn_out(replay *r, const uint8_t *arena, const int32_t *udp_out, const int32_t *ctl, const replay_key *k);

/* The same for the one datagram of a UDP batch (udp_in[0]); tun_out[0] and ctl on a hit. */
int replay_try_in(replay *r, const uint8_t *arena, const int32_t *udp_in, int32_t *tun_out, int32_t *ctl, replay_key *k);
void replay_learn_in(replay *r, const uint8_t *arena, const int32_t *tun_out, const int32_t *ctl, const replay_key *k);

#endif
