// weftd start-up wiring: config → logger → underlay → health server → etcd → network config
// (waited for) → cluster key → lease → subnet.env → keeper + peer watcher → overlay (data plane,
// gossip, routes, ip-masq) → ready. If etcd does not answer within ETCD_START_GRACE_MS and the state cache holds
// an unexpired lease, network config, lease and peers come from the cache instead (start-source).
// `weftd status` is the CLI that reads a running weftd's /status.
// SIGTERM/SIGINT stop everything and exit 0, keeping the lease and the TUN (with its address and
// route) for the next start, so a restart does not break flows; --remove-tun-on-exit removes the TUN.
// Exit 2: a bad flag/value or an unusable --iface. Exit 1: any other start-up failure.
import { hostname } from 'node:os';
import { parseConfig, unknownEnvNames } from './config/parse-config.js';
import { resolveUnderlay, type Underlay } from './config/underlay.js';
import { weftVersion } from './config/version.js';
import type { Config } from './config/config.js';
import { runStatus } from './cli/status.js';
import { resolveClusterKey } from './control/cluster-key-source.js';
import { gossipAnswers } from './control/gossip/index.js';
import { IdentityConflicts, leaseIdentityGuard } from './control/identity-conflicts.js';
import { Overlay } from './control/overlay.js';
import { createEtcdClient } from './control/etcd/etcd-client.js';
import { EtcdHealth } from './control/etcd/etcd-health.js';
import { formatCidr, formatIpv4 as formatIPv4 } from './net/ipv4.js';
import type { HeldLease } from './control/lease/lease-keeper.js';
import { NodeLease } from './control/lease/node-lease.js';
import type { NetworkConfig } from './control/lease/network-config.js';
import { OVERHEAD as VXLAN_OVERHEAD } from './dataplane/constants.js';
import { waitForNetworkConfig } from './control/lease/network-config-source.js';
import { chooseStartSource } from './control/lease/start-source.js';
import { StateCache } from './control/lease/state-cache.js';
import { deriveVtepMac } from './control/lease/vtep-mac.js';
import { errorMessage, isWeftError } from './errors.js';
import { HealthServer } from './observability/health-server.js';
import { createLogger, subsystemLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { Readiness } from './observability/readiness.js';
import { STATUS_VERSION, type WeftStatus } from './observability/status-types.js';

const version = weftVersion();

async function main(): Promise<number> {
  if (process.argv[2] === 'status') return runStatus(process.argv.slice(3));
  let cfg: Readonly<Config>;
  try {
    const parsed = parseConfig(process.argv.slice(2), process.env, { hostname: hostname(), version });
    if (parsed.action !== 'run') {
      process.stdout.write(`${parsed.text}\n`);
      return 0;
    }
    cfg = parsed.config;
  } catch (err) {
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    return isWeftError(err, 'WEFT_ERR_CONFIG') ? 2 : 1;
  }

  const log = subsystemLogger(createLogger(cfg.logLevel), 'weftd');
  log.info({ version, node: cfg.nodeName, etcdEndpoints: cfg.etcdEndpoints, etcdPrefix: cfg.etcdPrefix, subnetFile: cfg.subnetFile, stateDir: cfg.stateDir }, 'weftd starting');
  for (const name of unknownEnvNames(process.env)) log.warn({ env: name }, 'ignoring unknown WEFTD_* environment variable');

  let underlay: Underlay;
  try {
    underlay = resolveUnderlay(cfg);
  } catch (err) {
    log.fatal(errorMessage(err));
    return isWeftError(err, 'WEFT_ERR_UNDERLAY') ? 2 : 1;
  }
  log.info({ iface: underlay.iface, ifaceIP: underlay.ifaceIp, publicIP: underlay.publicIp, mtu: underlay.mtu }, 'underlay');

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!stop.signal.aborted) log.info({ signal: sig }, 'stopping (the lease stays in etcd for the next start)');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const keepAlive = setInterval(() => undefined, 1 << 30);

  const readiness = new Readiness();
  const leaseReady = readiness.register('lease');
  const fileReady = readiness.register('subnet-file');
  const tunReady = readiness.register('tun');
  const etcd = createEtcdClient(cfg);
  const health = new EtcdHealth(subsystemLogger(log, 'etcd'), cfg.etcdEndpoints, () => etcd.maintenance.status());
  // etcd down leaves the node ready: its data plane keeps forwarding on the held lease and known
  // routes, and weft-cni's STATUS follows /readyz, so failing it would mark every node's network
  // NotReady at once for a control-plane outage. /readyz says so instead.
  readiness.note(() => {
    const since = health.downSince;
    return since === undefined ? undefined : `etcd unreachable since ${new Date(since).toISOString()} (forwarding continues; lease renewal and peer changes wait for etcd)`;
  });
  let nodeLease: NodeLease | undefined;
  let network: NetworkConfig | undefined;
  let overlay: Overlay | undefined;
  let mtu: number | undefined;
  const vtepMac = deriveVtepMac(cfg.nodeName, underlay.publicIp);
  const server = cfg.healthzPort === 0 ? undefined : new HealthServer({
    host: cfg.healthzIp,
    port: cfg.healthzPort,
    readiness,
    status: () => statusOf(cfg, underlay, vtepMac, network, mtu, nodeLease?.lease, health.state === 'reachable', readiness.missing(), overlay),
  });
  const identity = new IdentityConflicts(log);
  const metrics = createMetrics({
    lease: () => ({ ...(nodeLease?.keeper.stats() ?? { renewals: 0, failures: 0 }), expiresAt: nodeLease?.lease?.expiresAt }),
    etcd: () => ({ up: health.state === 'reachable' }),
    readiness: () => ({ ready: readiness.ready }),
    dataplane: () => overlay?.dataplaneSnapshot() ?? { peers: [], drops: {}, routes: 0, routeSwaps: 0 },
    gossip: () => overlay?.gossipSnapshot() ?? { members: {}, sent: {}, received: {}, rejected: {} },
    dataplaneThread: () => overlay?.dataplaneThreadSnapshot(),
    identity: () => ({ conflicts: identity.counts }),
  }, { build: { version, nodeVersion: process.version } });
  server?.setMetrics(() => metrics.scrape());

  try {
    if (server) {
      await server.listen().catch((err: Error) => {
        throw new Error(`cannot serve health on ${cfg.healthzIp}:${cfg.healthzPort} (${err.message}); choose another --healthz-port, or 0 to disable`);
      });
      log.info({ address: `${cfg.healthzIp}:${server.port}` }, 'health server listening (/healthz /readyz /status /metrics)');
    }

    const cache = new StateCache(cfg.stateDir);
    const leaseLog = subsystemLogger(log, 'lease');
    const source = await chooseStartSource({
      waitForEtcd: (signal) => waitForNetworkConfig(etcd, cfg.etcdPrefix, health, leaseLog, signal),
      etcdAnswered: () => health.state === 'reachable',
      cache,
      log: leaseLog,
      signal: stop.signal,
    });
    if (!source) return 0;
    network = source.network;
    log.info({ network: formatCidr(network.network), subnetLen: network.subnetLen, subnetMin: formatIPv4(network.subnetMin), subnetMax: formatIPv4(network.subnetMax), backend: network.backend }, 'network config');
    const innerMtu = (network.backend.mtu ?? underlay.mtu) - VXLAN_OVERHEAD;
    mtu = innerMtu;

    // Before the lease: the keeper asks, by gossip, whether a lease it would take is held by a live node.
    const clusterKey = await resolveClusterKey({ keyFile: cfg.gossipKeyFile, etcd, prefix: cfg.etcdPrefix, stateDir: cfg.stateDir, log: subsystemLogger(log, 'gossip'), cachedFirst: source.mode === 'state-cache' });
    const probe = { key: clusterKey, sender: cfg.nodeName, logger: subsystemLogger(log, 'gossip') };
    const leaseOptions = {
      client: etcd,
      health,
      log: leaseLog,
      prefix: cfg.etcdPrefix,
      network,
      attrs: { publicIp: underlay.publicIp, vni: network.backend.vni, vtepMac, gossipPort: cfg.gossipPort, nodeName: cfg.nodeName, csumElision: cfg.csumElision },
      ttlMs: cfg.subnetLeaseTtlMs,
      renewMarginMs: cfg.subnetLeaseRenewMarginMs,
      subnetFile: cfg.subnetFile,
      mtu: innerMtu,
      ipMasq: cfg.ipMasq,
      onHeld: (held: boolean) => leaseReady.set(held),
      cache,
      identity: leaseIdentityGuard(identity, { name: cfg.nodeName, publicIp: underlay.publicIp }, (holder) => gossipAnswers(probe, holder)),
    };
    const node = source.mode === 'state-cache' ? await NodeLease.resume(leaseOptions, source.state) : await NodeLease.start(leaseOptions, stop.signal);
    if (!node) return 0;
    nodeLease = node;

    // The overlay follows the held lease: started on it, and moved (TUN address, gossip identity)
    // when a lost lease comes back as another subnet. Moves are serialised; the listener is in
    // place before the first start, so a lease lost meanwhile (e.g. one taken from the state cache
    // that etcd no longer has) is not missed.
    let overlaySubnet: string | undefined;
    let overlayMoves: Promise<void> = Promise.resolve();
    const moveOverlay = (lease: HeldLease): Promise<void> => {
      overlaySubnet = formatCidr(lease.subnet);
      overlayMoves = overlayMoves.then(async () => {
        tunReady.set(false);
        const old = overlay;
        overlay = undefined;
        await old?.close();
        overlay = await Overlay.start({ cfg, network: network!, lease, underlay, vtepMac, mtu: innerMtu, watcher: node.watcher, clusterKey, log, identity });
        tunReady.set(true);
      });
      return overlayMoves;
    };
    node.keeper.onEvent((e) => {
      if (e.type !== 'acquired' || formatCidr(e.lease.subnet) === overlaySubnet) return;
      log.warn({ from: overlaySubnet ?? null, to: formatCidr(e.lease.subnet) }, 'subnet changed; restarting the overlay');
      moveOverlay(e.lease).catch((err: unknown) => {
        log.fatal({ err: errorMessage(err) }, 'cannot restart the overlay on the new subnet; exiting');
        stop.abort();
      });
    });
    if (node.lease) await moveOverlay(node.lease);

    leaseReady.set(node.lease !== undefined);
    fileReady.set(true);
    log.info({ subnet: node.lease ? formatCidr(node.lease.subnet) : null, vtepMAC: vtepMac, publicIP: underlay.publicIp, startedFrom: source.mode }, source.mode === 'etcd' ? 'ready' : 'ready (started from the state cache while etcd is away)');
    await new Promise<void>((resolve) => (stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve(), { once: true })));
    return 0;
  } catch (err) {
    log.fatal({ code: isWeftError(err) ? err.code : undefined }, errorMessage(err));
    return 1;
  } finally {
    await shutdown(log, [() => overlay?.close({ removeTun: cfg.removeTunOnExit }), () => nodeLease?.close(), () => health.close(), () => server?.close(), () => etcd.close()]);
    clearInterval(keepAlive);
    log.info('stopped');
  }
}

async function shutdown(log: Logger, steps: readonly (() => unknown)[]): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'error while stopping');
    }
  }
}

function statusOf(cfg: Readonly<Config>, underlay: Underlay, vtepMac: string, network: NetworkConfig | undefined, mtu: number | undefined, lease: HeldLease | undefined, etcdUp: boolean, missing: string[], overlay: Overlay | undefined): WeftStatus {
  return {
    version: STATUS_VERSION,
    generatedAt: new Date().toISOString(),
    node: {
      name: cfg.nodeName,
      subnet: lease ? formatCidr(lease.subnet) : null,
      network: network ? formatCidr(network.network) : null,
      publicIP: underlay.publicIp,
      vtepMAC: vtepMac,
      leaseExpiry: lease ? new Date(lease.expiresAt).toISOString() : null,
      mtu: mtu ?? null,
      ipMasq: cfg.ipMasq,
      ready: missing.length === 0,
      notReady: missing,
      etcdUp,
    },
    peers: overlay?.peerStatus() ?? [],
    drops: overlay ? Object.fromEntries(Object.entries(overlay.dataplane.stats().drops).filter(([, n]) => n > 0)) : {},
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
