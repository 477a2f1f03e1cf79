// weftd with an IPv6-only network config (EnableIPv4 false) against a real etcd, as a real process
// in its own host namespace: it acquires Flannel's IPv6-only lease (key `0.0.0.0-0&<v6>-<len>`,
// PublicIP 0.0.0.0, PublicIPv6 from --public-ipv6, BackendV6Data; weft's fields alone in
// BackendData), writes Flannel's IPv6-only subnet.env and becomes ready (its data plane on the IPv6
// underlay alone), and stops cleanly. A restart reuses the lease by PublicIPv6; a second node, and a
// Flannel IPv6-only lease already in etcd (every one has PublicIP 0.0.0.0), keep theirs. --ip-masq
// installs the ip6tables rules alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { logLines, startWeftd, waitForLog, type Weftd } from '../helpers/weftd.js';

const V6_ONLY = '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}';
const FLANNEL_MAC = 'ce:7a:05:2e:91:0b';
const FLANNEL_V6_ONLY = `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::9","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${FLANNEL_MAC}"}}`;

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];

useTestbed(
  'v6only',
  async (bed) => {
    ({ etcd, dir } = bed);
    for (let i = 1; i <= 2; i++) hosts.push(await bed.underlay.addHost(`o${i}`, `198.18.0.${i}`));
  },
  { killDaemonsAfterEach: true },
);

async function subnetKeys(prefix: string): Promise<string[]> {
  return (await etcd.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).split('\n').filter(Boolean);
}

async function valueOf(key: string): Promise<string> {
  return (await etcd.etcdctl('get', '--print-value-only', key)).trim();
}

/** Runs weftd until it is ready on its IPv6 subnet, then stops it cleanly; returns its log. */
async function runUntilReady(d: Weftd): Promise<ReturnType<typeof logLines>> {
  const ready = await waitForLog(d, /^ready$/);
  expect(ready.subnet).toMatch(/^fd00:10:244:[0-9a-f]+::\/64$/);
  expect(await d.stop('SIGTERM', 5_000)).toEqual({ code: 0, signal: null });
  return logLines(d);
}

describe('weftd, IPv6-only network config', () => {
  it("leases Flannel's IPv6-only key and value, writes Flannel's IPv6-only subnet.env, becomes ready, keeps both across a restart", async () => {
    const prefix = '/v6o1/network';
    await etcd.etcdctl('put', `${prefix}/config`, V6_ONLY);
    await etcd.etcdctl('put', `${prefix}/subnets/0.0.0.0-0&fd00:10:244:9::-64`, FLANNEL_V6_ONLY);
    const opts = { host: hosts[0], etcd, prefix, node: 'node1', dir, extra: ['--public-ipv6', 'fd00:198:18::1'] };
    let lines = await runUntilReady(startWeftd(opts));

    const keys = (await subnetKeys(prefix)).filter((k) => !k.endsWith('&fd00:10:244:9::-64'));
    expect(keys).toHaveLength(1);
    const [key] = keys;
    const m = /^\/v6o1\/network\/subnets\/0\.0\.0\.0-0&(fd00:10:244:[0-9a-f]+::)-64$/.exec(key);
    expect(m, key).not.toBeNull();
    const value = await valueOf(key);
    const mac6 = /"BackendV6Data":\{"VNI":1,"VtepMAC":"([0-9a-f:]{17})"\}\}$/.exec(value)?.[1];
    expect(value).toMatch(/^\{"PublicIP":"0\.0\.0\.0","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":\{"WeftGossipPort":8473,"WeftNodeName":"node1"(,"WeftCsumElision":true)?\},"BackendV6Data":\{"VNI":1,"VtepMAC":"[0-9a-f:]{17}"\}\}$/);
    // Without weft's BackendData, the bytes Flannel writes for these inputs.
    expect(value.replace(/"BackendData":\{[^}]*\},/, '')).toBe(`{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${mac6}"}}`);
    expect(readFileSync(`${dir}/node1/subnet.env`, 'utf8')).toBe(`FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=${m![1]}1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
    expect(lines.find((l) => l.msg === 'lease acquired')).toMatchObject({ how: 'random', subnet6: `${m![1]}/64` });
    expect(lines.find((l) => l.msg === 'lease acquired')?.subnet).toBeUndefined();
    expect(await valueOf(`${prefix}/subnets/0.0.0.0-0&fd00:10:244:9::-64`)).toBe(FLANNEL_V6_ONLY);

    lines = await runUntilReady(startWeftd(opts));
    expect(lines.find((l) => l.msg === 'lease acquired')).toMatchObject({ how: 'reuse-public-ip', subnet6: `${m![1]}/64`, key });
    expect(await valueOf(key)).toBe(value);

    // A second node at another PublicIPv6 (PublicIP 0.0.0.0 like every IPv6-only lease) gets its own.
    const lines2 = await runUntilReady(startWeftd({ ...opts, host: hosts[1], node: 'node2', extra: ['--public-ipv6', 'fd00:198:18::2'] }));
    const key2 = lines2.find((l) => l.msg === 'lease acquired')?.key;
    expect(key2).toMatch(/^\/v6o1\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:[0-9a-f]+::-64$/);
    expect((await subnetKeys(prefix)).sort()).toEqual([key, key2, `${prefix}/subnets/0.0.0.0-0&fd00:10:244:9::-64`].sort());
    expect(await valueOf(key)).toBe(value);
  });

  it('with --ip-masq, installs the ip6tables rules for its IPv6 subnet alone (none in iptables), and removes them on stop', async () => {
    const prefix = '/v6o2/network';
    await etcd.etcdctl('put', `${prefix}/config`, V6_ONLY);
    const d = startWeftd({ host: hosts[0], etcd, prefix, node: 'node1', dir, extra: ['--public-ipv6', 'fd00:198:18::1', '--ip-masq'] });
    const ready = await waitForLog(d, /^ready$/);
    const v6 = (await hosts[0].exec('ip6tables-save', [])).split('\n').filter((l) => l.includes('WEFT-'));
    expect(v6.some((l) => l.includes('-A WEFT-POSTRTG') && l.includes(String(ready.subnet)) && l.includes('fd00:10:244::/56'))).toBe(true);
    expect(v6.some((l) => l.includes('MASQUERADE'))).toBe(true);
    expect(await hosts[0].exec('iptables-save', [])).not.toContain('WEFT-');
    expect(await d.stop('SIGTERM', 5_000)).toEqual({ code: 0, signal: null });
    expect(await hosts[0].exec('ip6tables-save', [])).not.toContain('WEFT-');
  });
});
