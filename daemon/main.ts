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
import { formatCidr, formatIPv4, sameSubnet } from './control/lease/ipv4.js';
import { LeaseKeeper, type HeldLease } from './control/lease/lease-keeper.js';
import { LeaseStore } from './control/lease/lease-store.js';
import { LeaseWatcher } from './control/lease/lease-watcher.js';
import { VXLAN_OVERHEAD, type NetworkConfig } from './control/lease/network-config.js';
import { waitForNetworkConfig } from './control/lease/network-config-source.js';
import { readPreviousSubnet, writeSubnetFile } from './control/lease/subnet-file.js';
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
  let keeper: LeaseKeeper | undefined;
  let watcher: LeaseWatcher | undefined;
  let network: NetworkConfig | undefined;
  const vtepMac = deriveVtepMac(cfg.nodeName, underlay.publicIp);
  const server = cfg.healthzPort === 0 ? undefined : new HealthServer({
    host: cfg.healthzIp,
    port: cfg.healthzPort,
    readiness,
    status: () => statusOf(cfg, underlay, vtepMac, network, keeper?.current, health.state, watcher?.snapshot().size, readiness.missing()),
  });
  stop.signal.addEventListener('abort', () => void keeper?.close());

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

    const previous = readPreviousSubnet(cfg.subnetFile);
    if (previous.problem) log.warn({ file: cfg.subnetFile }, `previous subnet file not reused: ${previous.problem}`);
    const store = new LeaseStore(etcd, cfg.etcdPrefix, health);
    const leaseLog = subsystemLogger(log, 'lease');
    const attrs = { publicIp: underlay.publicIp, vni: network.backend.vni, vtepMac, gossipPort: cfg.gossipPort, nodeName: cfg.nodeName };
    keeper = new LeaseKeeper({ store, client: etcd, health, log: leaseLog, network, attrs, ttlMs: cfg.subnetLeaseTtlMs, renewMarginMs: cfg.subnetLeaseRenewMarginMs, previousSubnet: previous.subnet });
    const lease = await keeper.acquire().catch((err: unknown) => {
      if (stop.signal.aborted) return undefined;
      throw err;
    });
    if (!lease) return 0;

    const subnetEnv = (l: HeldLease) => ({ network: network!.network, subnet: l.subnet, mtu, ipMasq: cfg.ipMasq });
    await writeSubnetFile(cfg.subnetFile, subnetEnv(lease));
    log.info({ file: cfg.subnetFile, subnet: formatCidr(lease.subnet), mtu, ipMasq: cfg.ipMasq }, 'subnet file written');

    watcher = new LeaseWatcher({ client: etcd, store, health, log: leaseLog, ownKey: lease.key });
    keeper.onEvent((e) => {
      if (e.type === 'lost') return leaseReady.set(false);
      watcher?.setOwnKey(e.lease.key);
      if (e.previous && sameSubnet(e.previous.subnet, e.lease.subnet)) return leaseReady.set(true);
      writeSubnetFile(cfg.subnetFile, subnetEnv(e.lease)).then(
        () => {
          log.info({ file: cfg.subnetFile, subnet: formatCidr(e.lease.subnet) }, 'subnet file rewritten for the new subnet');
          leaseReady.set(true);
        },
        (err: unknown) => log.error(errorMessage(err)),
      );
    });
    keeper.start();
    await watcher.start();
    log.info({ peers: watcher.snapshot().size }, 'watching peer leases');

    // ── After the lease, before ready: the data plane goes here (TUN up with `mtu`, routes from
    //    watcher.onChange(snapshot)), then registers and sets its own readiness condition. ──

    leaseReady.set(true);
    fileReady.set(true);
    log.info({ subnet: formatCidr(lease.subnet), vtepMac, publicIp: underlay.publicIp }, 'ready');
    await new Promise<void>((resolve) => (stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve(), { once: true })));
    return 0;
  } catch (err) {
    log.fatal({ code: isWeftError(err) ? err.code : undefined }, errorMessage(err));
    return 1;
  } finally {
    await shutdown(log, [() => watcher?.close(), () => keeper?.close(), () => health.close(), () => server?.close(), () => etcd.close()]);
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
