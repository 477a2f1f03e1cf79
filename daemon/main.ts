// weftd's entry point: parse the config, resolve the underlay, construct the node (weftd.ts),
// start it, wait for SIGTERM/SIGINT, close it. `weftd status` is the CLI that reads a running
// weftd's /status (cli/status.ts).
// Stopping keeps the lease and the TUN (with its address and route) for the next start, so a
// restart does not break flows; --remove-tun-on-exit removes the TUN.
// Exit 0: stopped. Exit 2: a bad flag/value or an unusable --iface. Exit 1: any other start-up failure.
import { hostname } from 'node:os';
import { runStatus } from './cli/status.js';
import type { Config } from './config/config.js';
import { ignoredFlannelEnvNames, parseConfig, unknownEnvNames } from './config/parse-config.js';
import { resolveUnderlay, type Underlay } from './config/underlay.js';
import { weftVersion } from './config/version.js';
import { errorMessage, isWeftError } from './errors.js';
import { createLogger, subsystemLogger } from './observability/logger.js';
import { Weftd } from './weftd.js';
import { LogEvent } from './observability/log-events.js';

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
  log.info({ event: LogEvent.starting, version, node: cfg.nodeName, etcdEndpoints: cfg.etcdEndpoints, etcdPrefix: cfg.etcdPrefix, subnetFile: cfg.subnetFile, stateDir: cfg.stateDir }, 'weftd starting');
  for (const name of unknownEnvNames(process.env)) log.warn({ env: name }, 'ignoring unknown WEFTD_* environment variable');
  const flannelOnly = ignoredFlannelEnvNames(process.env);
  if (flannelOnly.length > 0) log.warn({ env: flannelOnly }, 'ignoring FLANNELD_* environment variables weft has no equivalent for (see "Migrating from Flannel" in the README)');

  let underlay: Underlay;
  try {
    underlay = resolveUnderlay(cfg);
  } catch (err) {
    log.fatal(errorMessage(err));
    return isWeftError(err, 'WEFT_ERR_UNDERLAY') ? 2 : 1;
  }
  log.info({ iface: underlay.iface, ifaceIP: underlay.ifaceIp, publicIP: underlay.publicIp, ...(underlay.ipv6 ? { publicIPv6: underlay.ipv6.publicIp } : {}), mtu: underlay.mtu }, 'underlay');

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!stop.signal.aborted) log.info({ signal: sig }, 'stopping (the lease stays in etcd for the next start)');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const keepAlive = setInterval(() => undefined, 1 << 30);

  const weftd = new Weftd(cfg, underlay, log, version);
  try {
    if (await weftd.start(stop)) await aborted(stop.signal);
    return 0;
  } catch (err) {
    log.fatal({ code: isWeftError(err) ? err.code : undefined }, errorMessage(err));
    return 1;
  } finally {
    await weftd.close();
    clearInterval(keepAlive);
    log.info('stopped');
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
