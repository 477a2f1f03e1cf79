// weftd against an etcd with password authentication enabled (--etcd-username/--etcd-password,
// or their WEFTD_* env twins): it leases with the right credentials and, with wrong ones, logs
// the refusal once and keeps retrying (counted in weft_network_config_reads_total) instead of
// crashing. Every weftd runs in its own host namespace on
// a test underlay, etcd on the underlay switch.
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { waitForMetric, weftdMetrics } from '../helpers/metrics.js';
import { eventsOf, startWeftd, waitForEvent } from '../helpers/weftd.js';

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];
const prefix = '/a/network';

useTestbed('auth', async (bed) => {
  ({ etcd, dir } = bed);
  for (let i = 1; i <= 2; i++) hosts.push(await bed.underlay.addHost(`a${i}`, `198.18.6.${i}`));
  await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
  await etcd.etcdctl('user', 'add', 'root:rootpw');
  await etcd.etcdctl('auth', 'enable');
});

describe('etcd password auth', () => {
  it('leases with credentials from env, and waits with a clear log line on wrong ones', async () => {
    const opts = { etcd, prefix, dir };
    const d = startWeftd({ ...opts, host: hosts[0], node: 'a1', env: { ...process.env, WEFTD_ETCD_USERNAME: 'root', WEFTD_ETCD_PASSWORD: 'rootpw' } });
    const ready = await waitForEvent(d, LogEvent.ready);
    expect(String(ready.subnet)).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect((await d.stop('SIGTERM')).code).toBe(0);

    const port = 9181;
    const bad = startWeftd({ ...opts, host: hosts[1], node: 'a2', healthzPort: port, extra: ['--etcd-username', 'root', '--etcd-password', 'nope'] });
    const refused = await waitForEvent(bad, LogEvent.networkConfigUnreadable);
    expect(refused.msg).toMatch(new RegExp(`^cannot read ${prefix}/config: .*authentication failed.* \\(weftd retries every 1 s\\)$`));
    // two more refused reads (one a second), still one log line, still running
    await waitForMetric(weftdMetrics(hosts[1], port), 'weft_network_config_reads_total', { result: 'unreadable' }, (n) => (n ?? 0) >= 3, 10_000);
    expect(bad.proc.exitCode).toBeNull();
    expect(eventsOf(bad, LogEvent.networkConfigUnreadable)).toHaveLength(1);
    expect((await bad.stop('SIGTERM')).code).toBe(0);
  });
});
