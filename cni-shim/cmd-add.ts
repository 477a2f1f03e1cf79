// ADD: render the delegate config from subnet.env, claim the attachment by saving it, then
// delegate. A failed delegate ADD is undone with a delegate DEL (CNI SPEC §4) and the state goes
// with it; if that DEL fails too the state stays, so the runtime's DEL can finish the job.
//
// A repeated ADD for an attachment that already has state (the runtime skipped DEL) fails before
// the delegate runs and undoes nothing: bridge's DEL would delete the pod's eth0 and host-local's
// would release the address the first ADD leased. We fail rather than return the earlier result
// (which CNI 1.1 allows): weft-cni does not keep results, and replaying the saved config would
// report an attachment that may since have changed or gone (pod netns recreated under the same
// ID), hiding the runtime's mistake behind a result nobody checked.
import type { CniEnv } from './cni-env.js';
import { buildDelegateConfig, delegateType } from './delegate-config.js';
import { execPlugin, findPlugin } from './exec-plugin.js';
import { log } from './log.js';
import { delegateVersion } from './negotiate.js';
import type { JsonObject, NetConf } from './netconf.js';
import { convertResult } from './result.js';
import { claimState, removeState } from './state.js';
import { readSubnetEnv } from './subnet-env.js';

export function cmdAdd(env: CniEnv, conf: NetConf): JsonObject {
  const subnet = readSubnetEnv(conf.subnetFile);
  const binary = findPlugin(delegateType(conf), env.path);
  const delegate = buildDelegateConfig(conf, subnet, delegateVersion(binary, conf.cniVersion));
  const attachment = { containerID: env.containerId, ifname: env.ifname };
  claimState(conf.dataDir, { ...attachment, netns: env.netns, delegate });
  let result: JsonObject;
  try {
    result = execPlugin(binary, delegate, { command: 'ADD' });
  } catch (err) {
    try {
      execPlugin(binary, delegate, { command: 'DEL' });
      removeState(conf.dataDir, attachment);
    } catch (delErr) {
      log(`cleanup after the failed ADD failed, state kept for the runtime's DEL: ${(delErr as Error).message}`);
    }
    throw err;
  }
  return convertResult(result, conf.cniVersion);
}
