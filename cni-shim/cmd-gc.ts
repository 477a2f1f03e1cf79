// GC (spec 1.1.0): release everything held for attachments the runtime no longer lists.
//  1. each saved attachment not in cni.dev/valid-attachments gets a delegate DEL with its saved
//     config (bridge removes the pod side if the netns still exists, host-local frees the address);
//  2. GC is forwarded to the delegate when it speaks 1.1.0; otherwise (Debian's plugins 1.1.1
//     predate GC) host-local leases whose owner is not valid, and that no state file explains, are
//     released with a host-local DEL in the owner's name.
// Errors do not stop the sweep; the first one is returned at the end with the rest in details.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CniEnv } from './cni-env.js';
import { ipamDataDir, ipamType } from './delegate-config.js';
import { rebuiltDelegation, type Delegation } from './delegate-for.js';
import { CniError, ErrCode } from './errors.js';
import { execPlugin, findPlugin } from './exec-plugin.js';
import { log } from './log.js';
import { supportsGcAndStatus } from './negotiate.js';
import { isObject, type Attachment, type NetConf } from './netconf.js';
import { listStates, loadState, removeState } from './state.js';
import { compareVersions } from './version.js';

const key = (a: Attachment): string => `${a.containerID}\u0000${a.ifname}`;

export function cmdGc(env: CniEnv, conf: NetConf): void {
  if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
    throw new CniError(ErrCode.IncompatibleVersion, `config version ${conf.cniVersion} does not allow GC (needs 1.1.0)`);
  }
  if (!conf.validAttachments) throw new CniError(ErrCode.InvalidNetconf, 'GC needs "cni.dev/valid-attachments" (the attachments to keep)');
  const valid = new Set(conf.validAttachments.map(key));
  const errors: string[] = [];

  for (const a of listStates(conf.dataDir)) {
    if (valid.has(key(a))) continue;
    try {
      releaseSaved(env, conf, a);
    } catch (err) {
      errors.push(`${a.containerID}/${a.ifname}: ${(err as Error).message}`);
    }
  }

  let delegation: Delegation | undefined;
  try {
    delegation = rebuiltDelegation(env, conf);
  } catch (err) {
    errors.push(`cannot forward GC: ${(err as Error).message}`);
  }
  if (delegation) {
    try {
      if (supportsGcAndStatus(delegation.binary)) {
        execPlugin(delegation.binary, { ...delegation.config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': conf.validAttachments.map((a) => ({ ...a })) }, { command: 'GC' });
      } else if (ipamType(conf) === 'host-local') {
        releaseOrphanLeases(env, conf, delegation, valid, errors);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  }

  if (errors.length > 0) {
    throw new CniError(ErrCode.IoFailure, `GC could not release everything: ${errors[0]}`, errors.join('\n'));
  }
}

function releaseSaved(env: CniEnv, conf: NetConf, a: Attachment): void {
  const s = loadState(conf.dataDir, a);
  if (s === 'corrupt' || s === undefined) {
    // Unreadable: the orphan-lease sweep below frees its address by owner.
    removeState(conf.dataDir, a);
    return;
  }
  const type = typeof s.delegate.type === 'string' ? s.delegate.type : 'bridge';
  const netns = s.netns && existsSync(s.netns) ? s.netns : '';
  execPlugin(findPlugin(type, env.path), s.delegate, {
    command: 'DEL',
    env: { CNI_CONTAINERID: a.containerID, CNI_IFNAME: a.ifname, CNI_NETNS: netns },
  });
  removeState(conf.dataDir, a);
  log(`released stale attachment ${a.containerID}/${a.ifname}`);
}

/** host-local 1.1.1 stores one file per address, named by it, holding "<containerID>\r\n<ifname>". */
function releaseOrphanLeases(env: CniEnv, conf: NetConf, delegation: Delegation, valid: Set<string>, errors: string[]): void {
  const dir = join(ipamDataDir(conf), conf.name);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no leases yet
  }
  const ipam = delegation.config.ipam;
  if (!isObject(ipam)) return;
  const hostLocal = findPlugin('host-local', env.path);
  const ipamConfig = { cniVersion: delegation.config.cniVersion ?? '1.0.0', name: conf.name, ipam };
  for (const n of names) {
    if (!/^[0-9a-f.:]+$/i.test(n) || !/[.:]/.test(n)) continue;
    let owner: string;
    try {
      owner = readFileSync(join(dir, n), 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const [containerID = '', ifname = ''] = owner.split(/\r?\n/).map((s) => s.trim());
    if (containerID === '' || valid.has(key({ containerID, ifname }))) continue;
    try {
      execPlugin(hostLocal, ipamConfig, { command: 'DEL', env: { CNI_CONTAINERID: containerID, CNI_IFNAME: ifname || 'eth0', CNI_NETNS: '' } });
      log(`released orphan lease ${n} of ${containerID}/${ifname}`);
    } catch (err) {
      errors.push(`lease ${n}: ${(err as Error).message}`);
    }
  }
}
