// Every weftd flag: Flannel's name where Flannel has one, the Config field it sets, the parser
// of its value, its default and help; its WEFTD_* env twin is derived from the name. parseConfig
// loops over this table, then checks what spans several fields; `weftd --help` prints it, in
// this order. A flag cannot be declared without a Config key and a parser of that key's type,
// and a Config key without a flag fails to compile.
import { DEFAULT_CSUM_ELISION, DEFAULT_TUN_NAME, DEFAULT_TUN_OFFLOADS, DEFAULT_UDP_OFFLOADS } from '../dataplane/constants.js';
import type { Config } from './config.js';
import {
  bool,
  etcdUrl,
  filePath,
  hostPort,
  ifaceList,
  ifname,
  ipv4,
  ipv6,
  keyPrefix,
  leaseTtlMs,
  list,
  logLevel,
  regexList,
  marginMs,
  nodeName,
  periodMs,
  probeIntervalMs,
  port,
  priority,
  busyPollNs,
  text,
  type Parse,
  type Raw,
} from './flag-values.js';

export interface FlagSpec<K extends keyof Config = keyof Config> {
  readonly name: string;
  readonly key: K;
  /** `bool` flags take no value (`--ip-masq`) or an explicit one (`--ip-masq=false`). */
  readonly kind: 'string' | 'bool';
  /** Default, parsed like a given value and shown in --help; undefined = unset (or `unset`). */
  readonly def: string | undefined;
  readonly help: string;
  readonly parse: Parse<Config[K]>;
  /** Where the value comes from when neither the flag nor its env twin is given, instead of def. */
  readonly unset?: (sys: { readonly hostname: string }) => Raw;
  /** Given more than once on the command line, every value is kept in order (Flannel's repeatable flags). */
  readonly repeatable?: boolean;
}

const str = <K extends keyof Config>(spec: Omit<FlagSpec<K>, 'kind'>): FlagSpec<K> => ({ ...spec, kind: 'string' });
type BoolKey = { [K in keyof Config]: Config[K] extends boolean ? K : never }[keyof Config];
const flag = <K extends BoolKey>(spec: Omit<FlagSpec<K>, 'kind' | 'parse' | 'def'> & { readonly def: boolean }): FlagSpec<K> => ({
  ...spec,
  kind: 'bool',
  def: String(spec.def),
  parse: bool as Parse<Config[K]>,
});
const DEFAULT_ETCD = 'http://127.0.0.1:2379';
const endpoints: Parse<readonly string[]> = (raw) => {
  const urls = list(etcdUrl)(raw);
  return urls.length > 0 ? urls : list(etcdUrl)({ value: DEFAULT_ETCD, source: raw.source });
};

const TABLE = [
  str({ name: 'etcd-endpoints', key: 'etcdEndpoints', parse: endpoints, def: DEFAULT_ETCD, help: 'comma-separated etcd URLs (http:// or https://)' }),
  str({ name: 'etcd-prefix', key: 'etcdPrefix', parse: keyPrefix, def: '/coreos.com/network', help: 'etcd key prefix holding config and subnets (shared with Flannel)' }),
  str({ name: 'etcd-cafile', key: 'etcdCafile', parse: text, def: undefined, help: 'CA certificate file for etcd TLS' }),
  str({ name: 'etcd-certfile', key: 'etcdCertfile', parse: text, def: undefined, help: 'client certificate file for etcd TLS' }),
  str({ name: 'etcd-keyfile', key: 'etcdKeyfile', parse: text, def: undefined, help: 'client key file for etcd TLS' }),
  str({ name: 'etcd-username', key: 'etcdUsername', parse: text, def: undefined, help: 'etcd user name (password auth)' }),
  str({ name: 'etcd-password', key: 'etcdPassword', parse: text, def: undefined, help: 'etcd password (password auth)' }),
  str({ name: 'iface', key: 'iface', parse: ifaceList, def: undefined, repeatable: true, unset: () => ({ value: '', source: '--iface' }), help: 'underlay interface, by name or IPv4 or IPv6 address (it gives both families); repeat it (or give a comma-separated list in the env) to try each in order, the first that exists with an IPv4 address wins (default: the default-route interface, else the only non-loopback one)' }),
  str({ name: 'iface-regex', key: 'ifaceRegex', parse: regexList, def: undefined, repeatable: true, unset: () => ({ value: '', source: '--iface-regex' }), help: 'regex (JavaScript syntax) matched against every IPv4 address, then every interface name; repeatable, tried in order after --iface' }),
  str({ name: 'iface-can-reach', key: 'ifaceCanReach', parse: ipv4, def: undefined, help: 'IPv4 address: use the interface the kernel routes it through (ip route get), when neither --iface nor --iface-regex is given' }),
  str({ name: 'public-ip', key: 'publicIp', parse: ipv4, def: undefined, help: 'IPv4 address peers send VXLAN to (default: the address of --iface)' }),
  str({ name: 'public-ipv6', key: 'publicIpv6', parse: ipv6, def: undefined, help: 'IPv6 address advertised as PublicIPv6 in a dual-stack or IPv6-only lease (EnableIPv6) (default: the first global IPv6 address of --iface)' }),
  str({ name: 'subnet-file', key: 'subnetFile', parse: filePath, def: '/run/weft/subnet.env', help: 'where to write FLANNEL_NETWORK/SUBNET/MTU/IPMASQ' }),
  str({ name: 'state-dir', key: 'stateDir', parse: text, def: undefined, help: "folder for weft's own state (default: the folder of --subnet-file)" }),
  flag({ name: 'ip-masq', key: 'ipMasq', def: false, help: 'masquerade traffic leaving the overlay (written as FLANNEL_IPMASQ)' }),
  flag({ name: 'iptables-forward-rules', key: 'iptablesForwardRules', def: true, help: 'accept forwarding from and to the pod network in filter/FORWARD (chain WEFT-FWD), with or without --ip-masq' }),
  str({ name: 'iptables-resync', key: 'iptablesResyncMs', parse: periodMs, def: '5', help: 'check the --ip-masq and --iptables-forward-rules rules every this many seconds and restore what is missing (0: never)' }),
  str({ name: 'healthz-ip', key: 'healthzIp', parse: ipv4, def: '0.0.0.0', help: 'address of the /healthz /readyz /status /metrics server' }),
  str({ name: 'healthz-port', key: 'healthzPort', parse: port(true), def: '8471', help: 'port of the health server (0 disables it)' }),
  str({ name: 'gossip-port', key: 'gossipPort', parse: port(false), def: '8473', help: 'gRPC gossip port' }),
  str({ name: 'gossip-key-file', key: 'gossipKeyFile', parse: text, def: undefined, help: 'cluster gossip key file, base64; during a key rotation one key per line, the first signs (default: the key in etcd at <prefix>/gossip-key)' }),
  str({ name: 'gossip-probe-interval', key: 'gossipProbeIntervalMs', parse: probeIntervalMs, def: '0.5', help: 'seconds between two gossip probes of each member (SWIM): shorter finds a dead node sooner, longer costs an idle weftd less CPU (most of which is these probes); measured trade-off in the README' }),
  str({ name: 'peers', key: 'peers', parse: list(hostPort), def: undefined, unset: () => ({ value: '', source: '--peers' }), help: 'comma-separated gossip seeds (host:port), besides those found in etcd' }),
  str({ name: 'tun-name', key: 'tunName', parse: ifname, def: DEFAULT_TUN_NAME, help: 'name of the TUN device' }),
  flag({ name: 'tun-offloads', key: 'tunOffloads', def: DEFAULT_TUN_OFFLOADS, help: 'TUN with virtio-net headers: 64 KiB TCP super-packets per read, cut into VXLAN datagrams, and received TCP runs coalesced (the wire format is unchanged)' }),
  flag({ name: 'udp-offloads', key: 'udpOffloads', def: DEFAULT_UDP_OFFLOADS, help: 'UDP GSO on send and GRO on receive on the underlay socket (falls back to one datagram per packet where the kernel refuses)' }),
  flag({ name: 'checksum-elision', key: 'csumElision', def: DEFAULT_CSUM_ELISION, help: 'between weft nodes, leave inner TCP/UDP checksums to the receiving kernel (covered by the outer UDP checksum) and advertise it in the lease; needs --tun-offloads; frames to Flannel nodes always carry full checksums' }),
  flag({ name: 'metrics-per-peer', key: 'metricsPerPeer', def: false, help: 'also export traffic per routed peer (weft_peer_packets_total, weft_peer_bytes_total; 4 series per peer on every node)' }),
  str({ name: 'dataplane-priority', key: 'dataplanePriority', parse: priority, def: '1', help: 'SCHED_FIFO priority (1-99) of the data plane thread, so that busy processes cannot delay packets; 0 = normal scheduling. Needs CAP_SYS_NICE, else weftd warns and runs it normally' }),
  str({ name: 'busy-poll', key: 'busyPollNs', parse: busyPollNs, def: '200', help: 'after a lone packet (a ping, a request) wakes the data plane thread, it polls this many microseconds for the answer instead of sleeping, saving a thread wake-up per hop of the round trip; never while traffic keeps it busy. 0 = off' }),
  flag({ name: 'decision-cache', key: 'decisionCache', def: true, help: 'the data plane thread forwards a lone IPv4 packet (a ping, a request, an answer) by replaying the decision JavaScript made for the last one with the same addresses, without calling into JavaScript (metric weft_dataplane_replayed_packets_total); forgotten at every route change' }),
  flag({ name: 'dataplane-warm-up', key: 'dataplaneWarmUp', def: true, help: 'before forwarding, run the per-packet code over synthetic traffic (~0.2 s of CPU at start) so that it is compiled and optimized then, not in the path of the first packets of each kind' }),
  flag({ name: 'remove-tun-on-exit', key: 'removeTunOnExit', def: false, help: 'remove the TUN on shutdown (default: it persists with its address and route, so a restart keeps flows)' }),
  str({ name: 'link-resync', key: 'linkResyncMs', parse: periodMs, def: '10', help: "check the TUN's address, route, MTU and up state every this many seconds and restore them (0: never)" }),
  str({ name: 'node-name', key: 'nodeName', parse: nodeName, def: '<hostname>', unset: (sys) => ({ value: sys.hostname, source: 'hostname (use --node-name)' }), help: 'this node\'s name (letters, digits, ".", "_", "-")' }),
  str({ name: 'subnet-lease-ttl', key: 'subnetLeaseTtlMs', parse: leaseTtlMs, def: '24h', help: 'TTL of the subnet lease in etcd (advanced; e.g. 30s, 24h)' }),
  str({ name: 'subnet-lease-renew-margin', key: 'subnetLeaseRenewMarginMs', parse: marginMs, def: '60', help: 'renew the lease this many minutes before it expires (fractions allowed; < TTL)' }),
  str({ name: 'log-level', key: 'logLevel', parse: logLevel, def: 'info', help: 'trace, debug, info, warn, error, fatal or silent' }),
] as const;

type Uncovered = Exclude<keyof Config, (typeof TABLE)[number]['key']>;
/** Compile-time: every Config field is set by a flag (a missing one is named in the error). */
const everyConfigKeyHasAFlag: [Uncovered] extends [never] ? true : Uncovered = true;
void everyConfigKeyHasAFlag;

export const FLAGS: readonly FlagSpec[] = TABLE;

export function envName(flag: string): string {
  return `WEFTD_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Flannel's env twin of a flag (`FLANNELD_IFACE`): read when the WEFTD_* one is unset. */
export function flannelEnvName(flag: string): string {
  return `FLANNELD_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export function findFlag(name: string): FlagSpec | undefined {
  return FLAGS.find((f) => f.name === name);
}
