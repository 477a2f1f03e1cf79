// weftd's own etcd client and health check, connected to a test's EtcdServer the way weftd builds
// them from --etcd-endpoints: for tests that drive the lease store, keeper or watcher directly.
import type { Etcd3 } from 'etcd3';
import { parseConfig } from '../../daemon/config/parse-config.js';
import { createEtcdClient } from '../../daemon/control/etcd/etcd-client.js';
import { EtcdHealth } from '../../daemon/control/etcd/etcd-health.js';
import type { EtcdServer } from './etcd.js';

export interface EtcdConnection {
  readonly client: Etcd3;
  readonly health: EtcdHealth;
  /** Stops the health check and closes the client. */
  close(): void;
}

export function connectEtcd(etcd: EtcdServer, log: ConstructorParameters<typeof EtcdHealth>[0]): EtcdConnection {
  const parsed = parseConfig(['--etcd-endpoints', etcd.endpoint], {}, { hostname: 'h', version: 'test' });
  if (parsed.action !== 'run') throw new Error(`config for ${etcd.endpoint}: ${parsed.action}`);
  const client = createEtcdClient(parsed.config);
  const health = new EtcdHealth(log, [etcd.endpoint], () => client.maintenance.status());
  return {
    client,
    health,
    close: () => {
      health.close();
      client.close();
    },
  };
}
