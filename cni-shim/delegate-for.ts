// The delegate config for an existing attachment: the one saved at ADD, or, when that is gone,
// one rebuilt from the current subnet.env (same rendering as ADD).
import type { CniEnv } from './cni-env.js';
import { buildDelegateConfig, delegateType } from './delegate-config.js';
import { findPlugin } from './exec-plugin.js';
import { delegateVersion } from './negotiate.js';
import type { Attachment, JsonObject, NetConf } from './netconf.js';
import { convertResult } from './result.js';
import { loadState } from './state.js';
import { readSubnetEnv } from './subnet-env.js';

export interface Delegation {
  readonly binary: string;
  readonly config: JsonObject;
}

export function savedDelegation(env: CniEnv, conf: NetConf, a: Attachment): Delegation | 'corrupt' | undefined {
  const s = loadState(conf.dataDir, a);
  if (s === undefined || s === 'corrupt') return s;
  const type = typeof s.delegate.type === 'string' ? s.delegate.type : delegateType(conf);
  return { binary: findPlugin(type, env.path), config: s.delegate };
}

/** Throws the subnet.env error (code 11/6/5) when it cannot be rebuilt. */
export function rebuiltDelegation(env: CniEnv, conf: NetConf): Delegation {
  const subnet = readSubnetEnv(conf.subnetFile);
  const binary = findPlugin(delegateType(conf), env.path);
  return { binary, config: buildDelegateConfig(conf, subnet, delegateVersion(binary, conf.cniVersion)) };
}

/** The config with the runtime's prevResult attached, in the delegate's own version. */
export function withPrevResult(config: JsonObject, prevResult: JsonObject | undefined): JsonObject {
  if (!prevResult) return config;
  const v = typeof config.cniVersion === 'string' ? config.cniVersion : '1.0.0';
  return { ...config, prevResult: convertResult(prevResult, v) };
}
