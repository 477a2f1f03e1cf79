/* The decision cache (weft_replay.h). */
#include "weft_replay.h"

#include <string.h>

#include "weft_native.h"

#define IPV4_HDR 20
#define PROTO_TCP 6
#define PROTO_UDP 17

static inline uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static inline uint32_t be32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint32_t way(uint32_t h) { return (h * 2654435761u) >> 26; } /* 64 ways */

/* The counters a replayed decision bumps exist in this cache's arrays (they may not, right after a
 * reset with shorter ones). */
static int counts_fit(const replay *r, int32_t peer) {
  return peer >= 0 && (size_t)peer * WEFT_PEER_FIELDS + WEFT_PEER_FIELDS <= r->peer_len && r->counts_len >= WEFT_COUNT_FIELDS;
}

void replay_reset(replay *r, double *peer, size_t peer_len, double *counts, size_t counts_len) {
  r->peer = peer;
  r->peer_len = peer_len;
  r->counts = counts;
  r->counts_len = counts_len;
  if (++r->epoch == 0) {
    memset(r->out, 0, sizeof r->out);
    memset(r->in, 0, sizeof r->in);
    r->epoch = 1;
  }
}

/* A plain IPv4 packet that fills len: 20-byte header, no fragment. */
static int plain_ipv4(const uint8_t *ip, int32_t len) {
  return len >= IPV4_HDR && ip[0] == 0x45 && be16(ip + 2) == (uint32_t)len && (be16(ip + 6) & 0x3fff) == 0;
}

int replay_try_out(replay *r, uint8_t *arena, const int32_t *tun_in, int32_t *udp_out, int32_t *ctl, replay_key *k) {
  if (r->mtu == 0 || r->epoch == 0 || ctl[WEFT_CTL_JS_ONLY] != 0) return REPLAY_NONE;
  int32_t off = tun_in[WEFT_IN_OFFSET], len = tun_in[WEFT_IN_LENGTH], flags = tun_in[WEFT_IN_FLAGS];
  const uint8_t *ip = arena + off;
  if (tun_in[WEFT_IN_GSO_TYPE] != 0 || (flags & ~WEFT_IN_FLAG_NEEDS_CSUM) != 0 || !plain_ipv4(ip, len)) return REPLAY_NONE;
  uint32_t proto = ip[9];
  int needs = (flags & WEFT_IN_FLAG_NEEDS_CSUM) != 0;
  /* inside.ts leaves a partial checksum to the peer only for TCP/UDP whose header fits. */
  if (needs && !((proto == PROTO_TCP && len >= IPV4_HDR + 20) || (proto == PROTO_UDP && len >= IPV4_HDR + 8))) return REPLAY_NONE;
  k->dst = be32(ip + 16);
  k->shape = proto | (uint32_t)needs << 8;
  k->csum = needs ? tun_in[WEFT_IN_CSUM] : 0;
  k->off = off;
  k->len = len;
  k->slot = way(k->dst);
  const replay_out *c = &r->out[k->slot];
  if (c->epoch != r->epoch || c->dst != k->dst || c->shape != k->shape || c->csum != k->csum) return REPLAY_MISS;
  memcpy(arena + off - WEFT_ENCAP_SIZE, c->hdr, WEFT_ENCAP_SIZE);
  udp_out[WEFT_UDP_OUT_OFFSET] = off - WEFT_ENCAP_SIZE;
  udp_out[WEFT_UDP_OUT_LENGTH] = len + WEFT_ENCAP_SIZE;
  udp_out[WEFT_UDP_OUT_ADDR] = c->addr;
  udp_out[WEFT_UDP_OUT_PORT] = c->port;
  udp_out[WEFT_UDP_OUT_KIND] = WEFT_OUT_DATAGRAM;
  ctl[WEFT_CTL_UDP_OUT] = 1;
  ctl[WEFT_CTL_TUN_OUT] = 0;
  double *pc = r->peer + (size_t)c->peer * WEFT_PEER_FIELDS;
  pc[WEFT_PEER_TX_PACKETS] += 1;
  pc[WEFT_PEER_TX_BYTES] += len;
  r->counts[WEFT_COUNT_TX_PACKETS] += 1;
  r->counts[WEFT_COUNT_TX_BYTES] += len;
  if (c->elided) r->counts[WEFT_COUNT_ELIDED_SENT] += 1;
  return REPLAY_HIT;
}

void replay_learn_out(replay *r, const uint8_t *arena, const int32_t *udp_out, const int32_t *ctl, const replay_key *k) {
  int32_t peer = ctl[WEFT_CTL_REPLAY] - 1;
  if (peer < 0 || ctl[WEFT_CTL_UDP_OUT] != 1 || ctl[WEFT_CTL_TUN_OUT] != 0 || !counts_fit(r, peer)) return;
  if (udp_out[WEFT_UDP_OUT_KIND] != WEFT_OUT_DATAGRAM || udp_out[WEFT_UDP_OUT_OFFSET] != k->off - WEFT_ENCAP_SIZE ||
      udp_out[WEFT_UDP_OUT_LENGTH] != k->len + WEFT_ENCAP_SIZE)
    return;
  replay_out *c = &r->out[k->slot];
  memcpy(c->hdr, arena + k->off - WEFT_ENCAP_SIZE, WEFT_ENCAP_SIZE);
  c->dst = k->dst;
  c->shape = k->shape;
  c->csum = k->csum;
  c->addr = udp_out[WEFT_UDP_OUT_ADDR];
  c->port = udp_out[WEFT_UDP_OUT_PORT];
  c->peer = peer;
  c->elided = c->hdr[1] != 0;
  c->epoch = r->epoch;
}

int replay_try_in(replay *r, const uint8_t *arena, const int32_t *udp_in, int32_t *tun_out, int32_t *ctl, replay_key *k) {
  if (r->mtu == 0 || r->epoch == 0 || ctl[WEFT_CTL_JS_ONLY] != 0) return REPLAY_NONE;
  int32_t off = udp_in[WEFT_IN_OFFSET], len = udp_in[WEFT_IN_LENGTH];
  if (udp_in[WEFT_IN_FLAGS] != 0 || udp_in[WEFT_IN_GSO_SIZE] != 0 || len < WEFT_ENCAP_SIZE + IPV4_HDR) return REPLAY_NONE;
  const uint8_t *q = arena + off, *ip = q + WEFT_ENCAP_SIZE;
  int32_t total = len - WEFT_ENCAP_SIZE;
  if (total > r->mtu || !plain_ipv4(ip, total)) return REPLAY_NONE;
  uint32_t proto = ip[9];
  int elided = q[1] != 0;
  if (elided) {
    /* outside.ts's partialField: the TCP header fits and its length is sane; UDP's header fits. */
    int32_t l4 = total - IPV4_HDR;
    if (proto == PROTO_TCP) {
      if (l4 < 20) return REPLAY_NONE;
      int32_t thl = (ip[IPV4_HDR + 12] >> 4) << 2;
      if (thl < 20 || thl > l4) return REPLAY_NONE;
    } else if (proto != PROTO_UDP || l4 < 8) {
      return REPLAY_NONE;
    }
  } else if (proto == PROTO_TCP || proto == PROTO_UDP) {
    return REPLAY_NONE; /* its checksum is TypeScript's to verify */
  }
  k->sender = udp_in[WEFT_IN_ADDR];
  k->src = be32(ip + 12);
  k->dst = be32(ip + 16);
  k->proto = proto;
  k->off = off;
  k->len = len;
  k->slot = way(k->src ^ (k->dst * 31u) ^ ((uint32_t)k->sender * 17u));
  const replay_in *c = &r->in[k->slot];
  if (c->epoch != r->epoch || c->sender != k->sender || c->src != k->src || c->dst != k->dst || c->proto != proto ||
      memcmp(c->hdr, q, WEFT_ENCAP_SIZE) != 0)
    return REPLAY_MISS;
  memcpy(tun_out, c->meta, sizeof c->meta);
  tun_out[WEFT_TUN_OUT_OFFSET] = off + WEFT_ENCAP_SIZE;
  tun_out[WEFT_TUN_OUT_LENGTH] = total;
  ctl[WEFT_CTL_TUN_OUT] = 1;
  ctl[WEFT_CTL_UDP_OUT] = 0;
  double *pc = r->peer + (size_t)c->peer * WEFT_PEER_FIELDS;
  pc[WEFT_PEER_RX_PACKETS] += 1;
  pc[WEFT_PEER_RX_BYTES] += total;
  r->counts[WEFT_COUNT_RX_PACKETS] += 1;
  r->counts[WEFT_COUNT_RX_BYTES] += total;
  if (c->elided) r->counts[WEFT_COUNT_ELIDED_RECEIVED] += 1;
  return REPLAY_HIT;
}

void replay_learn_in(replay *r, const uint8_t *arena, const int32_t *tun_out, const int32_t *ctl, const replay_key *k) {
  int32_t peer = ctl[WEFT_CTL_REPLAY] - 1;
  if (peer < 0 || ctl[WEFT_CTL_TUN_OUT] != 1 || ctl[WEFT_CTL_UDP_OUT] != 0 || !counts_fit(r, peer)) return;
  if (tun_out[WEFT_TUN_OUT_OFFSET] != k->off + WEFT_ENCAP_SIZE || tun_out[WEFT_TUN_OUT_LENGTH] != k->len - WEFT_ENCAP_SIZE ||
      tun_out[WEFT_TUN_OUT_GSO_TYPE] != 0)
    return;
  replay_in *c = &r->in[k->slot];
  memcpy(c->hdr, arena + k->off, WEFT_ENCAP_SIZE);
  memcpy(c->meta, tun_out, sizeof c->meta);
  c->sender = k->sender;
  c->src = k->src;
  c->dst = k->dst;
  c->proto = k->proto;
  c->peer = peer;
  c->elided = c->hdr[1] != 0;
  c->epoch = r->epoch;
}
