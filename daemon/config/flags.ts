// Every weftd flag: Flannel's name where Flannel has one, its WEFTD_* env twin, default and help.
// The order here is the order of `weftd --help`.
import { DEFAULT_CSUM_ELISION, DEFAULT_TUN_NAME, DEFAULT_TUN_OFFLOADS, DEFAULT_UDP_OFFLOADS } from '../dataplane/constants.js';

export interface FlagSpec {
  readonly name: string;
  /** `bool` flags take no value (`--ip-masq`) or an explicit one (`--ip-masq=false`). */
  readonly kind: 'string' | 'bool';
  /** Default as shown in --help; undefined = unset. */
  readonly def: string | undefined;
  readonly help: string;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'etcd-endpoints', kind: 'string', def: 'http://127.0.0.1:2379', help: 'comma-separated etcd URLs (http:// or https://)' },
  { name: 'etcd-prefix', kind: 'string', def: '/coreos.com/network', help: 'etcd key prefix holding config and subnets (shared with Flannel)' },
  { name: 'etcd-cafile', kind: 'string', def: undefined, help: 'CA certificate file for etcd TLS' },
  { name: 'etcd-certfile', kind: 'string', def: undefined, help: 'client certificate file for etcd TLS' },
  { name: 'etcd-keyfile', kind: 'string', def: undefined, help: 'client key file for etcd TLS' },
  { name: 'etcd-username', kind: 'string', def: undefined, help: 'etcd user name (password auth)' },
  { name: 'etcd-password', kind: 'string', def: undefined, help: 'etcd password (password auth)' },
  { name: 'iface', kind: 'string', def: undefined, help: 'underlay interface, by name or IPv4 address (default: the default-route interface, else the only non-loopback one)' },
  { name: 'public-ip', kind: 'string', def: undefined, help: 'IPv4 address peers send VXLAN to (default: the address of --iface)' },
  { name: 'subnet-file', kind: 'string', def: '/run/weft/subnet.env', help: 'where to write FLANNEL_NETWORK/SUBNET/MTU/IPMASQ' },
  { name: 'state-dir', kind: 'string', def: undefined, help: "folder for weft's own state (default: the folder of --subnet-file)" },
  { name: 'ip-masq', kind: 'bool', def: 'false', help: 'masquerade traffic leaving the overlay (written as FLANNEL_IPMASQ)' },
  { name: 'iptables-resync', kind: 'string', def: '5', help: 'check the --ip-masq rules every this many seconds and restore what is missing (0: never)' },
  { name: 'healthz-ip', kind: 'string', def: '0.0.0.0', help: 'address of the /healthz /readyz /status /metrics server' },
  { name: 'healthz-port', kind: 'string', def: '8471', help: 'port of the health server (0 disables it)' },
  { name: 'gossip-port', kind: 'string', def: '8473', help: 'gRPC gossip port' },
  { name: 'gossip-key-file', kind: 'string', def: undefined, help: 'cluster gossip key file, base64; during a key rotation one key per line, the first signs (default: the key in etcd at <prefix>/gossip-key)' },
  { name: 'peers', kind: 'string', def: undefined, help: 'comma-separated gossip seeds (host:port), besides those found in etcd' },
  { name: 'tun-name', kind: 'string', def: DEFAULT_TUN_NAME, help: 'name of the TUN device' },
  { name: 'tun-offloads', kind: 'bool', def: String(DEFAULT_TUN_OFFLOADS), help: 'TUN with virtio-net headers: 64 KiB TCP super-packets per read, cut into VXLAN datagrams, and received TCP runs coalesced (the wire format is unchanged)' },
  { name: 'udp-offloads', kind: 'bool', def: String(DEFAULT_UDP_OFFLOADS), help: 'UDP GSO on send and GRO on receive on the underlay socket (falls back to one datagram per packet where the kernel refuses)' },
  { name: 'checksum-elision', kind: 'bool', def: String(DEFAULT_CSUM_ELISION), help: 'between weft nodes, leave inner TCP/UDP checksums to the receiving kernel (covered by the outer UDP checksum) and advertise it in the lease; needs --tun-offloads; frames to Flannel nodes always carry full checksums' },
  { name: 'metrics-per-peer', kind: 'bool', def: 'false', help: 'also export traffic per routed peer (weft_peer_packets_total, weft_peer_bytes_total; 4 series per peer on every node)' },
  { name: 'dataplane-priority', kind: 'string', def: '1', help: 'SCHED_FIFO priority (1-99) of the data plane thread, so that busy processes cannot delay packets; 0 = normal scheduling. Needs CAP_SYS_NICE, else weftd warns and runs it normally' },
  { name: 'remove-tun-on-exit', kind: 'bool', def: 'false', help: 'remove the TUN on shutdown (default: it persists with its address and route, so a restart keeps flows)' },
  { name: 'link-resync', kind: 'string', def: '10', help: "check the TUN's address, route, MTU and up state every this many seconds and restore them (0: never)" },
  { name: 'node-name', kind: 'string', def: '<hostname>', help: 'this node\'s name (letters, digits, ".", "_", "-")' },
  { name: 'subnet-lease-ttl', kind: 'string', def: '24h', help: 'TTL of the subnet lease in etcd (advanced; e.g. 30s, 24h)' },
  { name: 'subnet-lease-renew-margin', kind: 'string', def: '60', help: 'renew the lease this many minutes before it expires (fractions allowed; < TTL)' },
  { name: 'log-level', kind: 'string', def: 'info', help: 'trace, debug, info, warn, error, fatal or silent' },
];

export function envName(flag: string): string {
  return `WEFTD_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export function findFlag(name: string): FlagSpec | undefined {
  return FLAGS.find((f) => f.name === name);
}
