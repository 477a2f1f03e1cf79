// An IPv6-only lab (`ipv6Only`): EnableIPv4 false, an IPv6 underlay alone (etcd included), two
// Flannel-style kernel nodes with `flannel-v6.1` alone, Flannel's IPv6-only leases and subnet.env,
// pods with an IPv6 address only, talking ping and TCP both ways.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLeaseValue } from '../../daemon/control/lease/lease-codec.js';
import { formatCidr6 } from '../../daemon/net/ipv6.js';
import { isNoSubnet4, parseLeaseKeyName } from '../../daemon/net/subnet-key.js';
import { Lab } from '../../lab/lab.js';
import { listNetns } from '../../lab/netns.js';
import { DIST } from '../../lab/paths.js';
import { run } from '../../lab/processes.js';
import { addressOf, ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import { formatStatus } from '../../lab/report.js';
import type { PodRecord } from '../../lab/state.js';
import { labWithPods } from '../helpers/lab-traffic.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const PREFIX = '/coreos.com/network';

describe('lab: IPv6-only, two kernel VXLAN nodes', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    ({ lab, pods: [pod1, pod2] } = await labWithPods({ prefix: `${ownPrefix()}6-`, ipv6Only: true }, ['kernel', 'kernel']));
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('puts EnableIPv4 false and the IPv6 network in the config, and serves etcd on the IPv6 underlay', async () => {
    expect(JSON.parse(await lab.etcdctl('get', `${PREFIX}/config`, '--print-value-only'))).toEqual({
      EnableIPv4: false,
      EnableIPv6: true,
      IPv6Network: 'fd00:10:244::/56',
      IPv6SubnetLen: 64,
      Backend: { Type: 'vxlan' },
    });
    expect(lab.state.etcdEndpoint).toBe('http://[fd00:198:18::fe]:2379');
    const node1 = lab.node('node1').ns;
    expect(await lab.exec(node1, 'curl', ['-sf', '--max-time', '2', `${lab.state.etcdEndpoint}/health`])).toContain('"health":"true"');
  });

  it('stores Flannel IPv6-only leases (key 0.0.0.0-0&…, PublicIP 0.0.0.0, BackendV6Data alone) that weft decodes, and subnet.env without IPv4 lines', async () => {
    const node2 = lab.node('node2');
    expect([node2.underlayIp, node2.underlayIp6, node2.subnet, node2.subnet6]).toEqual(['fd00:198:18::2', 'fd00:198:18::2', undefined, 'fd00:10:244:2::/64']);
    const raw = await lab.etcdctl('get', `${PREFIX}/subnets/0.0.0.0-0&fd00:10:244:2::-64`, '--print-value-only');
    expect(raw.trim()).toBe(`{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::2","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${node2.vtepMac6}"}}`);
    const body = JSON.parse(await lab.etcdctl('get', '--prefix', `${PREFIX}/subnets/`, '-w', 'json')) as { kvs: { key: string; value: string }[] };
    const decoded = body.kvs.map((kv) => {
      const key = parseLeaseKeyName(Buffer.from(kv.key, 'base64').toString('utf8'));
      return { noSubnet4: key !== null && isNoSubnet4(key.subnet), subnet6: key?.subnet6 && formatCidr6(key.subnet6), value: decodeLeaseValue(Buffer.from(kv.value, 'base64').toString('utf8')) };
    });
    expect(decoded).toEqual(
      [lab.node('node1'), node2].map((n) => ({
        noSubnet4: true,
        subnet6: n.subnet6,
        value: expect.objectContaining({ publicIp: '0.0.0.0', vtepMac: undefined, v6: { publicIp: n.underlayIp6, vni: 1, vtepMac: n.vtepMac6 } }),
      })),
    );
    expect(readFileSync(lab.node('node1').subnetFile, 'utf8')).toBe('FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    expect((await lab.leases()).map((l) => [l.subnet, l.subnet6])).toEqual([[undefined, 'fd00:10:244:1::/64'], [undefined, 'fd00:10:244:2::/64']]);
  });

  it('has no IPv4 on the nodes: flannel-v6.1 alone, routing to the peer over the IPv6 underlay', async () => {
    const ns = lab.node('node1').ns;
    const node2 = lab.node('node2');
    expect(await lab.exec(ns, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0'])).toBe('');
    expect(await lab.exec(ns, 'ip', ['-br', 'link', 'show'])).not.toMatch(/^flannel\.1 /m);
    expect(await lab.exec(ns, 'ip', ['-d', 'link', 'show', 'flannel-v6.1'])).toMatch(/vxlan id 1 local fd00:198:18::1 dev eth0 .*dstport 8472 nolearning/);
    expect(await lab.exec(ns, 'ip', ['-6', 'addr', 'show', 'dev', 'flannel-v6.1'])).toContain('inet6 fd00:10:244:1::/128');
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel-v6.1'])).toContain(`${node2.vtepMac6} dst fd00:198:18::2 self permanent`);
    expect(await lab.exec(ns, 'ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).toContain('fd00:10:244:2::/64 via fd00:10:244:2:: metric 1024 onlink');
  });

  it('pods have an IPv6 address only and reach each other by ping and TCP both ways', async () => {
    expect([pod1.ip, pod1.ip6, pod2.ip, pod2.ip6]).toEqual(['fd00:10:244:1::2', 'fd00:10:244:1::2', 'fd00:10:244:2::2', 'fd00:10:244:2::2']);
    expect(await lab.exec(pod1.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0'])).toBe('');
    expect(() => addressOf(pod1, 4)).toThrow(/has no IPv4 address/);
    for (const [from, to] of [[pod1, pod2], [pod2, pod1]] as const) {
      await waitReachable(from.ns, addressOf(to, 6));
      expect((await ping(from.ns, addressOf(to, 6), { count: 3, intervalS: 0.05 })).received, `${from.name} → ${to.name}`).toBe(3);
      await expect(tcpExchange(from.ns, to.ns, addressOf(to, 6), 4 << 20), `${from.name} → ${to.name}`).resolves.toMatchObject({ bytes: 4 << 20 });
    }
  });

  it('status shows the IPv6 underlay, subnets, routes and leases alone', async () => {
    const st = await lab.status();
    expect(st.etcd.healthy).toBe(true);
    expect(st.nodes.find((n) => n.name === 'node1')?.peers).toEqual(['fd00:10:244:2::/64']);
    const text = formatStatus(st);
    expect(text).toMatch(/node1\s+kernel\s+fd00:198:18::1\s+fd00:10:244:1::\/64\s+.*fd00:10:244:2::\/64/);
    expect(text).toMatch(new RegExp(`\\nvxlan\\s+fd00:10:244:2::/64\\s+fd00:198:18::2\\s+${lab.node('node2').vtepMac6}`));
    expect(text).not.toMatch(/198\.18\.|10\.244\./);
  });

  it('refuses a lab both dual-stack and IPv6-only, in the library and the CLI, before creating anything', async () => {
    const prefix = `${ownPrefix()}6x-`;
    await expect(Lab.create({ prefix, dualStack: true, ipv6Only: true })).rejects.toThrow('a lab is dual-stack or IPv6-only, not both: drop one of the two options');
    await expect(run(process.execPath, [join(DIST, 'lab', 'cli.js'), 'up', '1', '--dual-stack', '--ipv6-only', '--prefix', prefix])).rejects.toThrow(/failed \(2\):\n--dual-stack and --ipv6-only exclude each other/);
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
  });
});
