// weftd with an IPv6-only network config (EnableIPv4 false) against a real etcd, as a real process
// in its own host namespace: it acquires Flannel's IPv6-only lease (key `0.0.0.0-0&<v6>-<len>`,
// PublicIP 0.0.0.0, PublicIPv6 from --public-ipv6, BackendV6Data; weft's fields alone in
// BackendData), writes Flannel's IPv6-only subnet.env, then stops with an error naming what its
// data plane lacks. A restart reuses the lease by PublicIPv6; a second node, and a Flannel IPv6-only
// lease already in etcd (every one has PublicIP 0.0.0.0), keep theirs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { logLines, startWeftd, type Weftd } from '../helpers/weftd.js';

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

/** Runs weftd until it stops on the IPv6-only refusal; returns its log. */
async function runUntilRefused(d: Weftd): Promise<ReturnType<typeof logLines>> {
  expect(await d.exited).toMatchObject({ code: 1 });
  const lines = logLines(d);
  expect(lines.filter((l) => l.code === 'WEFT_ERR_NETWORK_CONFIG_INVALID').map((l) => l.msg)).toEqual([
    expect.stringMatching(/is IPv6-only \(EnableIPv4 false\): this weftd holds its IPv6 lease and wrote .*subnet\.env, but its data plane cannot carry an IPv6-only network yet/),
  ]);
  return lines;
}

describe('weftd, IPv6-only network config', () => {
  it("leases Flannel's IPv6-only key and value, writes Flannel's IPv6-only subnet.env, keeps both across a restart, then says what its data plane lacks", async () => {
    const prefix = '/v6o1/network';
    await etcd.etcdctl('put', `${prefix}/config`, V6_ONLY);
    await etcd.etcdctl('put', `${prefix}/subnets/0.0.0.0-0&fd00:10:244:9::-64`, FLANNEL_V6_ONLY);
    const opts = { host: hosts[0], etcd, prefix, node: 'node1', dir, extra: ['--public-ipv6', 'fd00:198:18::1'] };
    let lines = await runUntilRefused(startWeftd(opts));

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

    lines = await runUntilRefused(startWeftd(opts));
    expect(lines.find((l) => l.msg === 'lease acquired')).toMatchObject({ how: 'reuse-public-ip', subnet6: `${m![1]}/64`, key });
    expect(await valueOf(key)).toBe(value);

    // A second node at another PublicIPv6 (PublicIP 0.0.0.0 like every IPv6-only lease) gets its own.
    const lines2 = await runUntilRefused(startWeftd({ ...opts, host: hosts[1], node: 'node2', extra: ['--public-ipv6', 'fd00:198:18::2'] }));
    const key2 = lines2.find((l) => l.msg === 'lease acquired')?.key;
    expect(key2).toMatch(/^\/v6o1\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:[0-9a-f]+::-64$/);
    expect((await subnetKeys(prefix)).sort()).toEqual([key, key2, `${prefix}/subnets/0.0.0.0-0&fd00:10:244:9::-64`].sort());
    expect(await valueOf(key)).toBe(value);
  });
});
