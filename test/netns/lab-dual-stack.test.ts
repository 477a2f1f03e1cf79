// A dual-stack lab (`dualStack`): two Flannel-style kernel nodes (the lab acting as flanneld with
// `flannel.1` and `flannel-v6.1`), leases that weft's codec reads as dual-stack, subnet.env with the
// IPv6 lines, pods with both families talking over IPv4 and IPv6 both ways; then a weft node joins
// and the kernel node routes to its IPv6 subnet over flannel-v6.1 (IPv6 traffic between weft and
// kernel nodes: lab-mixed-dual-stack.test.ts).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLeaseValue } from '../../daemon/control/lease/lease-codec.js';
import { formatCidr } from '../../daemon/net/ipv4.js';
import { formatCidr6 } from '../../daemon/net/ipv6.js';
import { parseLeaseKeyName } from '../../daemon/net/subnet-key.js';
import { Lab } from '../../lab/lab.js';
import { ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import { formatStatus } from '../../lab/report.js';
import type { PodRecord } from '../../lab/state.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const PREFIX = '/coreos.com/network';

describe('lab: dual-stack, two kernel VXLAN nodes', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}d-`, dualStack: true });
    await lab.addNode('kernel');
    await lab.addNode('kernel');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  /** Every subnet lease in etcd, decoded by weftd's own key and value codecs. */
  async function weftLeases(): Promise<Map<string, { subnet6: string | undefined; value: ReturnType<typeof decodeLeaseValue> }>> {
    const body = JSON.parse(await lab.etcdctl('get', '--prefix', `${PREFIX}/subnets/`, '-w', 'json')) as { kvs: { key: string; value: string }[] };
    const out = new Map<string, { subnet6: string | undefined; value: ReturnType<typeof decodeLeaseValue> }>();
    for (const kv of body.kvs) {
      const key = parseLeaseKeyName(Buffer.from(kv.key, 'base64').toString('utf8'));
      expect(key).not.toBeNull();
      out.set(formatCidr(key!.subnet), { subnet6: key!.subnet6 && formatCidr6(key!.subnet6), value: decodeLeaseValue(Buffer.from(kv.value, 'base64').toString('utf8')) });
    }
    return out;
  }

  it('puts EnableIPv6 and IPv6Network in the network config', async () => {
    expect(JSON.parse(await lab.etcdctl('get', `${PREFIX}/config`, '--print-value-only'))).toEqual({
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: 'fd00:10:244::/56',
      IPv6SubnetLen: 64,
      Backend: { Type: 'vxlan' },
    });
  });

  it('stores Flannel dual-stack leases that weft decodes as dual-stack, and subnet.env with the IPv6 lines', async () => {
    const node2 = lab.node('node2');
    const raw = await lab.etcdctl('get', `${PREFIX}/subnets/10.244.2.0-24&fd00:10:244:2::-64`, '--print-value-only');
    expect(raw.trim()).toBe(
      `{"PublicIP":"198.18.0.2","PublicIPv6":"fd00:198:18::2","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${node2.vtepMac}"},"BackendV6Data":{"VNI":1,"VtepMAC":"${node2.vtepMac6}"}}`,
    );
    const leases = await weftLeases();
    expect([...leases.keys()].sort()).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
    for (const [subnet, n] of [['10.244.1.0/24', lab.node('node1')], ['10.244.2.0/24', node2]] as const) {
      expect(leases.get(subnet)).toEqual({
        subnet6: n.subnet6,
        value: expect.objectContaining({ publicIp: n.underlayIp, vni: 1, vtepMac: n.vtepMac, v6: { publicIp: n.underlayIp6, vni: 1, vtepMac: n.vtepMac6 } }),
      });
    }
    expect(lab.node('node1').subnet6).toBe('fd00:10:244:1::/64');
    expect(readFileSync(lab.node('node1').subnetFile, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
  });

  it('configures flannel-v6.1 over the IPv6 underlay with a neighbour, FDB entry and onlink route per peer', async () => {
    const node2 = lab.node('node2');
    const ns = lab.node('node1').ns;
    const link = await lab.exec(ns, 'ip', ['-d', 'link', 'show', 'flannel-v6.1']);
    expect(link).toMatch(/mtu 1430 /);
    expect(link).toMatch(/vxlan id 1 local fd00:198:18::1 dev eth0 .*dstport 8472 nolearning/);
    expect(await lab.exec(ns, 'ip', ['-6', 'addr', 'show', 'dev', 'flannel-v6.1'])).toContain('inet6 fd00:10:244:1::/128');
    expect(await lab.exec(ns, 'ip', ['-6', 'neigh', 'show', 'dev', 'flannel-v6.1'])).toContain(`fd00:10:244:2:: lladdr ${node2.vtepMac6} PERMANENT`);
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel-v6.1'])).toContain(`${node2.vtepMac6} dst fd00:198:18::2 self permanent`);
    expect(await lab.exec(ns, 'ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).toContain('fd00:10:244:2::/64 via fd00:10:244:2:: metric 1024 onlink');
    // flannel.1 still carries IPv4, to the peer's IPv4 VtepMAC and PublicIP.
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).toContain(`${node2.vtepMac} dst 198.18.0.2 self permanent`);
  });

  it('pods get both families and ping each other over IPv4 and IPv6 both ways', async () => {
    expect([pod1.ip, pod1.ip6, pod2.ip, pod2.ip6]).toEqual(['10.244.1.2', 'fd00:10:244:1::2', '10.244.2.2', 'fd00:10:244:2::2']);
    // A fresh pod resolves its IPv6 gateway first; then every echo must come back.
    await waitReachable(pod1.ns, pod2.ip6!);
    await waitReachable(pod2.ns, pod1.ip6!);
    const got = [];
    for (const [from, to] of [[pod1, pod2.ip6!], [pod2, pod1.ip6!], [pod1, pod2.ip], [pod2, pod1.ip]] as const) {
      got.push((await ping(from.ns, to, { count: 3, intervalS: 0.05 })).received);
    }
    expect(got).toEqual([3, 3, 3, 3]);
  });

  it('pods exchange TCP over IPv6 and IPv4 both ways with every byte intact', async () => {
    for (const [from, to, ip] of [[pod1, pod2, pod2.ip6!], [pod2, pod1, pod1.ip6!], [pod1, pod2, pod2.ip], [pod2, pod1, pod1.ip]] as const) {
      await expect(tcpExchange(from.ns, to.ns, ip, 4 << 20), `${from.name} → ${ip}`).resolves.toMatchObject({ bytes: 4 << 20 });
    }
  });

  it('status shows the IPv6 underlay, subnets, routes and leases', async () => {
    const st = await lab.status();
    expect(st.nodes.find((n) => n.name === 'node1')?.peers).toEqual(['10.244.2.0/24', 'fd00:10:244:2::/64']);
    const text = formatStatus(st);
    expect(text).toMatch(/node1\s+kernel\s+198\.18\.0\.1 fd00:198:18::1\s+10\.244\.1\.0\/24 fd00:10:244:1::\/64\s+.*10\.244\.2\.0\/24 fd00:10:244:2::\/64/);
    expect(text).toMatch(new RegExp(`10\\.244\\.2\\.0/24\\s+198\\.18\\.0\\.2\\s+vxlan\\s+${lab.node('node2').vtepMac}\\s+fd00:10:244:2::/64\\s+fd00:198:18::2\\s+${lab.node('node2').vtepMac6}`));
    expect(text).toMatch(/node2-pod1\s+node2\s+10\.244\.2\.2 fd00:10:244:2::2/);
  });

  it('a weft node joining acquires a dual-stack lease that the kernel nodes route to over flannel-v6.1', async () => {
    const weft = await lab.addNode('weft');
    expect(weft.subnet6).toMatch(/^fd00:10:244:[0-9a-f]{1,2}::\/64$/);
    const lease = (await weftLeases()).get(weft.subnet!);
    expect(lease).toEqual({ subnet6: weft.subnet6, value: expect.objectContaining({ publicIp: '198.18.0.3', v6: expect.objectContaining({ publicIp: 'fd00:198:18::3', vni: 1 }) }) });
    const mac6 = (lease!.value as Exclude<ReturnType<typeof decodeLeaseValue>, string>).v6!.vtepMac!;
    const gw6 = weft.subnet6!.split('/')[0];
    const ns = lab.node('node1').ns;
    expect(await lab.exec(ns, 'ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1'])).toContain(`${weft.subnet6} via ${gw6} metric 1024 onlink`);
    expect(await lab.exec(ns, 'ip', ['-6', 'neigh', 'show', 'dev', 'flannel-v6.1'])).toContain(`${gw6} lladdr ${mac6} PERMANENT`);
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel-v6.1'])).toContain(`${mac6} dst fd00:198:18::3 self permanent`);
    // IPv4 to the weft node is carried as before.
    const pod3 = await lab.addPod(weft.name);
    await waitReachable(pod1.ns, pod3.ip);
    await expect(tcpExchange(pod1.ns, pod3.ns, pod3.ip, 1 << 20)).resolves.toMatchObject({ bytes: 1 << 20 });
  });
});
