// Reads `<prefix>/config` from etcd and waits until it exists and is valid. Flannel polls every
// second; so does weft, logging once when the key is missing (with the command that creates it)
// and once per distinct validation error, so an operator can fix either while weftd waits.
import type { Etcd3 } from 'etcd3';
import { errorMessage, isWeftError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { sleep } from '../etcd/backoff.js';
import { isUnreachableError, type EtcdHealth } from '../etcd/etcd-health.js';
import { exampleConfigCommand, parseNetworkConfig, type NetworkConfig } from './network-config.js';
import { LogEvent } from '../../observability/log-events.js';

export const CONFIG_POLL_MS = 1_000;

/** Reads of `<prefix>/config` at start, by outcome (monotonic; weft_network_config_reads_total{result}). */
export interface ConfigReads {
  found: number;
  missing: number;
  invalid: number;
  /** Refused for another reason than etcd being away (e.g. authentication). */
  unreadable: number;
  unreachable: number;
}

export function noConfigReads(): ConfigReads {
  return { found: 0, missing: 0, invalid: 0, unreadable: 0, unreachable: 0 };
}

/** Resolves with the first valid config; resolves undefined if `signal` aborts first. Counts each read in `reads`. */
export async function waitForNetworkConfig(client: Etcd3, prefix: string, health: EtcdHealth, log: Logger, signal: AbortSignal, reads = noConfigReads()): Promise<NetworkConfig | undefined> {
  const key = `${prefix}/config`;
  let last = '';
  const once = (message: string, level: 'warn' | 'error', fields: Record<string, unknown>): void => {
    if (message === last) return;
    last = message;
    log[level]({ key, ...fields }, message);
  };
  while (!signal.aborted) {
    try {
      const text = await health.run(() => client.get(key).string());
      if (text === null) {
        reads.missing++;
        once(`network config not found at ${key}; create it with: ${exampleConfigCommand(key)}`, 'warn', { event: LogEvent.networkConfigMissing });
      } else {
        const cfg = parseNetworkConfig(text);
        reads.found++;
        if (last !== '') log.info({ key }, 'network config found');
        return cfg;
      }
    } catch (err) {
      if (isWeftError(err, 'WEFT_ERR_NETWORK_CONFIG_INVALID')) {
        reads.invalid++;
        once(`${err.message}; fix it with: etcdctl put ${key} '<json>' (weftd retries every ${CONFIG_POLL_MS / 1000} s)`, 'error', { event: LogEvent.networkConfigInvalid, code: err.code });
      } else if (isUnreachableError(err)) {
        reads.unreachable++;
        log.debug({ err: errorMessage(err) }, 'reading the network config failed; retrying');
      } else {
        reads.unreadable++;
        once(`cannot read ${key}: ${errorMessage(err)} (weftd retries every ${CONFIG_POLL_MS / 1000} s)`, 'error', { event: LogEvent.networkConfigUnreadable });
      }
    }
    await sleep(CONFIG_POLL_MS, signal);
  }
  return undefined;
}
