// The validated daemon configuration. Built once by parseConfig(); everything else reads it.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface Config {
  readonly etcdEndpoints: readonly string[];
  /** Without a trailing slash, e.g. `/coreos.com/network`. */
  readonly etcdPrefix: string;
  readonly etcdCafile: string | undefined;
  readonly etcdCertfile: string | undefined;
  readonly etcdKeyfile: string | undefined;
  readonly etcdUsername: string | undefined;
  readonly etcdPassword: string | undefined;
  /** --iface: underlay interface names or IPv4/IPv6 addresses, tried in order; [] = not given. */
  readonly iface: readonly string[];
  /** --iface-regex: tried in order after --iface (addresses first, then names). */
  readonly ifaceRegex: readonly string[];
  /** --iface-can-reach: the interface the kernel routes this IPv4 address through (without --iface/--iface-regex). */
  readonly ifaceCanReach: string | undefined;
  readonly publicIp: string | undefined;
  /** --public-ipv6: PublicIPv6 of a dual-stack lease, in Go's net.IP.String() form. */
  readonly publicIpv6: string | undefined;
  readonly subnetFile: string;
  /** Folder for weft's own state; the subnet file's folder unless --state-dir is given. */
  readonly stateDir: string;
  readonly ipMasq: boolean;
  /** --iptables-forward-rules: filter/WEFT-FWD accepts the pod network, independent of ipMasq. */
  readonly iptablesForwardRules: boolean;
  /** Period of the --ip-masq rule check (--iptables-resync); 0 = never. */
  readonly iptablesResyncMs: number;
  /** Period of the TUN address/route/MTU check (--link-resync); 0 = never. */
  readonly linkResyncMs: number;
  readonly healthzIp: string;
  /** 0 disables the health server. */
  readonly healthzPort: number;
  readonly gossipPort: number;
  readonly gossipKeyFile: string | undefined;
  /** --gossip-probe-interval: SWIM's probe interval, ms. */
  readonly gossipProbeIntervalMs: number;
  readonly peers: readonly string[];
  readonly tunName: string;
  /** Remove the TUN on clean shutdown instead of leaving it for the next start. */
  readonly removeTunOnExit: boolean;
  /** SCHED_FIFO priority of the data plane thread; 0 = normal scheduling. */
  readonly dataplanePriority: number;
  /** --busy-poll: the data plane thread's busy-polling window after a wake-up out of silence, ns; 0 = off. */
  readonly busyPollNs: number;
  /** --decision-cache: the engine replays JavaScript's decisions for lone packets (native/weft_replay.h). */
  readonly decisionCache: boolean;
  /** --dataplane-warm-up: optimize the per-packet code on synthetic traffic before the first packet. */
  readonly dataplaneWarmUp: boolean;
  /** --metrics-per-peer: traffic series per routed peer besides the node totals. */
  readonly metricsPerPeer: boolean;
  /** TUN virtio-net header offloads (TSO reads, GSO writes). */
  readonly tunOffloads: boolean;
  /** UDP GSO/GRO on the underlay socket. */
  readonly udpOffloads: boolean;
  /** --checksum-elision, and only with tunOffloads (a plain TUN cannot take partial checksums). */
  readonly csumElision: boolean;
  readonly nodeName: string;
  readonly subnetLeaseTtlMs: number;
  readonly subnetLeaseRenewMarginMs: number;
  readonly logLevel: LogLevel;
}

export type ParseResult =
  | { readonly action: 'run'; readonly config: Readonly<Config> }
  | { readonly action: 'help'; readonly text: string }
  | { readonly action: 'version'; readonly text: string };
