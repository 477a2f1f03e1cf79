// STATUS (spec 1.1.0): exit 0 only when an ADD could be served now: the subnet file is there and
// valid, weftd's /readyz answers 200, and the delegate / IPAM plugin (when it speaks 1.1.0) agrees.
import type { CniEnv } from './cni-env.js';
import { buildDelegateConfig, delegateType, ipamType } from './delegate-config.js';
import { CHECK_WEFTD, CniError, ErrCode } from './errors.js';
import { execPlugin, findPlugin } from './exec-plugin.js';
import { supportsGcAndStatus } from './negotiate.js';
import type { NetConf } from './netconf.js';
import { readSubnetEnv } from './subnet-env.js';
import { compareVersions } from './version.js';

const READYZ_TIMEOUT_MS = 1000;

export async function cmdStatus(env: CniEnv, conf: NetConf): Promise<void> {
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(ErrCode.IncompatibleVersion, `config version ${conf.cniVersion} does not allow STATUS (needs 1.1.0)`);
  }
  const subnet = readSubnetEnv(conf.subnetFile, ErrCode.NotAvailable);
  if (conf.readyzURL !== '') await probeReadyz(conf.readyzURL);

  const delegate = findPlugin(delegateType(conf), env.path);
  const config = buildDelegateConfig(conf, subnet, '1.1.0');
  if (supportsGcAndStatus(delegate)) {
    execPlugin(delegate, config, { command: 'STATUS' });
  } else {
    const ipam = findPlugin(ipamType(conf), env.path);
    if (supportsGcAndStatus(ipam)) execPlugin(ipam, { cniVersion: '1.1.0', name: conf.name, ipam: config.ipam }, { command: 'STATUS' });
  }
}

async function probeReadyz(url: string): Promise<void> {
  const { get } = await import('node:http');
  const status = await new Promise<number | Error>((resolve) => {
    const req = get(url, { timeout: READYZ_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${READYZ_TIMEOUT_MS} ms`)));
    req.on('error', resolve);
  });
  if (status === 200) return;
  const why = status instanceof Error ? `GET ${url} failed: ${(status as NodeJS.ErrnoException).code ?? status.message}` : `GET ${url} answered ${status}`;
  throw new CniError(ErrCode.NotAvailable, `weftd is not ready (${why}): pods on this node cannot be routed yet; ${CHECK_WEFTD}`, 'readyzURL in the netconf sets the URL probed; "" disables the probe');
}
