// CHECK: the delegate (bridge, then host-local) verifies the interface, addresses and routes of
// prevResult; weft-cni adds what only it knows: weftd's subnet file is there and still leases
// the subnets this pod's addresses came from (each family's).
import type { CniEnv } from './cni-env.js';
import { rebuiltDelegation, savedDelegation, withPrevResult } from './delegate-for.js';
import { CniError, ErrCode } from './errors.js';
import { execPlugin } from './exec-plugin.js';
import { isObject, type JsonObject, type NetConf } from './netconf.js';
import { readSubnetEnv } from './subnet-env.js';
import { compareVersions } from './version.js';

export function cmdCheck(env: CniEnv, conf: NetConf): void {
  if (compareVersions(conf.cniVersion, '0.4.0') < 0) {
    throw new CniError(ErrCode.IncompatibleVersion, `config version ${conf.cniVersion} does not allow CHECK (needs 0.4.0 or later)`);
  }
  if (!conf.prevResult) throw new CniError(ErrCode.InvalidNetconf, 'CHECK needs "prevResult" (the ADD result the runtime saved)');
  const subnet = readSubnetEnv(conf.subnetFile);
  const saved = savedDelegation(env, conf, { containerID: env.containerId, ifname: env.ifname });
  const delegation = saved !== undefined && saved !== 'corrupt' ? saved : rebuiltDelegation(env, conf);
  for (const podSubnet of savedSubnets(delegation.config)) {
    const now = podSubnet.includes(':') ? subnet.ipv6 : subnet.ipv4;
    if (now?.subnet !== podSubnet) {
      const held = now ? `this node now holds ${now.subnet}` : `this node's subnet file no longer has an IPv${podSubnet.includes(':') ? 6 : 4} subnet`;
      throw new CniError(ErrCode.InvalidNetconf, `pod was wired in subnet ${podSubnet}, but ${held} (weftd's lease changed): the pod cannot be routed; recreate it`);
    }
  }
  try {
    execPlugin(delegation.binary, withPrevResult(delegation.config, conf.prevResult), { command: 'CHECK' });
  } catch (err) {
    if (!(err instanceof CniError)) throw err;
    throw new CniError(err.code, `${err.message} (the pod's interface, address or route no longer matches its ADD result: recreate the pod)`, err.details);
  }
}

/** The subnet of each host-local range set the pod's addresses came from (one per family). */
function savedSubnets(config: JsonObject): string[] {
  const ipam = config.ipam;
  if (!isObject(ipam) || !Array.isArray(ipam.ranges)) return [];
  return ipam.ranges.flatMap((set) => {
    const range = Array.isArray(set) ? set[0] : undefined;
    return isObject(range) && typeof range.subnet === 'string' ? [range.subnet] : [];
  });
}
