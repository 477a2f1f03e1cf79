// The dual-stack lease against a real etcd, through EtcdLeaseStore and the lease keeper: one key
// `<prefix>/subnets/<v4>-<len>&<v6>-<len>` holding the value Flannel writes (plus weft's BackendData
// fields) under a TTL lease; a restart reuses both subnets; Flannel-written dual-stack and
// IPv6-only leases are read and their IPv6 subnets are never taken; a node with the previous
// IPv4-only lease keeps its IPv4 subnet when IPv6 is turned on. And subnet.env on disk.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../daemon/clock.js';
import type { EtcdHealth } from '../../daemon/control/etcd/etcd-health.js';
import { EtcdLeaseStore } from '../../daemon/control/lease/etcd-lease-store.js';
import { encodeLeaseValue, type OwnLeaseAttrs } from '../../daemon/control/lease/lease-codec.js';
import { LeaseKeeper } from '../../daemon/control/lease/lease-keeper.js';
import { parseNetworkConfig } from '../../daemon/control/lease/network-config.js';
import { readPreviousSubnet, writeSubnetFile } from '../../daemon/control/lease/subnet-file.js';
import { parseSubnet, type Subnet4 } from '../../daemon/net/ipv4.js';
import { formatCidr6, parseSubnet6, type Subnet6 } from '../../daemon/net/ipv6.js';
import { NO_SUBNET4 } from '../../daemon/net/subnet-key.js';
import { EtcdServer } from '../helpers/etcd.js';
import { connectEtcd, type EtcdConnection } from '../helpers/etcd-client.js';

const log = pino({ level: 'silent' });
const TTL_MS = 86_400_000;
const network = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
const MAC4 = '0a:00:00:00:00:01';
const MAC6 = '0a:00:00:00:06:01';
const self: OwnLeaseAttrs = { publicIp: '198.18.0.1', vni: 1, vtepMac: MAC4, gossipPort: 8473, nodeName: 'node1', v6: { publicIp: 'fd00:198:18::1', vtepMac: MAC6 } };
const s4 = (c: string): Subnet4 => parseSubnet(c)!;
const s6 = (c: string): Subnet6 => parseSubnet6(c)!;

let etcd: EtcdServer;
let client: Etcd3;
let health: EtcdHealth;
let connection: EtcdConnection | undefined;
const dir = mkdtempSync(join(tmpdir(), 'weft-dual-'));

beforeAll(async () => {
  etcd = await EtcdServer.start();
  ({ client, health } = connection = connectEtcd(etcd, log));
});

afterAll(async () => {
  connection?.close();
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

function keeper(prefix: string, o: { attrs?: OwnLeaseAttrs; previousSubnet?: Subnet4; previousSubnet6?: Subnet6 } = {}): LeaseKeeper {
  const store = new EtcdLeaseStore({ client, prefix, health, log });
  return new LeaseKeeper({ store, clock: realClock, log, network, attrs: o.attrs ?? self, ttlMs: TTL_MS, renewMarginMs: 3_600_000, previousSubnet: o.previousSubnet, previousSubnet6: o.previousSubnet6 });
}

async function keys(prefix: string): Promise<string[]> {
  return (await etcd.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).split('\n').filter(Boolean);
}

async function value(key: string): Promise<string> {
  return (await etcd.etcdctl('get', '--print-value-only', key)).replace(/\n$/, '');
}

describe('dual-stack lease in etcd', () => {
  it("writes one key naming both subnets, Flannel's value with weft's fields, under a 24 h etcd lease", async () => {
    const prefix = '/d1/network';
    const k = keeper(prefix);
    const held = await k.acquire();
    await k.close();
    expect(held.subnet6).toBeDefined();
    const key = `${prefix}/subnets/10.244.${(held.subnet.base >>> 8) & 255}.0-24&${formatCidr6(held.subnet6!).replace('/', '-')}`;
    expect(held.key).toBe(key);
    expect(await keys(prefix)).toEqual([key]);
    expect(await value(key)).toBe(
      `{"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${MAC4}","WeftGossipPort":8473,"WeftNodeName":"node1"},"BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`,
    );
    const lease = (await etcd.etcdctl('get', '-w', 'json', key)).match(/"lease":(\d+)/)?.[1];
    const ttl = JSON.parse(await etcd.etcdctl('lease', 'timetolive', '-w', 'json', BigInt(lease!).toString(16))) as { ttl: number };
    expect(ttl.ttl).toBeGreaterThan(86_000);
  });

  it('reuses both subnets after a restart (same key, replaced in place)', async () => {
    const prefix = '/d2/network';
    const first = keeper(prefix);
    const held = await first.acquire();
    await first.close();
    const again = keeper(prefix);
    const reheld = await again.acquire();
    await again.close();
    expect(reheld).toMatchObject({ subnet: held.subnet, subnet6: held.subnet6, key: held.key, how: 'reuse-public-ip' });
    expect(await keys(prefix)).toEqual([held.key]);
  });

  it("reads Flannel's dual-stack and IPv6-only leases and takes neither of their IPv6 subnets", async () => {
    const prefix = '/d3/network';
    await etcd.etcdctl('put', `${prefix}/subnets/10.244.7.0-24&fd00:10:244:7::-64`, `{"PublicIP":"198.18.0.7","PublicIPv6":"fd00:198:18::7","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0b"}}`);
    await etcd.etcdctl('put', `${prefix}/subnets/0.0.0.0-0&fd00:10:244:8::-64`, `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::8","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0c"}}`);
    const store = new EtcdLeaseStore({ client, prefix, health, log });
    const listing = await store.list();
    expect(listing.leases.map((l) => [l.subnet, l.subnet6, l.attrs.v6?.vtepMac])).toEqual([
      [NO_SUBNET4, s6('fd00:10:244:8::/64'), 'ce:7a:05:2e:91:0c'],
      [s4('10.244.7.0/24'), s6('fd00:10:244:7::/64'), 'ce:7a:05:2e:91:0b'],
    ]);
    expect(listing.skipped).toEqual([]);

    const k = keeper(prefix, { previousSubnet: s4('10.244.9.0/24'), previousSubnet6: s6('fd00:10:244:8::/64') });
    const held = await k.acquire();
    await k.close();
    expect(held.subnet).toEqual(s4('10.244.9.0/24'));
    expect([s6('fd00:10:244:7::/64'), s6('fd00:10:244:8::/64')]).not.toContainEqual(held.subnet6);
  });

  it('keeps the IPv4 subnet of our IPv4-only lease when IPv6 is turned on, under a new dual-stack key', async () => {
    const prefix = '/d4/network';
    const { v6: _v6, ...v4attrs } = self;
    await etcd.etcdctl('put', `${prefix}/subnets/10.244.3.0-24`, encodeLeaseValue(v4attrs));
    const file = join(dir, 'd4', 'subnet.env');
    await writeSubnetFile(file, { network: network.network, subnet: s4('10.244.3.0/24'), mtu: 1450, ipMasq: false });
    const previous = readPreviousSubnet(file);
    const k = keeper(prefix, { previousSubnet: previous.subnet, previousSubnet6: previous.subnet6 });
    const held = await k.acquire();
    await k.close();
    expect(held).toMatchObject({ subnet: s4('10.244.3.0/24'), how: 'previous-subnet' });
    expect(await keys(prefix)).toEqual([held.key]);

    await writeSubnetFile(file, { network: network.network, subnet: held.subnet, ipv6: { network: network.ipv6!.network, subnet: held.subnet6! }, mtu: 1450, ipMasq: false });
    expect(readFileSync(file, 'utf8')).toBe(`FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=${formatCidr6(held.subnet6!).replace('::/', '::1/')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
    expect(readPreviousSubnet(file)).toEqual({ subnet: held.subnet, network: network.network, subnet6: held.subnet6 });
  });

  it('reads an unusable FLANNEL_IPV6_SUBNET as absent, keeping the IPv4 subnet reusable', () => {
    const file = join(dir, 'bad6.env');
    writeFileSync(file, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_SUBNET=fd00::zz/64\n');
    expect(readPreviousSubnet(file)).toEqual({ subnet: s4('10.244.1.0/24'), network: s4('10.244.0.0/16') });
  });
});
