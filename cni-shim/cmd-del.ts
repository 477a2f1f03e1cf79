// DEL: idempotent and best-effort (CNI SPEC §DEL). The delegate always runs when a config can be
// had (saved, or rebuilt from subnet.env), so bridge and host-local release what they hold even
// after a lost state file; the state is removed only after the delegate succeeded, so a retried
// DEL never skips the release (the leak in flannel-io/cni-plugin's deferred cleanup).
import type { CniEnv } from './cni-env.js';
import { rebuiltDelegation, savedDelegation, withPrevResult, type Delegation } from './delegate-for.js';
import { execPlugin } from './exec-plugin.js';
import { log } from './log.js';
import type { NetConf } from './netconf.js';
import { removeState } from './state.js';

export function cmdDel(env: CniEnv, conf: NetConf): void {
  const attachment = { containerID: env.containerId, ifname: env.ifname };
  const saved = savedDelegation(env, conf, attachment);
  let delegation: Delegation;
  if (saved !== undefined && saved !== 'corrupt') {
    delegation = saved;
  } else {
    if (saved === 'corrupt') log(`state for ${attachment.containerID}/${attachment.ifname} is unreadable; rebuilding the delegate config from the subnet file`);
    try {
      delegation = rebuiltDelegation(env, conf);
    } catch (err) {
      // Nothing to hand the delegate: succeed (DEL must), GC releases the address later.
      log(`nothing to release: no saved state for ${attachment.containerID}/${attachment.ifname} and ${(err as Error).message.split(':')[0]}; GC frees any address left behind`);
      return;
    }
  }
  execPlugin(delegation.binary, withPrevResult(delegation.config, conf.prevResult), { command: 'DEL' });
  removeState(conf.dataDir, attachment);
}
