// This node's overlay once its lease is held: the data plane (TUN + UDP), gossip membership, the
// router that merges leases and members into the data plane's route table, and --ip-masq. What
// /status and /metrics report of it is read from these parts by daemon/status-source.ts.
//
//   Overlay.start() ──► running ──close()──► closed
//   start: TUN up with the inner MTU, routes from the current leases, gossip joined through the
//   leases' gossip endpoints and --peers, masquerade rules installed; a TUN left by an earlier
//   weftd is reattached and reconciled (reconcile/). running: the TUN (--link-resync) and the
//   masquerade rules (--iptables-resync) are checked every period and restored when they drifted.
//   close: the checks stop, gossip leaves gracefully, masquerade rules removed, data plane closed
//   with the TUN kept. Both idempotent on failure paths.
//
// IPv6-only network: the data plane has the IPv6 underlay socket alone and reaches every peer over
// it, the TUN has the IPv6 address and route alone, routes and gossip are by IPv6 subnet and
// PublicIPv6 (gossip listens on the IPv6 underlay address), and only the ip6tables rules are installed.
import type { Config } from '../config/config.js';
import type { Underlay } from '../config/underlay.js';
import { ipv6OnlyLayout, ThreadedDataplane, tunLink, tunLink6Only } from '../dataplane/index.js';
import { errorMessage, WeftError } from '../errors.js';
import { subsystemLogger, type Logger } from '../observability/logger.js';
import { memberAddress, parsePeers, RefusalReporter, seedsFromLeases, startGossip, type GossipNode } from './gossip/index.js';
import { reportNameConflict, type IdentityConflicts } from './identity-conflicts.js';
import { installIpMasq, installIpMasq6, reassertIpMasq, removeIpMasq, type InstalledIpMasq } from './ip-masq/index.js';
import { formatCidr } from '../net/ipv4.js';
import { formatCidr6 } from '../net/ipv6.js';
import type { HeldLease } from './lease/lease-keeper.js';
import type { LeaseWatcher, PeerChanges, PeerSnapshot } from './lease/lease-watcher.js';
import type { NetworkConfig } from './lease/network-config.js';
import { PeerRouter } from './peers.js';
import { PublicIpWatch } from './public-ip-watch.js';
import { prepareTun, reconcileTun, tunResync } from './reconcile/index.js';
import { Resync } from './resync.js';
import { LogEvent } from '../observability/log-events.js';

export interface OverlayOptions {
  readonly cfg: Readonly<Config>;
  readonly network: NetworkConfig;
  readonly lease: HeldLease;
  readonly underlay: Underlay;
  readonly vtepMac: string;
  /** Dual-stack: the IPv6 VTEP MAC this node advertises (BackendV6Data.VtepMAC). */
  readonly vtepMac6?: string;
  /** Inner MTU: TUN MTU and FLANNEL_MTU. */
  readonly mtu: number;
  readonly watcher: LeaseWatcher;
  readonly clusterKey: readonly Buffer[];
  readonly log: Logger;
  /** Where a second live process with this node's name or public IP is reported (gossip finds it). */
  readonly identity?: IdentityConflicts;
}

export class Overlay {
  private closing: Promise<void> | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly resyncs: Resync[] = [];
  /** The same rules installed in ip6tables for a dual-stack lease, removed on close. */
  private ownsRules6 = false;

  private constructor(
    readonly dataplane: ThreadedDataplane,
    readonly gossip: GossipNode,
    readonly router: PeerRouter,
    readonly refusals: RefusalReporter,
    /** Installed --ip-masq or --iptables-forward-rules rules, removed on close. */
    private readonly ownsRules: boolean,
    private readonly log: Logger,
  ) {}

  /** What (TUN, iptables rules) → periodic state checks finished since this overlay started. */
  resyncChecks(): Record<string, number> {
    return Object.fromEntries(this.resyncs.map((r) => [r.what, r.checks]));
  }

  static async start(o: OverlayOptions): Promise<Overlay> {
    const { cfg, network } = o;
    // Dual-stack: IPv6 on the TUN and in the route table (to weft peers over the IPv4 underlay).
    const v6 = network.ipv6 && o.lease.subnet6 ? { network6: formatCidr6(network.ipv6.network), subnetLen6: network.ipv6.subnetLen, localSubnet6: formatCidr6(o.lease.subnet6) } : undefined;
    const ipv6Only = network.ipv6Only === true;
    const underlay6 = o.underlay.ipv6;
    if (ipv6Only && (!v6 || !underlay6)) throw new WeftError('WEFT_ERR_UNDERLAY', 'an IPv6-only network needs an IPv6 lease and an IPv6 underlay address (--iface with a global IPv6 address, or --public-ipv6)');
    const layout = ipv6Only ? ipv6OnlyLayout(v6!.network6, v6!.subnetLen6, v6!.localSubnet6) : undefined;
    const networkCidr = layout?.network ?? formatCidr(network.network);
    const subnetLen = layout?.subnetLen ?? network.subnetLen;
    const localSubnet = layout?.localSubnet ?? formatCidr(o.lease.subnet);
    const dpLog = subsystemLogger(o.log, 'dataplane');
    await prepareTun(cfg.tunName, dpLog).catch((err: unknown) => dpLog.warn({ err: errorMessage(err) }, 'cannot inspect the TUN before opening it'));
    const dataplane = await openRetryingBusy(dpLog, () => ThreadedDataplane.open({
      persist: true,
      tunName: cfg.tunName,
      tunMtu: o.mtu,
      network: networkCidr,
      subnetLen,
      localSubnet,
      ...(ipv6Only ? { ipv6Only } : {}),
      vni: network.backend.vni,
      port: network.backend.port,
      localIp: o.underlay.ifaceIp,
      localVtepMac: o.vtepMac,
      ...(v6 ? { ...v6, localVtepMac6: o.vtepMac6 ?? o.vtepMac } : {}),
      // IPv6 to Flannel nodes goes over the IPv6 underlay, as their flannel-v6.1 expects it: bound to
      // the interface's IPv6 address, or to any when only --public-ipv6 names one (an address in front of this node).
      ...(v6 && o.underlay.ipv6 ? { localIpv6: o.underlay.ipv6.ifaceIp ?? '::' } : {}),
      tunOffloads: cfg.tunOffloads,
      udpOffloads: cfg.udpOffloads,
      csumElision: cfg.csumElision,
      realtimePriority: cfg.dataplanePriority,
      busyPollNs: cfg.busyPollNs,
      decisionCache: cfg.decisionCache,
      warmUp: cfg.dataplaneWarmUp,
    }));
    if (dataplane.realtimeError !== undefined) {
      dpLog.warn({ err: dataplane.realtimeError, priority: cfg.dataplanePriority }, 'the data plane thread runs at normal priority, so busy processes on this node can delay packets: grant weftd CAP_SYS_NICE (and a real-time budget to its cgroup), or set --dataplane-priority=0 to silence this');
    }
    if ('skipped' in dataplane.warmUp && dataplane.warmUp.skipped.startsWith('failed')) {
      dpLog.warn({ err: dataplane.warmUp.skipped }, 'the data plane JIT warm-up failed; packets flow without it (the first of each kind wait for V8 to optimize the code): please report this');
    }
    const tun = layout ? tunLink6Only(dataplane.tunName, o.mtu, v6!) : tunLink(dataplane.tunName, o.mtu, networkCidr, localSubnet, v6);
    const fixes = await reconcileTun(tun, dpLog).catch((err: unknown) => {
      dpLog.warn({ err: errorMessage(err) }, 'cannot reconcile the TUN; it may keep stale addresses or routes');
      return [];
    });
    dpLog.info({ tun: dataplane.tunName, reattached: dataplane.reattached, fixed: fixes.length, mtu: o.mtu, address: tun.address, route: tun.network, ...(v6 ? { address6: tun.address6, route6: v6.network6 } : {}), udp: ipv6Only ? undefined : `${o.underlay.ifaceIp}:${network.backend.port}`, ...(v6 && o.underlay.ipv6 ? { udp6: `[${o.underlay.ipv6.ifaceIp ?? '::'}]:${network.backend.port}` } : {}), tunOffloads: cfg.tunOffloads, udpOffloads: cfg.udpOffloads, csumElision: cfg.csumElision, dataplanePriority: dataplane.realtimeError === undefined ? cfg.dataplanePriority : 0, ...('ms' in dataplane.warmUp ? { warmUpMs: Math.round(dataplane.warmUp.ms) } : { warmUpSkipped: dataplane.warmUp.skipped }) }, 'data plane up');
    const wantsRules = cfg.ipMasq || cfg.iptablesForwardRules;
    const ownsRules = wantsRules && !ipv6Only;
    // Rules left by an earlier weftd (a crash skipped their removal).
    if (!ownsRules) await removeIpMasq().catch((err: unknown) => dpLog.debug({ err: errorMessage(err) }, 'no stale ip-masq rules removed'));
    // The IPv6 rules exist only for a dual-stack or IPv6-only lease; stale ones (a node that was one) go too.
    const masq6 = v6 ? { network: v6.network6, subnet: v6.localSubnet6 } : undefined;
    if (!wantsRules || !masq6) await removeIpMasq({ family: 6 }).catch((err: unknown) => dpLog.debug({ err: errorMessage(err) }, 'no stale IPv6 ip-masq rules removed'));

    const gossipLog = subsystemLogger(o.log, 'gossip');
    const refusals = new RefusalReporter(gossipLog);
    const router = new PeerRouter({ network: networkCidr, subnetLen, localSubnet, ...v6, ...(ipv6Only ? { ipv6Only } : {}), sink: dataplane, refusals, log: subsystemLogger(o.log, 'routes') });
    router.setLeases(o.watcher.snapshot());

    const explicitSeeds = parsePeers(cfg.peers);
    // This node as gossip knows it: IPv6-only, by its PublicIPv6, IPv6 subnet and IPv6 VTEP MAC.
    const me = ipv6Only ? { publicIp: underlay6!.publicIp, subnet: v6!.localSubnet6, vtepMac: o.vtepMac6 ?? o.vtepMac, host: underlay6!.ifaceIp ?? '::' } : { publicIp: o.underlay.publicIp, subnet: localSubnet, vtepMac: o.vtepMac, host: o.underlay.ifaceIp };
    const selfAddress = memberAddress({ publicIp: me.publicIp, gossipPort: cfg.gossipPort });
    const seedsOf = (s: PeerSnapshot): string[] => [...new Set([...explicitSeeds, ...seedsFromLeases([...s.values()], selfAddress)])];
    const seeds = new SeedLeases(o.watcher.snapshot());
    let started: GossipNode | undefined;
    let seedsStale = false;
    // Subscribed before gossip starts, so that no lease change after the snapshot above is missed.
    const unwatch = o.watcher.onPeerChanges((c) => {
      router.applyLeaseChanges(c);
      if (!seeds.changedBy(c)) return;
      if (started) started.setSeeds(seedsOf(o.watcher.snapshot()));
      else seedsStale = true;
    });
    let gossip: GossipNode;
    try {
      gossip = await startGossip({
        self: { name: cfg.nodeName, publicIp: me.publicIp, subnet: me.subnet, vtepMac: me.vtepMac, vni: network.backend.vni },
        host: me.host,
        port: cfg.gossipPort,
        key: o.clusterKey,
        seeds: seedsOf(o.watcher.snapshot()),
        swim: { probeIntervalMs: cfg.gossipProbeIntervalMs },
        logger: gossipLog,
        onNameConflict: (other) => {
          if (o.identity) reportNameConflict(o.identity, { name: cfg.nodeName, publicIp: me.publicIp, subnet: me.subnet }, { name: other.name, publicIp: other.publicIp, subnet: other.subnet });
        },
      });
    } catch (err) {
      unwatch();
      await dataplane.close();
      throw err;
    }
    started = gossip;
    if (seedsStale) gossip.setSeeds(seedsOf(o.watcher.snapshot()));
    const overlay = new Overlay(dataplane, gossip, router, refusals, ownsRules, o.log);
    const ipWatch = o.identity && new PublicIpWatch({ self: { name: cfg.nodeName, publicIp: me.publicIp, subnet: me.subnet }, members: () => gossip.members(), conflicts: o.identity });
    overlay.unsubscribe.push(
      unwatch,
      gossip.subscribe(() => {
        router.setMembers(gossip.members());
        ipWatch?.update();
      }),
      () => ipWatch?.close(),
    );
    router.setMembers(gossip.members());
    const tunLog = subsystemLogger(o.log, 'tun');
    overlay.resyncs.push(new Resync({ what: 'TUN', periodMs: cfg.linkResyncMs, log: tunLog, check: tunResync(tun, tunLog) }).start());

    if (wantsRules) {
      try {
        if (ownsRules) {
          const installed = await installIpMasq({ network: networkCidr, subnet: localSubnet, masquerade: cfg.ipMasq, forwardRules: cfg.iptablesForwardRules });
          subsystemLogger(o.log, 'ip_masq').info({ chains: installed.chains, backend: installed.backend, ipMasq: cfg.ipMasq, forwardRules: cfg.iptablesForwardRules }, 'iptables rules installed');
          overlay.resyncs.push(ipMasqResync(installed, cfg.iptablesResyncMs, subsystemLogger(o.log, 'ip_masq')));
        }
        if (masq6) {
          const installed6 = await installIpMasq6(masq6.network, masq6.subnet, { masquerade: cfg.ipMasq, forwardRules: cfg.iptablesForwardRules });
          subsystemLogger(o.log, 'ip_masq').info({ chains: installed6.chains, backend: installed6.backend, ipMasq: cfg.ipMasq, forwardRules: cfg.iptablesForwardRules }, 'ip6tables rules installed');
          overlay.resyncs.push(ipMasqResync(installed6, cfg.iptablesResyncMs, subsystemLogger(o.log, 'ip_masq')));
          overlay.ownsRules6 = true;
        }
      } catch (err) {
        await overlay.close();
        throw err;
      }
    }
    return overlay;
  }

  /**
   * Graceful: leave gossip, remove masquerade and forward rules, close the data plane. The TUN stays (address,
   * route) for the next start unless `removeTun`. Resolves once the TUN and UDP fds are closed, so
   * an overlay started right after (subnet change) can open them again. Idempotent.
   */
  close(opts: { readonly removeTun?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      for (const u of this.unsubscribe) u();
      await Promise.all(this.resyncs.map((r) => r.stop()));
      await this.gossip.close().catch((err: unknown) => subsystemLogger(this.log, 'gossip').warn({ err: errorMessage(err) }, 'gossip leave failed'));
      if (this.ownsRules) await removeIpMasq().catch((err: unknown) => subsystemLogger(this.log, 'ip_masq').warn({ err: errorMessage(err) }, 'ip-masq rules not removed'));
      if (this.ownsRules6) await removeIpMasq({ family: 6 }).catch((err: unknown) => subsystemLogger(this.log, 'ip_masq').warn({ err: errorMessage(err) }, 'IPv6 ip-masq rules not removed'));
      await this.dataplane.close(opts);
    })();
    return this.closing;
  }
}

/** The --iptables-resync check: one line per restored chain or hook. */
function ipMasqResync(installed: InstalledIpMasq, periodMs: number, log: Logger): Resync {
  const iptables = installed.family === 6 ? 'ip6tables' : 'iptables';
  const check = async (): Promise<void> => {
    for (const d of await reassertIpMasq(installed)) log.warn({ event: LogEvent.reasserted, table: d.table, backend: installed.backend, fix: d.kind === 'chain' ? `${iptables}-restore --noflush (chain ${d.chain.name})` : `${iptables} -t ${d.table} -A ${d.hook.chain} … -j ${d.hook.spec[d.hook.spec.length - 1]}` }, `re-asserted: ${d.why}`);
  };
  return new Resync({ what: `${iptables} rules`, periodMs, log, check }).start();
}

/**
 * The leases that seed gossip (those with a gossip port: weft nodes), so that a lease change
 * recomputes the seed list (O(peers)) only when it adds, moves or removes a seed, not for every
 * Flannel node's lease.
 */
class SeedLeases {
  private readonly keys = new Set<string>();

  constructor(s: PeerSnapshot) {
    for (const p of s.values()) if (p.gossipPort !== undefined) this.keys.add(p.subnetKey);
  }

  changedBy(c: PeerChanges): boolean {
    let changed = c.resync;
    for (const k of c.removed) changed = this.keys.delete(k) || changed;
    for (const p of c.upserted) {
      if (p.gossipPort !== undefined) this.keys.add(p.subnetKey);
      else if (!this.keys.delete(p.subnetKey)) continue;
      changed = true;
    }
    return changed;
  }
}

/** How long a TUN still held elsewhere (EBUSY: a weftd exiting, an overlay closing) is waited for. */
const TUN_BUSY_WAIT_MS = 2_000;

async function openRetryingBusy(log: Logger, open: () => Promise<ThreadedDataplane>): Promise<ThreadedDataplane> {
  const deadline = Date.now() + TUN_BUSY_WAIT_MS;
  for (let logged = false; ; logged = true) {
    try {
      return await open();
    } catch (err) {
      const busy = ((err as { cause?: { code?: string } }).cause?.code ?? '') === 'EBUSY';
      if (!busy || Date.now() >= deadline) throw err;
      if (!logged) log.info({ event: LogEvent.tunBusy, waitMs: TUN_BUSY_WAIT_MS }, 'the TUN is still held elsewhere (EBUSY); retrying');
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
}
