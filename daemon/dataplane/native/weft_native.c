/*
 * weft_native: the syscalls of the data plane, and nothing else. Packet logic lives in TypeScript;
 * the decision cache (weft_replay.h) only replays decisions TypeScript made. The addon also
 * carries the control plane's wake-up timer (daemon/native/weft_wakeup.c).
 *
 * Setup calls (throw a JS Error with the errno text on failure):
 *   openTun(name, flags) -> { fd, name, existed }  /dev/net/tun, IFF_TUN | IFF_NO_PI, non-blocking;
 *                                              attaches to an existing (persistent) TUN of that name
 *                                              (flags: WEFT_TUN_VNET_HDR, WEFT_TUN_PERSIST)
 *   setTunPersist(fd, on)                      TUNSETPERSIST: off = the device goes with its last fd
 *   configureLink(name, mtu, addr, prefixLen, txqlen)  MTU, IPv4 address, queue length, up
 *   addRoute(name, dst, prefixLen) -> bool     route dst/prefixLen dev name; false if it existed
 *   openUdp(addr, port, sndbuf, rcvbuf, flags) -> fd  non-blocking UDP socket bound to addr:port
 *                                              (flags: WEFT_UDP_GRO)
 *   openUdp6(addr, port, sndbuf, rcvbuf, flags) -> fd  the same over IPv6 (addr: 16 bytes), IPV6_V6ONLY
 *                                              (flags: WEFT_UDP_GRO, WEFT_UDP_FREEBIND)
 *   closeFd(fd)                                for fds never handed to an engine
 *   nftGeneration() -> number                  nf_tables ruleset generation of this netns, -1 if none
 *   createEngine(opts) -> engine               takes ownership of the fds, starts polling
 *   setPeer6(engine, slot, addr | null)        the IPv6 underlay address of a route table slot
 *   clearPeers6(engine)                        forgets them all
 *   resetReplay(engine, peerCounters, counts)  after a route change: forgets the decision cache's
 *                                              decisions and counts replays into these arrays
 *   closeEngine(engine)                        idempotent; fds are closed once libuv lets go
 *
 * The batch layout is in weft_native.h. Per-packet failures are counters in nstats, never
 * exceptions. Context-aware (NAPI_MODULE_INIT, no globals): each JS environment, main thread or
 * worker, has its own engines on its own loop.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <unistd.h>

#include "weft_native.h"
#include "weft_replay.h"
#include "../../native/weft_wakeup.h"

/* Batches handled per wake-up before yielding to the loop, so one busy direction cannot starve
 * the other or the JS control plane. */
#define WEFT_MAX_ROUNDS 8
/* Interrupt moderation of TUN reads (on_tun_readable): a read of fewer packets than this, within
 * WEFT_BUSY_NS of the previous batch, waits engine.moderate_ns for more. */
#define WEFT_MODERATE_BELOW 8
#define WEFT_BUSY_NS 200000
/* Busy polling (busy_poll): a wake-up after this long without packets polls for the answer, for at
 * most WEFT_BUSY_POLL_MAX_NS however many packets it finds. */
#define WEFT_QUIET_NS 1000000
#define WEFT_BUSY_POLL_MAX_NS 2000000
/* After a packet delivered to this node's TUN, the poll waits at most this long (if busy_poll_ns
 * is longer): an answer the kernel makes itself (an echo reply, an ACK) is back within it, and an
 * application's answer needs a CPU the polling thread, real-time, would hold from it (measured on
 * 2 vCPUs: TCP request/response between pods 0.47 ms polling 200 us, 0.29 ms polling 30 us). */
#define WEFT_LOCAL_POLL_NS 30000

#define CHECK_NAPI(call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "WEFT_ERR_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

/* The return value of a function that returns nothing. */
static napi_value undefined_value(napi_env env) {
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name ? name : "?");
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "WEFT_ERR_NATIVE", msg);
  return NULL;
}

static int arg_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int arg_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static int arg_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  size_t len = 0;
  memset(out, 0, IFNAMSIZ);
  if (napi_get_value_string_utf8(env, v, out, IFNAMSIZ, &len) != napi_ok) return -1;
  return len > 0 && len < IFNAMSIZ ? 0 : -1;
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    napi_throw_type_error(env, "WEFT_ERR_NATIVE", "missing arguments");
    return NULL;
  }
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

/* ---------- setup: TUN, link, route, UDP ---------- */

static napi_value open_tun(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char name[IFNAMSIZ];
  uint32_t flags;
  if (arg_ifname(env, argv[0], name) || arg_u32(env, argv[1], &flags))
    return throw_range(env, "openTun(name: 1-15 chars, flags: uint32)");

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (flags & WEFT_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
  if (flags & WEFT_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  int existed = if_nametoindex(name) != 0;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  /* Always set: a reattached device keeps the offloads of its previous owner. */
  if (ioctl(fd, TUNSETOFFLOAD, (flags & WEFT_TUN_VNET_HDR) ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETOFFLOAD", err);
  }
  if ((flags & WEFT_TUN_PERSIST) && (ioctl(fd, TUNSETOWNER, (unsigned long)geteuid()) < 0 || ioctl(fd, TUNSETPERSIST, 1UL) < 0)) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETPERSIST", err);
  }

  napi_value result, vfd, vname;
  CHECK_NAPI(napi_create_object(env, &result));
  CHECK_NAPI(napi_create_int32(env, fd, &vfd));
  CHECK_NAPI(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &vname));
  CHECK_NAPI(napi_set_named_property(env, result, "fd", vfd));
  CHECK_NAPI(napi_set_named_property(env, result, "name", vname));
  napi_value vexisted;
  CHECK_NAPI(napi_get_boolean(env, existed, &vexisted));
  CHECK_NAPI(napi_set_named_property(env, result, "existed", vexisted));
  return result;
}

static napi_value set_tun_persist(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  bool on;
  if (arg_i32(env, argv[0], &fd) || fd < 0 || napi_get_value_bool(env, argv[1], &on) != napi_ok)
    return throw_range(env, "setTunPersist(fd, on: boolean)");
  if (ioctl(fd, TUNSETPERSIST, on ? 1UL : 0UL) < 0) return throw_errno(env, "TUNSETPERSIST", errno);
  return undefined_value(env);
}

static void set_sin(struct sockaddr *sa, uint32_t addr_host) {
  struct sockaddr_in *sin = (struct sockaddr_in *)sa;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(addr_host);
}

static uint32_t prefix_mask(uint32_t len) {
  return len == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - len));
}

static napi_value configure_link(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  char name[IFNAMSIZ];
  uint32_t mtu, addr, plen, qlen;
  if (arg_ifname(env, argv[0], name) || arg_u32(env, argv[1], &mtu) || arg_u32(env, argv[2], &addr) ||
      arg_u32(env, argv[3], &plen) || plen > 32 || mtu < 68 || mtu > 65535 || arg_u32(env, argv[4], &qlen) || qlen > 1000000)
    return throw_range(env, "configureLink(name, mtu: 68-65535, addr: uint32, prefixLen: 0-32 (addr and prefixLen 0: no IPv4 address), txqlen: 0 = keep)");

  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket for link ioctls", errno);
  struct ifreq ifr;
  const char *step = NULL;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  ifr.ifr_mtu = (int)mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) { step = "SIOCSIFMTU"; goto fail; }
  if (qlen > 0) {
    ifr.ifr_qlen = (int)qlen;
    if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0) { step = "SIOCSIFTXQLEN"; goto fail; }
  }
  /* addr 0 with prefixLen 0: no IPv4 address (an IPv6-only TUN). */
  if (addr != 0 || plen != 0) {
    set_sin(&ifr.ifr_addr, addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0) { step = "SIOCSIFADDR"; goto fail; }
    set_sin(&ifr.ifr_netmask, prefix_mask(plen));
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) { step = "SIOCSIFNETMASK"; goto fail; }
  }
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { step = "SIOCGIFFLAGS"; goto fail; }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { step = "SIOCSIFFLAGS"; goto fail; }
  close(s);
  return undefined_value(env);
fail: {
  int err = errno;
  close(s);
  char what[64];
  snprintf(what, sizeof what, "%s on %s", step, name);
  return throw_errno(env, what, err);
}
}

static napi_value add_route(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  char name[IFNAMSIZ];
  uint32_t dst, plen;
  if (arg_ifname(env, argv[0], name) || arg_u32(env, argv[1], &dst) || arg_u32(env, argv[2], &plen) || plen > 32)
    return throw_range(env, "addRoute(name, dst: uint32, prefixLen: 0-32)");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket for route ioctl", errno);
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  set_sin(&rt.rt_dst, dst & prefix_mask(plen));
  set_sin(&rt.rt_genmask, prefix_mask(plen));
  set_sin(&rt.rt_gateway, 0);
  rt.rt_flags = RTF_UP;
  rt.rt_dev = name;
  int rc = ioctl(s, SIOCADDRT, &rt);
  int err = errno;
  close(s);
  if (rc < 0 && err != EEXIST) return throw_errno(env, "SIOCADDRT", err);
  napi_value added;
  napi_get_boolean(env, rc == 0, &added);
  return added;
}

static void set_buf(int fd, int force_opt, int opt, uint32_t size) {
  if (size == 0) return;
  int v = (int)size;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) < 0) setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

/* A non-blocking UDP socket of `sa`'s family (IPv6: IPV6_V6ONLY) with these buffers and flags
 * (WEFT_UDP_GRO, WEFT_UDP_FREEBIND), bound to `sa`; returns the fd as a JS number, or throws naming
 * the step that failed (the bind as "bind UDP <where>"). */
static napi_value bind_udp(napi_env env, const struct sockaddr *sa, socklen_t salen, uint32_t sndbuf, uint32_t rcvbuf, uint32_t flags, const char *where) {
  const int v6 = sa->sa_family == AF_INET6;
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, v6 ? "UDP6 socket" : "UDP socket", errno);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
  int one = 1;
  const char *step = NULL;
  if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) step = "setsockopt IPV6_V6ONLY";
  else if ((flags & WEFT_UDP_GRO) && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) step = "setsockopt UDP_GRO";
  else if ((flags & WEFT_UDP_FREEBIND) && setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one) < 0) step = "setsockopt IP_FREEBIND";
  else if (bind(fd, sa, salen) < 0) step = where;
  if (step) {
    int err = errno;
    close(fd);
    if (step != where) return throw_errno(env, step, err);
    char what[112];
    snprintf(what, sizeof what, "bind UDP %s", where);
    return throw_errno(env, what, err);
  }
  napi_value vfd;
  CHECK_NAPI(napi_create_int32(env, fd, &vfd));
  return vfd;
}

static napi_value open_udp(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  uint32_t addr, port, sndbuf, rcvbuf, flags;
  if (arg_u32(env, argv[0], &addr) || arg_u32(env, argv[1], &port) || port > 65535 ||
      arg_u32(env, argv[2], &sndbuf) || arg_u32(env, argv[3], &rcvbuf) || sndbuf > (1u << 30) || rcvbuf > (1u << 30) ||
      arg_u32(env, argv[4], &flags))
    return throw_range(env, "openUdp(addr: uint32, port: 0-65535, sndbuf, rcvbuf: bytes, 0 = default, flags)");
  struct sockaddr_in sin;
  set_sin((struct sockaddr *)&sin, addr);
  sin.sin_port = htons((uint16_t)port);
  char where[32];
  struct in_addr a = {htonl(addr)};
  snprintf(where, sizeof where, "%s:%u", inet_ntoa(a), port);
  return bind_udp(env, (struct sockaddr *)&sin, sizeof sin, sndbuf, rcvbuf, flags, where);
}

/* A 16-byte Uint8Array (an IPv6 address in network order), or -1. */
static int arg_in6(napi_env env, napi_value v, struct in6_addr *out) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t byte_offset;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &byte_offset) != napi_ok ||
      type != napi_uint8_array || len != 16)
    return -1;
  memcpy(out, data, 16);
  return 0;
}

static napi_value open_udp6(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  uint32_t port, sndbuf, rcvbuf, flags;
  if (arg_in6(env, argv[0], &sin6.sin6_addr) || arg_u32(env, argv[1], &port) || port > 65535 || arg_u32(env, argv[2], &sndbuf) ||
      arg_u32(env, argv[3], &rcvbuf) || sndbuf > (1u << 30) || rcvbuf > (1u << 30) || arg_u32(env, argv[4], &flags))
    return throw_range(env, "openUdp6(addr: Uint8Array(16), port: 0-65535, sndbuf, rcvbuf: bytes, 0 = default, flags)");
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons((uint16_t)port);
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
  char where[INET6_ADDRSTRLEN + 10];
  snprintf(where, sizeof where, "[%s]:%u", text, port);
  return bind_udp(env, (struct sockaddr *)&sin6, sizeof sin6, sndbuf, rcvbuf, flags, where);
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (arg_i32(env, argv[0], &fd) || fd < 0) return throw_range(env, "closeFd(fd)");
  close(fd);
  return undefined_value(env);
}

/* ---------- engine: polling and batched I/O ---------- */

enum { REF_ARENA, REF_TUN_IN, REF_UDP_IN, REF_UDP_OUT, REF_TUN_OUT, REF_CTL, REF_NSTATS, REF_ON_TUN, REF_ON_UDP, REF_SELF, REF_PEER_COUNTERS, REF_COUNTS, REF_COUNT };

/* A socket address of either family: send and receive messages name one. */
typedef union sa46 {
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} sa46;

typedef struct engine {
  napi_env env;
  uv_poll_t tun_poll, udp_poll, udp6_poll;
  int tun_fd, udp_fd, udp6_fd; /* udp_fd -1: no IPv4 underlay; udp6_fd -1: no IPv6 one */
  int polls;                   /* poll handles: the TUN's and one per socket (udp_fd, udp6_fd: -1 none) */
  int closing;
  int live; /* poll handles + the JS wrapper; freed at 0 */
  int handles_closed;
  uint8_t *arena;
  size_t arena_len;
  int32_t *tun_in, *udp_in, *udp_out, *tun_out, *ctl;
  double *ns;
  uint32_t tun_rx_base, udp_rx_base, slot, udp_slot, headroom, udp_rx_offset, batch;
  uint32_t udp_out_cap, tun_out_cap;
  napi_ref refs[REF_COUNT];
  napi_async_cleanup_hook_handle cleanup;
  struct mmsghdr *rmsgs, *smsgs;
  struct iovec *riov, *siov;
  sa46 *raddr, *saddr;
  char *sctl, *rctl; /* cmsg buffers: UDP_SEGMENT per send message, UDP_GRO per receive */
  int gso;           /* send runs with UDP_SEGMENT; cleared if the kernel refuses it */
  /* Send messages being built (flush_udp → send_pending): capacities, and what is used. */
  uint32_t msg_cap, iov_cap, scratch_cap;
  int32_t pk, pv, ph;          /* messages, iovecs, scratch headers in use */
  int32_t open_seg, open_bytes; /* the last message is an open DATAGRAM run: its segment size, bytes */
  int32_t *msegs;              /* per message: datagrams (segments) it carries */
  int32_t *mstride;            /* per message: iovecs per segment (1: DATAGRAM, 2: TSO) */
  uint64_t *mkey;              /* per message: its destination (dst_key) */
  int32_t pk6;                 /* of the pk messages, those to IPv6 peers */
  /* IPv6 peers: slot -> address (sin6_family 0: none), and address -> slot by open addressing
   * (linear probing, at most half full; -1: empty bucket). */
  struct sockaddr_in6 *peer6;
  uint32_t peer6_cap, p6count, p6mask;
  int32_t *p6hash;
  uint8_t *scratch;            /* scratch_cap TSO segment headers of WEFT_TSO_HDR_MAX bytes */
  int vnet;          /* the TUN carries a virtio_net_hdr before each packet */
  long moderate_ns;  /* interrupt moderation wait (0: off) */
  uint64_t tun_last_batch_ns;
  long busy_poll_ns;  /* busy polling window after a wake-up out of silence (0: off) */
  uint32_t rdirty;    /* receive entries [0, rdirty) the last recvmmsg may have written */
  uint64_t last_activity_ns;
  replay replay; /* the decision cache; replay.mtu 0: off */
} engine;

static void engine_release(engine *e) {
  if (--e->live > 0) return;
  free(e->rmsgs);
  free(e->smsgs);
  free(e->riov);
  free(e->siov);
  free(e->raddr);
  free(e->saddr);
  free(e->sctl);
  free(e->rctl);
  free(e->msegs);
  free(e->mstride);
  free(e->mkey);
  free(e->peer6);
  free(e->p6hash);
  free(e->scratch);
  free(e);
}

static void on_poll_closed(uv_handle_t *h) {
  engine *e = h->data;
  if (h == (uv_handle_t *)&e->tun_poll) close(e->tun_fd);
  else if (h == (uv_handle_t *)&e->udp_poll) close(e->udp_fd);
  else close(e->udp6_fd);
  if (++e->handles_closed == e->polls && e->cleanup) {
    napi_remove_async_cleanup_hook(e->cleanup);
    e->cleanup = NULL;
  }
  engine_release(e);
}

/* createEngine failed after some polls were initialised (live = their number): the fds still
 * belong to the caller. */
static void on_failed_close(uv_handle_t *h) {
  engine_release(h->data);
}

/* Stops both polls and lets go of JS references. release_js = 0 from the finalizer, where the
 * references are going away with the environment anyway. */
static void engine_close(engine *e, int release_js) {
  if (e->closing) return;
  e->closing = 1;
  uv_poll_stop(&e->tun_poll);
  uv_close((uv_handle_t *)&e->tun_poll, on_poll_closed);
  if (e->udp_fd >= 0) {
    uv_poll_stop(&e->udp_poll);
    uv_close((uv_handle_t *)&e->udp_poll, on_poll_closed);
  }
  if (e->udp6_fd >= 0) {
    uv_poll_stop(&e->udp6_poll);
    uv_close((uv_handle_t *)&e->udp6_poll, on_poll_closed);
  }
  if (release_js) {
    for (int i = 0; i < REF_COUNT; i++) {
      if (e->refs[i]) napi_delete_reference(e->env, e->refs[i]);
      e->refs[i] = NULL;
    }
  }
}

/* Worker exit or process teardown without closeEngine: close the polls; the hook is removed once
 * every handle is closed (on_poll_closed), which is when Node may tear down the loop. */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  engine *e = arg;
  (void)handle;
  engine_close(e, 0);
}

static void engine_finalize(napi_env env, void *data, void *hint) {
  engine *e = data;
  (void)env;
  (void)hint;
  engine_close(e, 0);
  engine_release(e);
}

/* Calls onTun/onUdp(count); returns -1 if the callback threw (then reported as uncaught). With napi_call_function rather than napi_make_callback: the forwarder
 * queues no microtasks or ticks and runs under no async hook, and make_callback's callback scope
 * (async context, tick queue, a global handle per call) cost ~10% of a one-packet batch, which is
 * what a ping or a request is. Exceptions are fatal, as they would be from a callback scope. */
static int call_js(engine *e, int which, uint32_t count) {
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  int rc = 0;
  napi_value fn, recv, arg, result;
  e->ctl[WEFT_CTL_UDP_OUT] = 0;
  e->ctl[WEFT_CTL_TUN_OUT] = 0;
  e->ctl[WEFT_CTL_REPLAY] = 0;
  if (napi_get_reference_value(env, e->refs[which], &fn) != napi_ok || fn == NULL || napi_get_undefined(env, &recv) != napi_ok ||
      napi_create_uint32(env, count, &arg) != napi_ok) {
    rc = -1;
  } else if (napi_call_function(env, recv, fn, 1, &arg, &result) != napi_ok) {
    napi_value ex;
    e->ns[WEFT_NS_CALLBACK_ERRORS] += 1;
    if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
    rc = -1;
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

static int in_arena(engine *e, int32_t off, int32_t len) {
  return off >= 0 && len > 0 && (size_t)off + (size_t)len <= e->arena_len;
}

static void flush_tun(engine *e) {
  int32_t n = e->ctl[WEFT_CTL_TUN_OUT];
  e->ctl[WEFT_CTL_TUN_OUT] = 0;
  if (n <= 0) return;
  if ((uint32_t)n > e->tun_out_cap) n = (int32_t)e->tun_out_cap;
  for (int32_t i = 0; i < n; i++) {
    const int32_t *m = e->tun_out + (size_t)i * WEFT_META_STRIDE;
    int32_t off = m[WEFT_TUN_OUT_OFFSET], len = m[WEFT_TUN_OUT_LENGTH];
    if (!in_arena(e, off, len)) {
      e->ns[WEFT_NS_TUN_WRITE_ERRORS] += 1;
      continue;
    }
    ssize_t w;
    if (e->vnet) {
      struct virtio_net_hdr vh;
      memset(&vh, 0, sizeof vh);
      if (m[WEFT_TUN_OUT_FLAGS] != 0 || m[WEFT_TUN_OUT_GSO_TYPE] != 0) {
        vh.flags = (uint8_t)m[WEFT_TUN_OUT_FLAGS];
        vh.gso_type = (uint8_t)m[WEFT_TUN_OUT_GSO_TYPE];
        vh.hdr_len = (uint16_t)m[WEFT_TUN_OUT_HDR_LEN];
        vh.gso_size = (uint16_t)m[WEFT_TUN_OUT_GSO_SIZE];
        vh.csum_start = (uint16_t)m[WEFT_TUN_OUT_CSUM_START];
        vh.csum_offset = (uint16_t)m[WEFT_TUN_OUT_CSUM_OFFSET];
      }
      struct iovec iov[2] = {{&vh, sizeof vh}, {e->arena + off, (size_t)len}};
      do w = writev(e->tun_fd, iov, 2);
      while (w < 0 && errno == EINTR);
      if (w > 0) w -= (ssize_t)sizeof vh;
    } else {
      do w = write(e->tun_fd, e->arena + off, (size_t)len);
      while (w < 0 && errno == EINTR);
    }
    if (w < 0) {
      e->ns[WEFT_NS_TUN_WRITE_ERRORS] += 1;
    } else {
      e->ns[WEFT_NS_TUN_WRITE_PACKETS] += 1;
      e->ns[WEFT_NS_TUN_WRITE_BYTES] += (double)w;
    }
  }
}

#define WEFT_GSO_MAX_SEGMENTS 64
#define WEFT_GSO_MAX_BYTES 65000
#define WEFT_SCTL_LEN CMSG_SPACE(sizeof(uint16_t))
#define WEFT_RCTL_LEN CMSG_SPACE(sizeof(int))

/* ---------- checksums (RFC 1071), summed in host word order ---------- */

/* Adds the bytes p[0, n) to a ones-complement sum of host-order 16-bit words. p must start at an
 * even offset of the checksummed data; an odd tail byte is padded with zero. */
static inline uint64_t csum_add(const uint8_t *p, size_t n, uint64_t acc) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint16_t w = 0;
    memcpy(&w, p, 1);
    acc += w;
  }
  return acc;
}

static inline uint16_t csum_fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* Stores a host-order folded sum into a checksum field (network byte order in memory). */
static inline void csum_store(uint8_t *field, uint16_t v) { memcpy(field, &v, 2); }

static inline void put_be16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---------- IPv6 peers: slot -> address, address -> slot ---------- */

static inline uint32_t p6_hash(const struct in6_addr *a) {
  uint32_t w[4];
  memcpy(w, a, sizeof w);
  uint32_t h = (w[0] * 0x9e3779b1u) ^ (w[1] * 0x85ebca77u) ^ (w[2] * 0xc2b2ae3du) ^ (w[3] * 0x27d4eb2fu);
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  return h ^ (h >> 12);
}

/* Puts `slot` (whose address is set) into the hash; it has room (at most half full). */
static void p6_insert(engine *e, int32_t slot) {
  uint32_t b = p6_hash(&e->peer6[slot].sin6_addr) & e->p6mask;
  while (e->p6hash[b] >= 0) b = (b + 1) & e->p6mask;
  e->p6hash[b] = slot;
}

/* Takes `slot` out of the hash (backward-shift deletion: no tombstones). */
static void p6_remove(engine *e, int32_t slot) {
  const uint32_t mask = e->p6mask;
  uint32_t hole = p6_hash(&e->peer6[slot].sin6_addr) & mask;
  while (e->p6hash[hole] != slot) hole = (hole + 1) & mask;
  for (uint32_t j = (hole + 1) & mask; e->p6hash[j] >= 0; j = (j + 1) & mask) {
    uint32_t home = p6_hash(&e->peer6[e->p6hash[j]].sin6_addr) & mask;
    /* Move j into the hole unless its home lies cyclically in (hole, j]. */
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      e->p6hash[hole] = e->p6hash[j];
      hole = j;
    }
  }
  e->p6hash[hole] = -1;
}

/* Sets (addr != NULL) or clears the IPv6 address of `slot`; 0, or an errno (ENOMEM). */
static int peer6_set(engine *e, uint32_t slot, const struct in6_addr *addr) {
  if (slot < e->peer6_cap && e->peer6[slot].sin6_family == AF_INET6) {
    p6_remove(e, (int32_t)slot);
    e->peer6[slot].sin6_family = 0;
    e->p6count--;
  }
  if (addr == NULL) return 0;
  if (slot >= e->peer6_cap) {
    uint32_t cap = e->peer6_cap ? e->peer6_cap : 64;
    while (cap <= slot) cap *= 2;
    struct sockaddr_in6 *p = realloc(e->peer6, (size_t)cap * sizeof *p);
    if (!p) return ENOMEM;
    memset(p + e->peer6_cap, 0, (size_t)(cap - e->peer6_cap) * sizeof *p);
    e->peer6 = p;
    e->peer6_cap = cap;
  }
  if ((e->p6count + 1) * 2 > e->p6mask + 1) {
    uint32_t size = (e->p6mask + 1) * 2;
    int32_t *h = malloc((size_t)size * sizeof *h);
    if (!h) return ENOMEM;
    free(e->p6hash);
    e->p6hash = h;
    e->p6mask = size - 1;
    for (uint32_t i = 0; i < size; i++) h[i] = -1;
    for (uint32_t s = 0; s < e->peer6_cap; s++)
      if (s != slot && e->peer6[s].sin6_family == AF_INET6) p6_insert(e, (int32_t)s);
  }
  e->peer6[slot].sin6_family = AF_INET6;
  e->peer6[slot].sin6_addr = *addr;
  p6_insert(e, (int32_t)slot);
  e->p6count++;
  return 0;
}

/* ---------- UDP send: messages built from udpOut, sent with sendmmsg ---------- */

/* A send message's destination as one number: the IPv4 address and the port (network order), or
 * with bit 48 an IPv6 peer slot (setPeer6) and the port. Messages with equal keys go to one place. */
static inline uint64_t dst_key(uint32_t addr_or_slot, uint16_t port, uint64_t v6) {
  return (v6 << 48) | ((uint64_t)port << 32) | addr_or_slot;
}

/* Sends the segments of one message one by one (after the kernel refused UDP_SEGMENT). */
static void send_each(engine *e, int fd, int v6, struct msghdr *h, int32_t stride) {
  for (size_t i = 0; i + (size_t)stride <= h->msg_iovlen; i += (size_t)stride) {
    struct msghdr one = *h;
    one.msg_iov = &h->msg_iov[i];
    one.msg_iovlen = (size_t)stride;
    one.msg_control = NULL;
    one.msg_controllen = 0;
    ssize_t r = sendmsg(fd, &one, MSG_DONTWAIT);
    if (r < 0) {
      e->ns[WEFT_NS_UDP_SEND_ERRORS] += 1;
    } else {
      e->ns[WEFT_NS_UDP_SEND_PACKETS] += 1;
      e->ns[WEFT_NS_UDP_SEND_BYTES] += (double)r;
      if (v6) e->ns[WEFT_NS_UDP6_SEND_PACKETS] += 1;
    }
  }
}

/* Sends messages [from, k), all of one family, with sendmmsg on that family's socket. */
static void send_run(engine *e, int32_t from, int32_t k, int v6) {
  const int fd = v6 ? e->udp6_fd : e->udp_fd;
  int32_t sent = from;
  while (sent < k) {
    int r = sendmmsg(fd, e->smsgs + sent, (unsigned)(k - sent), MSG_DONTWAIT);
    e->ns[WEFT_NS_UDP_SEND_CALLS] += 1;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        for (int32_t j = sent; j < k; j++) e->ns[WEFT_NS_UDP_SEND_DROPPED] += (double)e->msegs[j];
        break;
      }
      struct msghdr *h = &e->smsgs[sent].msg_hdr;
      if (h->msg_controllen > 0 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
        e->gso = 0; /* the kernel or the route refuses UDP GSO: send plainly from now on */
        send_each(e, fd, v6, h, e->mstride[sent]);
      } else {
        e->ns[WEFT_NS_UDP_SEND_ERRORS] += (double)e->msegs[sent]; /* refused: skip it, keep the rest */
      }
      sent++;
      continue;
    }
    double packets = 0;
    for (int i = 0; i < r; i++) {
      e->ns[WEFT_NS_UDP_SEND_BYTES] += (double)e->smsgs[sent + i].msg_len;
      packets += (double)e->msegs[sent + i];
      if (e->msegs[sent + i] > 1) e->ns[WEFT_NS_UDP_SEND_GSO] += 1;
    }
    e->ns[WEFT_NS_UDP_SEND_PACKETS] += packets;
    if (v6) e->ns[WEFT_NS_UDP6_SEND_PACKETS] += packets;
    sent += r;
  }
}

/* Sends every pending message, then frees the message, iovec and scratch space for reuse. */
static void send_pending(engine *e) {
  int32_t k = e->pk;
  int32_t k6 = e->pk6;
  e->pk = 0;
  e->pk6 = 0;
  e->pv = 0;
  e->ph = 0;
  e->open_seg = 0;
  if (k == 0) return;
  if (e->gso) {
    for (int32_t j = 0; j < k; j++) {
      struct msghdr *h = &e->smsgs[j].msg_hdr;
      if (e->msegs[j] < 2) continue;
      char *buf = e->sctl + (size_t)j * WEFT_SCTL_LEN;
      memset(buf, 0, WEFT_SCTL_LEN);
      h->msg_control = buf;
      h->msg_controllen = WEFT_SCTL_LEN;
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      size_t size = 0;
      for (int32_t s = 0; s < e->mstride[j]; s++) size += h->msg_iov[s].iov_len;
      uint16_t seg = (uint16_t)size;
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
  }
  if (k6 == 0) {
    send_run(e, 0, k, 0);
    return;
  }
  /* Both families: one sendmmsg per run of consecutive messages of one family. */
  for (int32_t j = 0; j < k;) {
    const uint64_t v6 = e->mkey[j] >> 48;
    int32_t end = j + 1;
    while (end < k && e->mkey[end] >> 48 == v6) end++;
    send_run(e, j, end, (int)v6);
    j = end;
  }
}

/* Starts a message to `key` (dst_key) whose segments are `stride` iovecs each; sends what is
 * pending first when the message, iovec or scratch space is full. */
static struct msghdr *open_msg(engine *e, uint64_t key, int32_t stride) {
  if ((uint32_t)e->pk >= e->msg_cap || (uint32_t)(e->pv + stride) > e->iov_cap || (uint32_t)e->ph >= e->scratch_cap) send_pending(e);
  int32_t k = e->pk++;
  struct msghdr *h = &e->smsgs[k].msg_hdr;
  memset(h, 0, sizeof *h);
  h->msg_name = &e->saddr[k];
  if (key >> 48) {
    e->saddr[k].v6 = e->peer6[(uint32_t)key];
    e->saddr[k].v6.sin6_port = (uint16_t)(key >> 32);
    h->msg_namelen = sizeof(struct sockaddr_in6);
    e->pk6++;
  } else {
    e->saddr[k].v4.sin_family = AF_INET;
    e->saddr[k].v4.sin_addr.s_addr = (uint32_t)key;
    e->saddr[k].v4.sin_port = (uint16_t)(key >> 32);
    h->msg_namelen = sizeof(struct sockaddr_in);
  }
  h->msg_iov = &e->siov[e->pv];
  h->msg_iovlen = 0;
  e->mkey[k] = key;
  e->msegs[k] = 0;
  e->mstride[k] = stride;
  e->open_seg = 0;
  return h;
}

static inline void add_iov(engine *e, struct msghdr *h, void *base, size_t len) {
  e->siov[e->pv].iov_base = base;
  e->siov[e->pv].iov_len = len;
  e->pv++;
  h->msg_iovlen++;
}

/* A DATAGRAM entry: joins the open run to the same destination (UDP GSO) or starts a message. */
static void out_datagram(engine *e, int32_t off, int32_t len, uint64_t key) {
  if (e->gso && e->open_seg > 0 && (uint32_t)e->pv < e->iov_cap) {
    int32_t k = e->pk - 1;
    struct msghdr *h = &e->smsgs[k].msg_hdr;
    if (e->mkey[k] == key && len <= e->open_seg &&
        e->msegs[k] < WEFT_GSO_MAX_SEGMENTS && e->open_bytes + len <= WEFT_GSO_MAX_BYTES) {
      add_iov(e, h, e->arena + off, (size_t)len);
      e->msegs[k]++;
      e->open_bytes += len;
      if (len < e->open_seg) e->open_seg = 0; /* a shorter datagram ends the run */
      return;
    }
  }
  struct msghdr *h = open_msg(e, key, 1);
  add_iov(e, h, e->arena + off, (size_t)len);
  e->msegs[e->pk - 1] = 1;
  e->open_seg = len;
  e->open_bytes = len;
}

/* A TSO entry's super-packet, parsed once: segment i carries payload [i*mss, i*mss + seg_len(i)). */
typedef struct tso {
  const uint8_t *base; /* encap header; IPv4 or IPv6 at base + WEFT_ENCAP_SIZE */
  int32_t hlen, ihl, thl, mss, payload, k, mode;
  int32_t v6;          /* 1: IPv6 (ihl 40: the fixed header, no extension headers) */
  uint32_t id0, seq0;
  uint8_t flags0;
  uint64_t addrs; /* sum of the source and destination addresses (pseudo-header) */
} tso;

/* Checks a TSO entry (weft_native.h); 0 when it can be cut, -1 when it is inconsistent. */
static int tso_parse(tso *t, const uint8_t *base, int32_t len, int32_t mss, int32_t hlen, int32_t mode) {
  if (hlen < WEFT_ENCAP_SIZE + 40 || hlen > WEFT_TSO_HDR_MAX || hlen >= len || mss <= 0 || hlen + mss > 65507) return -1;
  const uint8_t *ip = base + WEFT_ENCAP_SIZE;
  t->v6 = (ip[0] >> 4) == 6;
  if (t->v6) {
    if (ip[6] != IPPROTO_TCP) return -1; /* extension headers are refused */
    t->ihl = 40;
  } else {
    if ((ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP) return -1;
    t->ihl = (ip[0] & 0x0f) * 4;
  }
  t->thl = (ip[t->ihl + 12] >> 4) * 4;
  if (t->ihl < 20 || t->thl < 20 || WEFT_ENCAP_SIZE + t->ihl + t->thl != hlen) return -1;
  t->base = base;
  t->hlen = hlen;
  t->mss = mss;
  t->mode = mode;
  t->payload = len - hlen;
  t->k = (t->payload + mss - 1) / mss;
  t->id0 = ((uint32_t)ip[4] << 8) | ip[5];
  const uint8_t *tcp = ip + t->ihl;
  t->seq0 = ((uint32_t)tcp[4] << 24) | ((uint32_t)tcp[5] << 16) | ((uint32_t)tcp[6] << 8) | tcp[7];
  t->flags0 = tcp[13];
  t->addrs = t->v6 ? csum_add(ip + 8, 32, 0) : csum_add(ip + 12, 8, 0);
  return 0;
}

static inline int32_t tso_seg_len(const tso *t, int32_t i) { return i < t->k - 1 ? t->mss : t->payload - i * t->mss; }

static inline const uint8_t *tso_seg_payload(const tso *t, int32_t i) { return t->base + t->hlen + (size_t)i * (size_t)t->mss; }

/* Writes segment i's encap + IP + TCP headers (t->hlen bytes) into hd: lengths (IPv4 total or
 * IPv6 payload length), IPv4 id and header checksum (IPv6 has neither), sequence, flags (FIN/PSH on
 * the last segment only, CWR on the first only), and the TCP checksum over the IPv4 or IPv6
 * pseudo-header in full (WEFT_CSUM_FULL) or as the pseudo-header sum (WEFT_CSUM_PARTIAL). */
static void tso_seg_header(const tso *t, int32_t i, uint8_t *hd) {
  const int32_t p = tso_seg_len(t, i);
  memcpy(hd, t->base, (size_t)t->hlen);
  uint8_t *ip = hd + WEFT_ENCAP_SIZE;
  uint8_t *tcp = ip + t->ihl;
  if (t->v6) {
    put_be16(ip + 4, (uint32_t)(t->thl + p));
  } else {
    put_be16(ip + 2, (uint32_t)(t->ihl + t->thl + p));
    put_be16(ip + 4, (t->id0 + (uint32_t)i) & 0xffff);
    ip[10] = 0;
    ip[11] = 0;
    csum_store(ip + 10, (uint16_t)~csum_fold(csum_add(ip, (size_t)t->ihl, 0)));
  }
  put_be32(tcp + 4, t->seq0 + (uint32_t)i * (uint32_t)t->mss);
  uint8_t f = t->flags0;
  if (i != t->k - 1) f &= (uint8_t)~0x09;
  if (i != 0) f &= (uint8_t)~0x80;
  tcp[13] = f;
  tcp[16] = 0;
  tcp[17] = 0;
  uint64_t pseudo = t->addrs + htons(IPPROTO_TCP) + htons((uint16_t)(t->thl + p));
  if (t->mode == WEFT_CSUM_PARTIAL) {
    csum_store(tcp + 16, csum_fold(pseudo));
  } else {
    csum_store(tcp + 16, (uint16_t)~csum_fold(csum_add(tso_seg_payload(t, i), (size_t)p, csum_add(tcp, (size_t)t->thl, pseudo))));
  }
}

/* A TSO entry: segment headers in scratch memory, payload sent in place. Returns -1 when the entry
 * is inconsistent (counted as a send error by the caller). */
static int out_tso(engine *e, int32_t off, int32_t len, uint64_t key, int32_t mss, int32_t hlen, int32_t mode) {
  tso t;
  if (tso_parse(&t, e->arena + off, len, mss, hlen, mode) < 0) return -1;
  int32_t per_msg = e->gso ? WEFT_GSO_MAX_BYTES / (hlen + mss) : 1;
  if (per_msg > WEFT_GSO_MAX_SEGMENTS) per_msg = WEFT_GSO_MAX_SEGMENTS;
  if (per_msg < 1) per_msg = 1;
  struct msghdr *h = NULL;
  int32_t in_msg = 0;
  for (int32_t i = 0; i < t.k; i++) {
    if (h == NULL || in_msg == per_msg || (uint32_t)(e->pv + 2) > e->iov_cap || (uint32_t)e->ph >= e->scratch_cap) {
      h = open_msg(e, key, 2);
      in_msg = 0;
    }
    uint8_t *hd = e->scratch + (size_t)e->ph++ * WEFT_TSO_HDR_MAX;
    tso_seg_header(&t, i, hd);
    add_iov(e, h, hd, (size_t)hlen);
    add_iov(e, h, (void *)tso_seg_payload(&t, i), (size_t)tso_seg_len(&t, i));
    e->msegs[e->pk - 1]++;
    in_msg++;
  }
  e->open_seg = 0;
  return 0;
}

/* udpOut → messages (DATAGRAM entries, runs of them with UDP GSO; TSO entries cut here). */
static void flush_udp(engine *e) {
  int32_t n = e->ctl[WEFT_CTL_UDP_OUT];
  e->ctl[WEFT_CTL_UDP_OUT] = 0;
  if (n <= 0) return;
  if ((uint32_t)n > e->udp_out_cap) n = (int32_t)e->udp_out_cap;
  for (int32_t i = 0; i < n; i++) {
    const int32_t *m = e->udp_out + (size_t)i * WEFT_META_STRIDE;
    int32_t off = m[WEFT_UDP_OUT_OFFSET], len = m[WEFT_UDP_OUT_LENGTH], kind = m[WEFT_UDP_OUT_KIND];
    uint16_t port = htons((uint16_t)m[WEFT_UDP_OUT_PORT]);
    if (!in_arena(e, off, len)) {
      e->ns[WEFT_NS_UDP_SEND_ERRORS] += 1;
      continue;
    }
    uint64_t key;
    if (kind & WEFT_OUT_V6) {
      uint32_t slot = (uint32_t)m[WEFT_UDP_OUT_ADDR];
      if (slot >= e->peer6_cap || e->peer6[slot].sin6_family != AF_INET6) { /* no IPv6 address for it (or no IPv6 socket) */
        e->ns[WEFT_NS_UDP_SEND_ERRORS] += 1;
        continue;
      }
      key = dst_key(slot, port, 1);
    } else {
      key = dst_key(htonl((uint32_t)m[WEFT_UDP_OUT_ADDR]), port, 0);
    }
    if ((kind & WEFT_OUT_KIND_MASK) == WEFT_OUT_TSO) {
      if (out_tso(e, off, len, key, m[WEFT_UDP_OUT_MSS], m[WEFT_UDP_OUT_HDR_LEN], m[WEFT_UDP_OUT_CSUM]) < 0) e->ns[WEFT_NS_UDP_SEND_ERRORS] += 1;
      continue;
    }
    if (len > 65507) {
      e->ns[WEFT_NS_UDP_SEND_ERRORS] += 1;
      continue;
    }
    out_datagram(e, off, len, key);
  }
  send_pending(e);
}

/* Reads packets from the TUN into slots n.. until it is empty or `max` slots are full; returns the new n. */
static uint32_t read_tun(engine *e, uint32_t n, uint32_t max) {
  const size_t vh_len = e->vnet ? sizeof(struct virtio_net_hdr) : 0;
  const size_t cap = e->slot - e->headroom + vh_len;
  while (n < max) {
    size_t off = e->tun_rx_base + (size_t)n * e->slot + e->headroom;
    ssize_t r = read(e->tun_fd, e->arena + off - vh_len, cap);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) e->ns[WEFT_NS_TUN_READ_ERRORS] += 1;
      break;
    }
    if (r <= (ssize_t)vh_len) {
      if (r == 0) break;
      e->ns[WEFT_NS_TUN_READ_ERRORS] += 1;
      continue;
    }
    int32_t *m = e->tun_in + (size_t)n * WEFT_META_STRIDE;
    m[WEFT_IN_OFFSET] = (int32_t)off;
    m[WEFT_IN_LENGTH] = (int32_t)(r - (ssize_t)vh_len);
    m[WEFT_IN_FLAGS] = 0;
    if (e->vnet) {
      struct virtio_net_hdr vh;
      memcpy(&vh, e->arena + off - vh_len, sizeof vh);
      if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) m[WEFT_IN_FLAGS] |= WEFT_IN_FLAG_NEEDS_CSUM;
      m[WEFT_IN_GSO_SIZE] = vh.gso_size;
      m[WEFT_IN_GSO_TYPE] = vh.gso_type;
      m[WEFT_IN_CSUM] = (int32_t)((uint32_t)vh.csum_start | ((uint32_t)vh.csum_offset << 16));
    }
    e->ns[WEFT_NS_TUN_READ_PACKETS] += 1;
    e->ns[WEFT_NS_TUN_READ_BYTES] += (double)r;
    n++;
  }
  return n;
}

/* Every packet of tunIn[0, n) is IPv4 or IPv6 UDP. */
static int all_udp(engine *e, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *m = e->tun_in + (size_t)i * WEFT_META_STRIDE;
    const uint8_t *ip = e->arena + m[WEFT_IN_OFFSET];
    const int32_t len = m[WEFT_IN_LENGTH];
    const int v = len > 0 ? ip[0] >> 4 : 0;
    if (!((v == 4 && len >= 20 && ip[9] == IPPROTO_UDP) || (v == 6 && len >= 40 && ip[6] == IPPROTO_UDP))) return 0;
  }
  return 1;
}

/* Reads and forwards TUN batches until the TUN is drained or WEFT_MAX_ROUNDS; returns packets read.
 * lone: the wake-up came out of silence (a ping, a request, an answer being polled for): the first
 * packet is forwarded at once, without the read that would find the TUN empty; anything queued
 * behind it keeps the fd readable, so the next poll or loop turn reads it. */
static uint32_t tun_rounds(engine *e, int lone) {
  uint32_t total = 0;
  for (int round = 0; round < WEFT_MAX_ROUNDS && !e->closing; round++) {
    uint32_t n = read_tun(e, 0, lone ? 1 : e->batch);
    if (round == 0 && n > 0 && n < WEFT_MODERATE_BELOW && e->moderate_ns > 0 && all_udp(e, n)) {
      /* Interrupt moderation: a short read soon after the previous batch means datagrams arrive
       * one by one, each waking this thread (which, real-time, then preempts their sender). Wait a
       * moment for more, so that a flood travels in batches (one UDP GSO send) rather than one
       * wake-up and one send per packet. A lone packet (a ping, a request) is never delayed, nor
       * is TCP, which batches itself (TSO) and whose ACKs must not wait. */
      uint64_t now = uv_hrtime();
      int busy = now - e->tun_last_batch_ns < WEFT_BUSY_NS;
      e->tun_last_batch_ns = now;
      if (busy) {
        struct timespec ts = {0, e->moderate_ns};
        nanosleep(&ts, NULL);
        n = read_tun(e, n, e->batch);
        e->ns[WEFT_NS_TUN_MODERATED] += 1;
      }
    }
    if (n == 0) break;
    total += n;
    e->ns[WEFT_NS_TUN_READ_BATCHES] += 1;
    replay_key k;
    int cached = n == 1 ? replay_try_out(&e->replay, e->arena, e->tun_in, e->udp_out, e->ctl, &k) : REPLAY_NONE;
    if (cached == REPLAY_HIT) {
      e->ns[WEFT_NS_REPLAYED_OUT] += 1;
    } else {
      if (call_js(e, REF_ON_TUN, n) < 0 || e->closing) break;
      if (cached == REPLAY_MISS) replay_learn_out(&e->replay, e->arena, e->udp_out, e->ctl, &k);
    }
    flush_udp(e);
    flush_tun(e);
    if (lone || n < e->batch) break;
  }
  return total;
}

static uint32_t udp_rounds(engine *e);
static uint32_t udp6_rounds(engine *e);

/* Busy polling for the answer. A wake-up out of silence (no packet for WEFT_QUIET_NS) is a lone
 * request, a ping, a handshake: its answer comes back from the other direction within a few hundred
 * µs. Sleeping in epoll until then costs a wake-up of this thread (on a VM, waking a halted vCPU:
 * tens of µs, paid on each hop of a round trip); polling for it does not. So after such a wake-up
 * the engine polls both fds for up to busy_poll_ns (WEFT_LOCAL_POLL_NS after a packet delivered to
 * the TUN), and stops as soon as it has forwarded a batch in the other direction (the answer) or the
 * window passes without a packet. Traffic that keeps the data plane busy never polls (it is never
 * quiet), and a poll is bounded by WEFT_BUSY_POLL_MAX_NS in all, so the JS loop (route updates) is
 * never held longer. */
static void busy_poll(engine *e, int from_tun) {
  uint64_t start = uv_hrtime();
  uint64_t window = from_tun || e->busy_poll_ns < WEFT_LOCAL_POLL_NS ? (uint64_t)e->busy_poll_ns : WEFT_LOCAL_POLL_NS;
  uint64_t deadline = start + window;
  struct pollfd p[3] = {{.fd = e->tun_fd, .events = POLLIN}, {.fd = e->udp_fd, .events = POLLIN}, {.fd = e->udp6_fd, .events = POLLIN}};
  e->ns[WEFT_NS_BUSY_POLLS] += 1;
  while (!e->closing) {
    uint32_t tun = 0, udp = 0;
    /* Without an IPv4 socket its fd is -1: poll ignores it (revents 0). */
    if (poll(p, e->udp6_fd >= 0 ? 3 : 2, 0) > 0) {
      if (p[0].revents & POLLIN) tun = tun_rounds(e, !from_tun);
      if ((p[1].revents & POLLIN) && !e->closing) udp = udp_rounds(e);
      if (e->udp6_fd >= 0 && (p[2].revents & POLLIN) && !e->closing) udp += udp6_rounds(e);
      if ((from_tun ? udp : tun) > 0) {
        e->ns[WEFT_NS_BUSY_POLL_ANSWERS] += 1;
        break;
      }
    }
    uint64_t now = uv_hrtime();
    /* Only forwarded packets extend the window: an fd in error (POLLERR without POLLIN) does not. */
    if (tun + udp > 0) deadline = now + window;
    if (now >= deadline || now - start >= WEFT_BUSY_POLL_MAX_NS) break;
  }
}

/* The peer slot whose IPv6 address is `a`, or -1. */
static int32_t peer6_slot(const engine *e, const struct in6_addr *a) {
  uint32_t b = p6_hash(a) & e->p6mask;
  for (;;) {
    int32_t s = e->p6hash[b];
    if (s < 0 || memcmp(&e->peer6[s].sin6_addr, a, sizeof *a) == 0) return s;
    b = (b + 1) & e->p6mask;
  }
}

/* Receives and forwards UDP batches from `fd` (v6: the IPv6 socket) until it is drained or
 * WEFT_MAX_ROUNDS; returns datagrams received. Inlined into udp_rounds and udp6_rounds, so that
 * each has its family's code only. */
static inline __attribute__((always_inline)) uint32_t udp_rounds_on(engine *e, int fd, int v6) {
  uint32_t total = 0;
  for (int round = 0; round < WEFT_MAX_ROUNDS && !e->closing; round++) {
    /* Only the entries the last recvmmsg may have written (the received ones and the one it stopped
     * at) need resetting: after a wake-up out of silence the other 4 KiB are cold. */
    for (uint32_t i = 0; i < e->rdirty; i++) {
      e->rmsgs[i].msg_hdr.msg_namelen = sizeof e->raddr[i];
      e->rmsgs[i].msg_hdr.msg_controllen = WEFT_RCTL_LEN;
      e->rmsgs[i].msg_hdr.msg_flags = 0;
      e->rmsgs[i].msg_len = 0;
    }
    int r;
    do r = recvmmsg(fd, e->rmsgs, e->batch, MSG_DONTWAIT, NULL);
    while (r < 0 && errno == EINTR);
    e->rdirty = r > 0 && (uint32_t)r < e->batch ? (uint32_t)r + 1 : r > 0 ? e->batch : 1;
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) e->ns[WEFT_NS_UDP_RECV_ERRORS] += 1;
      break;
    }
    if (r == 0) break;
    total += (uint32_t)r;
    for (int i = 0; i < r; i++) {
      int32_t *m = e->udp_in + (size_t)i * WEFT_META_STRIDE;
      m[WEFT_IN_OFFSET] = (int32_t)((uint8_t *)e->riov[i].iov_base - e->arena);
      m[WEFT_IN_LENGTH] = (int32_t)e->rmsgs[i].msg_len;
      m[WEFT_IN_FLAGS] = (e->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? WEFT_IN_FLAG_TRUNCATED : 0;
      if (v6) {
        m[WEFT_IN_ADDR] = peer6_slot(e, &e->raddr[i].v6.sin6_addr);
        m[WEFT_IN_PORT] = (int32_t)ntohs(e->raddr[i].v6.sin6_port);
        m[WEFT_IN_FLAGS] |= WEFT_IN_FLAG_V6;
      } else {
        m[WEFT_IN_ADDR] = (int32_t)ntohl(e->raddr[i].v4.sin_addr.s_addr);
        m[WEFT_IN_PORT] = (int32_t)ntohs(e->raddr[i].v4.sin_port);
      }
      m[WEFT_IN_GSO_SIZE] = 0;
      struct msghdr *h = &e->rmsgs[i].msg_hdr;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int gso;
          memcpy(&gso, CMSG_DATA(c), sizeof gso);
          m[WEFT_IN_GSO_SIZE] = gso;
          if (gso > 0 && (unsigned)gso < e->rmsgs[i].msg_len) e->ns[WEFT_NS_UDP_RECV_GRO] += 1;
        }
      }
      e->ns[WEFT_NS_UDP_RECV_BYTES] += (double)e->rmsgs[i].msg_len;
    }
    e->ns[WEFT_NS_UDP_RECV_PACKETS] += (double)r;
    if (v6) e->ns[WEFT_NS_UDP6_RECV_PACKETS] += (double)r;
    e->ns[WEFT_NS_UDP_RECV_BATCHES] += 1;
    replay_key k;
    int cached = r == 1 && !v6 ? replay_try_in(&e->replay, e->arena, e->udp_in, e->tun_out, e->ctl, &k) : REPLAY_NONE;
    if (cached == REPLAY_HIT) {
      e->ns[WEFT_NS_REPLAYED_IN] += 1;
    } else {
      if (call_js(e, REF_ON_UDP, (uint32_t)r) < 0 || e->closing) break;
      if (cached == REPLAY_MISS) replay_learn_in(&e->replay, e->arena, e->tun_out, e->ctl, &k);
    }
    flush_tun(e);
    flush_udp(e);
    if ((uint32_t)r < e->batch) break;
  }
  return total;
}

static uint32_t udp_rounds(engine *e) { return udp_rounds_on(e, e->udp_fd, 0); }

static uint32_t udp6_rounds(engine *e) { return udp_rounds_on(e, e->udp6_fd, 1); }

enum { WAKE_TUN, WAKE_UDP, WAKE_UDP6 };

/* One wake-up of an fd: forwards what is there, then, if the engine had been quiet for
 * WEFT_QUIET_NS, polls for the answer (busy_poll). */
static void on_wake(engine *e, int status, int which) {
  if (e->closing) return;
  if (status < 0) {
    e->ns[which == WAKE_TUN ? WEFT_NS_TUN_READ_ERRORS : WEFT_NS_UDP_RECV_ERRORS] += 1;
    return;
  }
  int quiet = e->busy_poll_ns > 0 && uv_hrtime() - e->last_activity_ns >= WEFT_QUIET_NS;
  uint32_t n = which == WAKE_TUN ? tun_rounds(e, quiet) : which == WAKE_UDP ? udp_rounds(e) : udp6_rounds(e);
  if (n > 0 && quiet) busy_poll(e, which == WAKE_TUN);
  e->last_activity_ns = uv_hrtime();
}

static void on_tun_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  on_wake(h->data, status, WAKE_TUN);
}

static void on_udp_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  on_wake(h->data, status, WAKE_UDP);
}

static void on_udp6_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  on_wake(h->data, status, WAKE_UDP6);
}

static int get_u32_prop(napi_env env, napi_value obj, const char *key, uint32_t *out) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  return arg_u32(env, v, out);
}

static int get_i32_prop(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  return arg_i32(env, v, out);
}

/* A typed array property of the expected element type: data pointer, element count, and a ref. */
static int get_typed_prop(napi_env env, napi_value obj, const char *key, napi_typedarray_type want, void **data, size_t *len,
                          napi_ref *ref) {
  napi_value v;
  bool is_ta = false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  napi_value ab;
  size_t byte_offset;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &byte_offset) != napi_ok || type != want) return -1;
  return napi_create_reference(env, v, 1, ref) == napi_ok ? 0 : -1;
}

static int get_fn_prop(napi_env env, napi_value obj, const char *key, napi_ref *ref) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok || t != napi_function) return -1;
  return napi_create_reference(env, v, 1, ref) == napi_ok ? 0 : -1;
}

static void free_refs(napi_env env, engine *e) {
  for (int i = 0; i < REF_COUNT; i++)
    if (e->refs[i]) napi_delete_reference(env, e->refs[i]);
}

/* An optional fd property: absent or undefined is -1. */
static int get_opt_fd_prop(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) {
    *out = -1;
    return 0;
  }
  return arg_i32(env, v, out) || *out < -1 ? -1 : 0;
}

static napi_value create_engine(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  napi_value o = argv[0];
  engine *e = calloc(1, sizeof *e);
  if (!e) return throw_errno(env, "createEngine", ENOMEM);
  e->env = env;
  size_t tun_in_len, udp_in_len, udp_out_len, tun_out_len, ctl_len, ns_len;
  int32_t moderate = 0, busy_poll = 0, replay_mtu = 0;
  napi_value ab;
  bool is_ab = false;
  const char *bad = NULL;
  if (napi_get_named_property(env, o, "arena", &ab) != napi_ok || napi_is_arraybuffer(env, ab, &is_ab) != napi_ok || !is_ab ||
      napi_get_arraybuffer_info(env, ab, (void **)&e->arena, &e->arena_len) != napi_ok ||
      napi_create_reference(env, ab, 1, &e->refs[REF_ARENA]) != napi_ok)
    bad = "arena: ArrayBuffer";
  else if (get_typed_prop(env, o, "tunIn", napi_int32_array, (void **)&e->tun_in, &tun_in_len, &e->refs[REF_TUN_IN]))
    bad = "tunIn: Int32Array";
  else if (get_typed_prop(env, o, "udpIn", napi_int32_array, (void **)&e->udp_in, &udp_in_len, &e->refs[REF_UDP_IN]))
    bad = "udpIn: Int32Array";
  else if (get_typed_prop(env, o, "udpOut", napi_int32_array, (void **)&e->udp_out, &udp_out_len, &e->refs[REF_UDP_OUT]))
    bad = "udpOut: Int32Array";
  else if (get_typed_prop(env, o, "tunOut", napi_int32_array, (void **)&e->tun_out, &tun_out_len, &e->refs[REF_TUN_OUT]))
    bad = "tunOut: Int32Array";
  else if (get_typed_prop(env, o, "ctl", napi_int32_array, (void **)&e->ctl, &ctl_len, &e->refs[REF_CTL]) || ctl_len < WEFT_CTL_SIZE)
    bad = "ctl: Int32Array(>= CTL_SIZE)";
  else if (get_typed_prop(env, o, "nstats", napi_float64_array, (void **)&e->ns, &ns_len, &e->refs[REF_NSTATS]) || ns_len < WEFT_NS_SIZE)
    bad = "nstats: Float64Array(>= NS_SIZE)";
  else if (get_fn_prop(env, o, "onTun", &e->refs[REF_ON_TUN]) || get_fn_prop(env, o, "onUdp", &e->refs[REF_ON_UDP]))
    bad = "onTun, onUdp: functions";
  else if (get_i32_prop(env, o, "udpGso", &e->gso) || get_i32_prop(env, o, "tunVnetHdr", &e->vnet) || get_i32_prop(env, o, "moderateNs", &moderate) || moderate < 0 || moderate > 1000000 ||
           get_i32_prop(env, o, "busyPollNs", &busy_poll) || busy_poll < 0 || busy_poll > 1000000 ||
           get_i32_prop(env, o, "replayMtu", &replay_mtu) || replay_mtu < 0 || replay_mtu > 65535)
    bad = "udpGso, tunVnetHdr: 0 or 1; moderateNs, busyPollNs: 0-1000000; replayMtu: 0-65535";
  else if (get_i32_prop(env, o, "tunFd", &e->tun_fd) || get_i32_prop(env, o, "udpFd", &e->udp_fd) || e->tun_fd < 0 || e->udp_fd < -1 ||
           get_opt_fd_prop(env, o, "udp6Fd", &e->udp6_fd) || (e->udp_fd < 0 && e->udp6_fd < 0))
    bad = "tunFd: an fd; udpFd, udp6Fd: an fd or -1 (udp6Fd also absent), at least one of them an fd";
  else if (get_u32_prop(env, o, "tunRxBase", &e->tun_rx_base) || get_u32_prop(env, o, "udpRxBase", &e->udp_rx_base) ||
           get_u32_prop(env, o, "slotSize", &e->slot) || get_u32_prop(env, o, "udpSlotSize", &e->udp_slot) || get_u32_prop(env, o, "headroom", &e->headroom) ||
           get_u32_prop(env, o, "udpRxOffset", &e->udp_rx_offset) || get_u32_prop(env, o, "batch", &e->batch))
    bad = "tunRxBase, udpRxBase, slotSize, udpSlotSize, headroom, udpRxOffset, batch: uint32";
  else if (e->batch == 0 || e->batch > 1024 || e->headroom >= e->slot || e->headroom < sizeof(struct virtio_net_hdr) || e->udp_rx_offset >= e->udp_slot ||
           (size_t)e->tun_rx_base + (size_t)e->batch * e->slot > e->arena_len ||
           (size_t)e->udp_rx_base + (size_t)e->batch * e->udp_slot > e->arena_len ||
           tun_in_len < (size_t)e->batch * WEFT_META_STRIDE || udp_in_len < (size_t)e->batch * WEFT_META_STRIDE ||
           udp_out_len < WEFT_META_STRIDE || tun_out_len < WEFT_META_STRIDE)
    bad = "layout: batch 1-1024, slots inside the arena, meta arrays of batch * META_STRIDE";
  if (bad) {
    free_refs(env, e);
    free(e);
    return throw_range(env, bad);
  }
  e->moderate_ns = moderate;
  e->busy_poll_ns = busy_poll;
  e->replay.mtu = replay_mtu; /* replays nothing until resetReplay gives it counters */
  e->udp_out_cap = (uint32_t)(udp_out_len / WEFT_META_STRIDE);
  e->tun_out_cap = (uint32_t)(tun_out_len / WEFT_META_STRIDE);
  e->rmsgs = calloc(e->batch, sizeof *e->rmsgs);
  e->riov = calloc(e->batch, sizeof *e->riov);
  e->raddr = calloc(e->batch, sizeof *e->raddr);
  /* Room for one batch of super-packets cut into segments; more is sent in several sendmmsg. */
  e->msg_cap = e->udp_out_cap < 1024 ? 1024 : e->udp_out_cap;
  e->iov_cap = 2 * e->msg_cap;
  e->scratch_cap = e->msg_cap;
  e->smsgs = calloc(e->msg_cap, sizeof *e->smsgs);
  e->siov = calloc(e->iov_cap, sizeof *e->siov);
  e->saddr = calloc(e->msg_cap, sizeof *e->saddr);
  e->sctl = calloc(e->msg_cap, WEFT_SCTL_LEN);
  e->msegs = calloc(e->msg_cap, sizeof *e->msegs);
  e->mstride = calloc(e->msg_cap, sizeof *e->mstride);
  e->mkey = calloc(e->msg_cap, sizeof *e->mkey);
  e->p6mask = 15;
  e->p6hash = malloc((e->p6mask + 1) * sizeof *e->p6hash);
  if (e->p6hash)
    for (uint32_t i = 0; i <= e->p6mask; i++) e->p6hash[i] = -1;
  e->scratch = malloc((size_t)e->scratch_cap * WEFT_TSO_HDR_MAX);
  e->rctl = calloc(e->batch, WEFT_RCTL_LEN);
  if (!e->rmsgs || !e->riov || !e->raddr || !e->smsgs || !e->siov || !e->saddr || !e->sctl || !e->rctl || !e->msegs || !e->mstride || !e->scratch || !e->mkey || !e->p6hash) {
    free_refs(env, e);
    e->live = 1;
    engine_release(e);
    return throw_errno(env, "createEngine", ENOMEM);
  }
  for (uint32_t i = 0; i < e->batch; i++) {
    e->riov[i].iov_base = e->arena + e->udp_rx_base + (size_t)i * e->udp_slot + e->udp_rx_offset;
    e->riov[i].iov_len = e->udp_slot - e->udp_rx_offset;
    e->rmsgs[i].msg_hdr.msg_iov = &e->riov[i];
    e->rmsgs[i].msg_hdr.msg_iovlen = 1;
    e->rmsgs[i].msg_hdr.msg_name = &e->raddr[i];
    e->rmsgs[i].msg_hdr.msg_control = e->rctl + (size_t)i * WEFT_RCTL_LEN;
  }
  e->rdirty = e->batch;

  uv_loop_t *loop;
  napi_value self;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || napi_create_object(env, &self) != napi_ok) {
    free_refs(env, e);
    e->live = 1;
    engine_release(e);
    napi_throw_error(env, "WEFT_ERR_NATIVE", "createEngine: N-API setup failed");
    return NULL;
  }
  /* The polls of the sockets the engine has: the TUN's, then the IPv4 and the IPv6 socket's. */
  uv_poll_t *polls[3] = {&e->tun_poll, NULL, NULL};
  int fds[3] = {e->tun_fd, -1, -1};
  e->polls = 1;
  if (e->udp_fd >= 0) { polls[e->polls] = &e->udp_poll; fds[e->polls++] = e->udp_fd; }
  if (e->udp6_fd >= 0) { polls[e->polls] = &e->udp6_poll; fds[e->polls++] = e->udp6_fd; }
  int inited = 0, rc = 0;
  while (inited < e->polls && (rc = uv_poll_init(loop, polls[inited], fds[inited])) == 0) polls[inited++]->data = e;
  if (rc != 0) {
    free_refs(env, e);
    char msg[128];
    snprintf(msg, sizeof msg, "uv_poll_init: %s", uv_strerror(rc));
    napi_throw_error(env, "WEFT_ERR_NATIVE", msg);
    e->live = inited > 0 ? inited : 1; /* freed by the last on_failed_close, or here */
    if (inited == 0) engine_release(e);
    for (int i = 0; i < inited; i++) uv_close((uv_handle_t *)polls[i], on_failed_close);
    return NULL;
  }
  e->live = e->polls + 1;
  uv_poll_start(&e->tun_poll, UV_READABLE, on_tun_readable);
  if (e->udp_fd >= 0) uv_poll_start(&e->udp_poll, UV_READABLE, on_udp_readable);
  if (e->udp6_fd >= 0) uv_poll_start(&e->udp6_poll, UV_READABLE, on_udp6_readable);
  napi_wrap(env, self, e, engine_finalize, NULL, NULL);
  napi_create_reference(env, self, 1, &e->refs[REF_SELF]); /* alive while open, even if JS drops it */
  napi_add_async_cleanup_hook(env, on_env_teardown, e, &e->cleanup);
  return self;
}

/* The engine a JS engine object wraps (createEngine), or NULL. */
static engine *engine_of(napi_env env, napi_value v) {
  engine *e = NULL;
  return napi_unwrap(env, v, (void **)&e) == napi_ok ? e : NULL;
}

static napi_value close_engine(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  engine *e = engine_of(env, argv[0]);
  if (!e) return throw_range(env, "closeEngine(engine)");
  engine_close(e, 1);
  return undefined_value(env);
}

/* setPeer6(engine, slot, addr: Uint8Array(16) | null): the IPv6 underlay address of route table
 * slot `slot` (null: none). For udpOut entries with WEFT_OUT_V6 and the sources of IPv6 datagrams;
 * called between batches. Throws on an engine without an IPv6 socket. */
static napi_value set_peer6(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  engine *e = engine_of(env, argv[0]);
  uint32_t slot;
  napi_valuetype t;
  struct in6_addr a;
  if (!e || arg_u32(env, argv[1], &slot) || slot >= (1u << 24) ||
      napi_typeof(env, argv[2], &t) != napi_ok || (t != napi_null && arg_in6(env, argv[2], &a)))
    return throw_range(env, "setPeer6(engine, slot: 0-2^24, addr: Uint8Array(16) | null)");
  if (e->udp6_fd < 0) return throw_range(env, "setPeer6: the engine has no IPv6 socket (udp6Fd)");
  int err = peer6_set(e, slot, t == napi_null ? NULL : &a);
  if (err) return throw_errno(env, "setPeer6", err);
  return undefined_value(env);
}

/* clearPeers6(engine): forgets every IPv6 peer (before a whole new table is set). */
static napi_value clear_peers6(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  engine *e = engine_of(env, argv[0]);
  if (!e) return throw_range(env, "clearPeers6(engine)");
  for (uint32_t s = 0; s < e->peer6_cap; s++) e->peer6[s].sin6_family = 0;
  for (uint32_t i = 0; i <= e->p6mask; i++) e->p6hash[i] = -1;
  e->p6count = 0;
  return undefined_value(env);
}

/* A Float64Array argument: its data and length. */
static int arg_f64(napi_env env, napi_value v, double **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type t;
  void *p;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok ||
      t != napi_float64_array)
    return -1;
  *data = p;
  return 0;
}

/* Replaces *ref with a reference to v (keeps v alive while the engine writes into it). */
static int hold(napi_env env, napi_value v, napi_ref *ref) {
  napi_ref r;
  if (napi_create_reference(env, v, 1, &r) != napi_ok) return -1;
  if (*ref) napi_delete_reference(env, *ref);
  *ref = r;
  return 0;
}

/* resetReplay(engine, peerCounters: Float64Array, counts: Float64Array): after every change of the
 * route table (swap or delta): the decision cache forgets what it learned, and counts replayed
 * packets into the table's per-peer counters and the forwarder's totals from now on. */
static napi_value reset_replay(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  engine *e = engine_of(env, argv[0]);
  double *peer = NULL, *counts = NULL;
  size_t peer_len = 0, counts_len = 0;
  if (!e || arg_f64(env, argv[1], &peer, &peer_len) || arg_f64(env, argv[2], &counts, &counts_len))
    return throw_range(env, "resetReplay(engine, peerCounters: Float64Array, counts: Float64Array)");
  if (e->closing) return undefined_value(env);
  if (hold(env, argv[1], &e->refs[REF_PEER_COUNTERS]) || hold(env, argv[2], &e->refs[REF_COUNTS])) {
    replay_reset(&e->replay, NULL, 0, NULL, 0);
    napi_throw_error(env, "WEFT_ERR_NATIVE", "resetReplay: N-API reference failed");
    return NULL;
  }
  replay_reset(&e->replay, peer, peer_len, counts, counts_len);
  return undefined_value(env);
}

/* tsoSegments(arena, off, len, mss, hdrLen, csum) -> Buffer[]: the datagrams the engine sends for
 * an OUT_TSO entry, built by the same code. For tests only (it allocates). */
static napi_value tso_segments(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  void *data;
  size_t cap;
  int32_t off, len, mss, hlen, mode;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &cap) != napi_ok || arg_i32(env, argv[1], &off) || arg_i32(env, argv[2], &len) ||
      arg_i32(env, argv[3], &mss) || arg_i32(env, argv[4], &hlen) || arg_i32(env, argv[5], &mode) || off < 0 || len <= 0 || (size_t)off + (size_t)len > cap)
    return throw_range(env, "tsoSegments(arena: ArrayBuffer, off, len (inside arena), mss, hdrLen, csum)");
  tso t;
  if (tso_parse(&t, (uint8_t *)data + off, len, mss, hlen, mode) < 0) return throw_range(env, "tsoSegments: inconsistent TSO entry");
  napi_value arr;
  CHECK_NAPI(napi_create_array_with_length(env, (size_t)t.k, &arr));
  for (int32_t i = 0; i < t.k; i++) {
    const int32_t p = tso_seg_len(&t, i);
    void *out;
    napi_value buf;
    CHECK_NAPI(napi_create_buffer(env, (size_t)(hlen + p), &out, &buf));
    tso_seg_header(&t, i, out);
    memcpy((uint8_t *)out + hlen, tso_seg_payload(&t, i), (size_t)p);
    CHECK_NAPI(napi_set_element(env, arr, (uint32_t)i, buf));
  }
  return arr;
}

/* setRealtime(priority): SCHED_FIFO at priority (1-99) for the calling thread; 0 = SCHED_OTHER. */
static napi_value set_realtime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  uint32_t prio;
  if (arg_u32(env, argv[0], &prio) || prio > 99) return throw_range(env, "setRealtime(priority: 0-99)");
  struct sched_param sp = {.sched_priority = (int)prio};
  if (sched_setscheduler(0, prio ? SCHED_FIFO : SCHED_OTHER, &sp) < 0) return throw_errno(env, "sched_setscheduler", errno);
  return undefined_value(env);
}

/* nftGeneration() -> number: the nf_tables ruleset generation of the caller's network namespace
 * (NFT_MSG_GETGEN; every committed nf_tables transaction, iptables-nft's included, bumps it), or
 * -1 where nf_tables does not answer. Read-only and unprivileged; one netlink round trip. */
static napi_value nft_generation(napi_env env, napi_callback_info info) {
  (void)info;
  double gen = -1;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd >= 0) {
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct {
      struct nlmsghdr nh;
      struct nfgenmsg nf;
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.nh.nlmsg_seq = 1;
    req.nf.nfgen_family = AF_UNSPEC;
    req.nf.version = NFNETLINK_V0;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    uint32_t buf[128];
    ssize_t n = -1;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)sizeof req) n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    if (n > 0 && NLMSG_OK(nh, (size_t)n) && nh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN) &&
        nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nfgenmsg))) {
      uint8_t *a = (uint8_t *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
      uint8_t *end = (uint8_t *)nh + nh->nlmsg_len;
      while (a + NLA_HDRLEN <= end) {
        struct nlattr attr;
        memcpy(&attr, a, sizeof attr);
        if (attr.nla_len < NLA_HDRLEN || a + attr.nla_len > end) break;
        if ((attr.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attr.nla_len >= NLA_HDRLEN + 4) {
          uint32_t v;
          memcpy(&v, a + NLA_HDRLEN, sizeof v);
          gen = ntohl(v);
          break;
        }
        a += NLA_ALIGN(attr.nla_len);
      }
    }
    close(fd);
  }
  napi_value out;
  napi_create_double(env, gen, &out);
  return out;
}

static int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, fn) == napi_ok ? 0 : -1;
}

static int export_u32(napi_env env, napi_value exports, const char *name, uint32_t v) {
  napi_value n;
  if (napi_create_uint32(env, v, &n) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, n) == napi_ok ? 0 : -1;
}

NAPI_MODULE_INIT() {
  if (export_fn(env, exports, "openTun", open_tun) || export_fn(env, exports, "configureLink", configure_link) ||
      export_fn(env, exports, "addRoute", add_route) || export_fn(env, exports, "openUdp", open_udp) || export_fn(env, exports, "openUdp6", open_udp6) ||
      export_fn(env, exports, "setPeer6", set_peer6) || export_fn(env, exports, "clearPeers6", clear_peers6) ||
      export_fn(env, exports, "resetReplay", reset_replay) ||
      export_fn(env, exports, "closeFd", close_fd) || export_fn(env, exports, "setTunPersist", set_tun_persist) || export_fn(env, exports, "createEngine", create_engine) ||
      export_fn(env, exports, "closeEngine", close_engine) || export_fn(env, exports, "tsoSegments", tso_segments) || export_fn(env, exports, "setRealtime", set_realtime) ||
      export_fn(env, exports, "nftGeneration", nft_generation) || export_u32(env, exports, "META_STRIDE", WEFT_META_STRIDE) ||
      export_u32(env, exports, "CTL_SIZE", WEFT_CTL_SIZE) || export_u32(env, exports, "NS_SIZE", WEFT_NS_SIZE) || weft_wakeup_export(env, exports))
    return NULL;
  return exports;
}
