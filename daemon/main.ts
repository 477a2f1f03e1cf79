// weftd start-up wiring: config → logger → underlay → health server → etcd → network config
// (waited for) → lease → subnet.env → keeper + peer watcher → [data plane] → ready.
// SIGTERM/SIGINT stop everything and exit 0, keeping the lease for the next start.
// Exit 2: a bad flag/value or an unusable --iface. Exit 1: any other start-up failure.
import { hostname } from 'node:os';
import { parseConfig, unknownEnvNames } from './config/parse-config.js';
import { resolveUnderlay, type Underlay } from './config/underlay.js';
import { weftVersion } from './config/version.js';
import type { Config } from './config/config.js';
import { createEtcdClient } from './control/etcd/etcd-client.js';
import { EtcdHealth } from './control/etcd/etcd-health.js';
import { formatCidr, formatIPv4 } from './control/lease/ipv4.js';
import type { HeldLease } from './control/lease/lease-keeper.js';
import { NodeLease } from './control/lease/node-lease.js';
import { VXLAN_OVERHEAD, type NetworkConfig } from './control/lease/network-config.js';
import { waitForNetworkConfig } from './control/lease/network-config-source.js';
import { deriveVtepMac } from './control/lease/vtep-mac.js';
import { errorMessage, isWeftError } from './errors.js';
import { HealthServer } from './observability/health-server.js';
import { createLogger, subsystemLogger, type Logger } from './observability/logger.js';
import { Readiness } from './observability/readiness.js';

const version = weftVersion();

async function main(): Promise<number> {
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

  const log = createLogger(cfg.logLevel);
  log.info({ version, node: cfg.nodeName, etcdEndpoints: cfg.etcdEndpoints, etcdPrefix: cfg.etcdPrefix, subnetFile: cfg.subnetFile, stateDir: cfg.stateDir }, 'weftd starting');
  for (const name of unknownEnvNames(process.env)) log.warn({ env: name }, 'ignoring unknown WEFTD_* environment variable');

  let underlay: Underlay;
  try {
    underlay = resolveUnderlay(cfg);
  } catch (err) {
    log.fatal(errorMessage(err));
    return isWeftError(err, 'WEFT_ERR_UNDERLAY') ? 2 : 1;
  }
  log.info(underlay, 'underlay');

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
  const etcd = createEtcdClient(cfg);
  const health = new EtcdHealth(subsystemLogger(log, 'etcd'), cfg.etcdEndpoints, () => etcd.maintenance.status());
  let nodeLease: NodeLease | undefined;
  let network: NetworkConfig | undefined;
  const vtepMac = deriveVtepMac(cfg.nodeName, underlay.publicIp);
  const server = cfg.healthzPort === 0 ? undefined : new HealthServer({
    host: cfg.healthzIp,
    port: cfg.healthzPort,
    readiness,
    status: () => statusOf(cfg, underlay, vtepMac, network, nodeLease?.lease, health.state, nodeLease?.watcher.snapshot().size, readiness.missing()),
  });

  try {
    if (server) {
      await server.listen().catch((err: Error) => {
        throw new Error(`cannot serve health on ${cfg.healthzIp}:${cfg.healthzPort} (${err.message}); choose another --healthz-port, or 0 to disable`);
      });
      log.info({ address: `${cfg.healthzIp}:${server.port}` }, 'health server listening (/healthz /readyz /status)');
    }

    network = await waitForNetworkConfig(etcd, cfg.etcdPrefix, health, log, stop.signal);
    if (!network) return 0;
    log.info({ network: formatCidr(network.network), subnetLen: network.subnetLen, subnetMin: formatIPv4(network.subnetMin), subnetMax: formatIPv4(network.subnetMax), backend: network.backend }, 'network config');
    const mtu = (network.backend.mtu ?? underlay.mtu) - VXLAN_OVERHEAD;

    const node = await NodeLease.start(
      {
        client: etcd,
        health,
        log: subsystemLogger(log, 'lease'),
        prefix: cfg.etcdPrefix,
        network,
        attrs: { publicIp: underlay.publicIp, vni: network.backend.vni, vtepMac, gossipPort: cfg.gossipPort, nodeName: cfg.nodeName },
        ttlMs: cfg.subnetLeaseTtlMs,
        renewMarginMs: cfg.subnetLeaseRenewMarginMs,
        subnetFile: cfg.subnetFile,
        mtu,
        ipMasq: cfg.ipMasq,
        onHeld: (held) => leaseReady.set(held),
      },
      stop.signal,
    );
    if (!node) return 0;
    nodeLease = node;

    // ── After the lease, before ready: the data plane goes here (TUN up with `mtu`, routes from
    //    node.watcher.onChange(snapshot)), then registers and sets its own readiness condition. ──

    leaseReady.set(true);
    fileReady.set(true);
    log.info({ subnet: node.lease ? formatCidr(node.lease.subnet) : null, vtepMac, publicIp: underlay.publicIp }, 'ready');
    await new Promise<void>((resolve) => (stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve(), { once: true })));
    return 0;
  } catch (err) {
    log.fatal({ code: isWeftError(err) ? err.code : undefined }, errorMessage(err));
    return 1;
  } finally {
    await shutdown(log, [() => nodeLease?.close(), () => health.close(), () => server?.close(), () => etcd.close()]);
    clearInterval(keepAlive);
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

function statusOf(cfg: Readonly<Config>, underlay: Underlay, vtepMac: string, network: NetworkConfig | undefined, lease: HeldLease | undefined, etcd: string, peers: number | undefined, missing: string[]): unknown {
  return {
    node: cfg.nodeName,
    version,
    ready: missing.length === 0,
    notReady: missing,
    publicIp: underlay.publicIp,
    iface: underlay.iface,
    vtepMac,
    network: network ? formatCidr(network.network) : null,
    subnet: lease ? formatCidr(lease.subnet) : null,
    leaseKey: lease?.key ?? null,
    leaseExpiresAt: lease ? new Date(lease.expiresAt).toISOString() : null,
    etcd,
    peers: peers ?? 0,
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
