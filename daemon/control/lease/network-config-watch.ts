// `<prefix>/config` while weftd runs. Like Flannel, weftd applies the network config only at start;
// a later change (or deletion, or an invalid value) is logged once per distinct content, field by
// field, with what the operator must do, so it is never ignored without a word. A config that
// matches the running one again is logged once too.
import type { Etcd3 } from 'etcd3';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { EtcdHealth } from '../etcd/etcd-health.js';
import { ResilientWatch } from '../etcd/resilient-watch.js';
import { formatCidr, formatIpv4, type Subnet4 } from '../../net/ipv4.js';
import { formatCidr6, formatIpv6 } from '../../net/ipv6.js';
import { parseNetworkConfig, subnetFitsConfig, type NetworkConfig } from './network-config.js';
import { LogEvent } from '../../observability/log-events.js';

export interface ConfigChange {
  /** Flannel's field name, e.g. "Network", "Backend.VNI". */
  readonly field: string;
  readonly from: string;
  readonly to: string;
}

function fields(c: NetworkConfig): [string, string][] {
  return [
    ['Network', formatCidr(c.network)],
    ['SubnetLen', String(c.subnetLen)],
    ['SubnetMin', formatIpv4(c.subnetMin)],
    ['SubnetMax', formatIpv4(c.subnetMax)],
    ['EnableIPv6', String(c.ipv6 !== undefined)],
    ['IPv6Network', c.ipv6 ? formatCidr6(c.ipv6.network) : 'unset'],
    ['IPv6SubnetLen', c.ipv6 ? String(c.ipv6.subnetLen) : 'unset'],
    ['IPv6SubnetMin', c.ipv6 ? formatIpv6(c.ipv6.subnetMin) : 'unset'],
    ['IPv6SubnetMax', c.ipv6 ? formatIpv6(c.ipv6.subnetMax) : 'unset'],
    ['Backend.VNI', String(c.backend.vni)],
    ['Backend.Port', String(c.backend.port)],
    ['Backend.MTU', c.backend.mtu === undefined ? 'unset' : String(c.backend.mtu)],
  ];
}

/** The fields (after defaults) in which `next` differs from `running`, in Flannel's order. */
export function diffNetworkConfig(running: NetworkConfig, next: NetworkConfig): ConfigChange[] {
  const after = new Map(fields(next));
  return fields(running)
    .filter(([f, v]) => after.get(f) !== v)
    .map(([field, from]) => ({ field, from, to: after.get(field) ?? '' }));
}

/** What the operator must do to apply `next`, given this node's subnet (undefined while re-acquiring). */
export function configChangeAdvice(running: NetworkConfig, next: NetworkConfig, subnet: Subnet4 | undefined): string {
  const changed = new Set(diffNetworkConfig(running, next).map((c) => c.field));
  let advice = 'weftd keeps running on the config it started with; to apply the new one, restart weftd on every node';
  if (changed.has('Backend.VNI') || changed.has('Backend.Port')) advice += ' at the same time (nodes on different Backend.VNI or Backend.Port cannot reach each other)';
  if (subnet && !subnetFitsConfig(next, subnet)) {
    advice += `; this node's subnet ${formatCidr(subnet)} does not fit the new config, so after the restart it gets another subnet and the pods on this node (addresses in ${formatCidr(subnet)}) must be re-created`;
  }
  if (changed.has('EnableIPv6')) advice += "; EnableIPv6 changes every lease's key, so each node writes a new lease after its restart (keeping its IPv4 subnet from the subnet file when it is free)";
  if (changed.has('Backend.MTU')) advice += '; pods keep the old MTU until they are re-created';
  return advice;
}

export interface NetworkConfigWatchOptions {
  readonly client: Etcd3;
  readonly health: EtcdHealth;
  readonly prefix: string;
  /** The config weftd runs on. */
  readonly running: NetworkConfig;
  /** This node's subnet now, if held. */
  readonly subnet: () => Subnet4 | undefined;
  readonly log: Logger;
}

export class NetworkConfigWatch {
  private readonly watch: ResilientWatch;
  /** The last content reported; '' = the running config (nothing to report). */
  private reported = '';
  private compared = 0;

  constructor(private readonly o: NetworkConfigWatchOptions) {
    const key = `${o.prefix}/config`;
    this.watch = new ResilientWatch(
      o.client,
      { key },
      {
        reset: (kvs) => this.seen(kvs.length === 0 ? null : kvs[0].value),
        apply: (changes) => {
          const last = changes[changes.length - 1];
          this.seen(last.type === 'delete' ? null : last.value);
        },
      },
      o.health,
      o.log,
    );
  }

  /** Resolves once the first listing has been compared. */
  start(): Promise<void> {
    return this.watch.start();
  }

  close(): Promise<void> {
    return this.watch.close();
  }

  /** Times the content in etcd was compared with the running config: each change seen, and each listing. */
  get checks(): number {
    return this.compared;
  }

  private seen(text: string | null): void {
    this.compared++;
    const key = `${this.o.prefix}/config`;
    if (text === null) return this.report('<deleted>', () => this.o.log.warn({ event: LogEvent.networkConfigDeleted, key }, `network config ${key} was deleted; weftd keeps running on the config it started with, and a restarted weftd waits until the key exists again`));
    let next: NetworkConfig;
    try {
      next = parseNetworkConfig(text);
    } catch (err) {
      return this.report(text, () => this.o.log.error({ event: LogEvent.networkConfigInvalid, key }, `${errorMessage(err)} (in ${key}, changed while running); weftd keeps running on the config it started with, and a restarted weftd waits until the config is valid`));
    }
    const changes = diffNetworkConfig(this.o.running, next);
    if (changes.length === 0) {
      if (this.reported !== '') this.o.log.info({ event: LogEvent.networkConfigMatches, key }, 'network config in etcd matches the running config again');
      this.reported = '';
      return;
    }
    const summary = changes.map((c) => `${c.field} ${c.from} → ${c.to}`).join(', ');
    this.report(text, () => this.o.log.warn({ event: LogEvent.networkConfigChanged, key, changes }, `network config changed in etcd: ${summary}; ${configChangeAdvice(this.o.running, next, this.o.subnet())}`));
  }

  private report(content: string, write: () => void): void {
    if (content === this.reported) return;
    this.reported = content;
    write();
  }
}
