// weftd with EnableIPv6 against a real etcd, as a real process in its own host namespace: it
// acquires one lease for both subnets (Flannel's key and value, PublicIPv6 from --public-ipv6),
// writes Flannel's dual-stack subnet.env, says once which IPv6 pod traffic it carries, keeps
// both subnets across a restart, and stops with a clear error when it has no IPv6 address to
// advertise. An IPv4-only config on the same daemon gives exactly today's lease (weftd-lease.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { httpGet, logLines, startWeftd, waitForLog, type Weftd } from '../helpers/weftd.js';

const DUAL = '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}';

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];

useTestbed(
  'dual',
  async (bed) => {
    ({ etcd, dir } = bed);
    for (let i = 1; i <= 2; i++) hosts.push(await bed.underlay.addHost(`d${i}`, `198.18.0.${i}`));
  },
  { killDaemonsAfterEach: true },
);

async function subnetKeys(prefix: string): Promise<string[]> {
  return (await etcd.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).split('\n').filter(Boolean);
}

async function stopClean(d: Weftd): Promise<void> {
  expect(await d.stop('SIGTERM', 5_000)).toEqual({ code: 0, signal: null });
}

describe('weftd, dual-stack', () => {
  it('leases both subnets under one key, writes both to subnet.env, says once how IPv6 is carried, and keeps both across a restart', async () => {
    const prefix = '/ds1/network';
    await etcd.etcdctl('put', `${prefix}/config`, DUAL);
    const port = 9190;
    const opts = { host: hosts[0], etcd, prefix, node: 'node1', dir, healthzPort: port, extra: ['--public-ipv6', 'FD00:198:18:0::1'] };
    let d = startWeftd(opts);
    const ready = await waitForLog(d, /^ready$/);
    expect((await httpGet(hosts[0], `http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const [key] = await subnetKeys(prefix);
    const m = /^\/ds1\/network\/subnets\/10\.244\.(\d+)\.0-24&(fd00:10:244:[0-9a-f]+::)-64$/.exec(key);
    expect(m, key).not.toBeNull();
    expect(await subnetKeys(prefix)).toEqual([key]);
    expect(ready.subnet).toBe(`10.244.${m![1]}.0/24`);
    const value = (await etcd.etcdctl('get', '--print-value-only', key)).trim();
    expect(value).toMatch(/^\{"PublicIP":"198\.18\.0\.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":\{"VNI":1,"VtepMAC":"[0-9a-f:]{17}","WeftGossipPort":8473,"WeftNodeName":"node1"(,"WeftCsumElision":true)?\},"BackendV6Data":\{"VNI":1,"VtepMAC":"([0-9a-f:]{17})"\}\}$/);
    expect(readFileSync(d.subnetFile, 'utf8')).toBe(
      `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${m![1]}.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=${m![2]}1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`,
    );
    expect(logLines(d).filter((l) => /IPv6/.test(l.msg) && l.level >= 40).map((l) => l.msg)).toEqual([]);
    expect(logLines(d).filter((l) => /^EnableIPv6: /.test(l.msg)).map((l) => l.msg)).toEqual([expect.stringMatching(/between weft nodes is carried over the IPv4 underlay/)]);
    await stopClean(d);

    d = startWeftd(opts);
    await waitForLog(d, /^ready$/);
    expect(logLines(d).find((l) => l.msg === 'lease acquired')).toMatchObject({ how: 'reuse-public-ip', subnet: `10.244.${m![1]}.0/24`, subnet6: `${m![2]}/64` });
    expect(await subnetKeys(prefix)).toEqual([key]);
    expect((await etcd.etcdctl('get', '--print-value-only', key)).trim()).toBe(value);
    await stopClean(d);
  });

  it('with --ip-masq, masquerades the IPv6 pod network in ip6tables as it does the IPv4 one, and removes both on stop', async () => {
    const prefix = '/ds3/network';
    await etcd.etcdctl('put', `${prefix}/config`, DUAL);
    const d = startWeftd({ host: hosts[0], etcd, prefix, node: 'node3', dir, healthzPort: 9191, extra: ['--public-ipv6', 'fd00:198:18::1', '--ip-masq'] });
    const ready = await waitForLog(d, /^ready$/);
    const subnet6 = /^FLANNEL_IPV6_SUBNET=(\S+)::1\/64$/m.exec(readFileSync(d.subnetFile, 'utf8'))?.[1];
    expect(subnet6).toBeDefined();
    const v6 = (await hosts[0].exec('ip6tables-save', [])).split('\n').filter((l) => l.includes('WEFT-'));
    expect(v6.some((l) => l.includes('-A WEFT-POSTRTG') && l.includes(`${subnet6}::/64`) && l.includes('fd00:10:244::/56'))).toBe(true);
    expect(v6.some((l) => l.includes('MASQUERADE'))).toBe(true);
    expect(v6.some((l) => /10\.244\./.test(l))).toBe(false);
    const v4 = (await hosts[0].exec('iptables-save', [])).split('\n').filter((l) => l.includes('WEFT-'));
    expect(v4.some((l) => l.includes(String(ready.subnet)))).toBe(true);
    await stopClean(d);
    expect(await hosts[0].exec('ip6tables-save', [])).not.toContain('WEFT-');
    expect(await hosts[0].exec('iptables-save', [])).not.toContain('WEFT-');
  });

  it('stops with an error naming the interface and --public-ipv6 when there is no IPv6 address to advertise', async () => {
    const prefix = '/ds2/network';
    await etcd.etcdctl('put', `${prefix}/config`, DUAL);
    const d = startWeftd({ host: hosts[1], etcd, prefix, node: 'node2', dir });
    const exit = await d.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(logLines(d).find((l) => l.level === 60)?.msg).toMatch(/has EnableIPv6, but the underlay interface \S+ has no global IPv6 address to advertise as PublicIPv6; give it one, choose another with --iface, or set --public-ipv6$/);
    expect(await subnetKeys(prefix)).toEqual([]);
  });
});
