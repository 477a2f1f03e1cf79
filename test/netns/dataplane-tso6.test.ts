// TCP over IPv6 between two weft data planes in namespaces (test/fixtures/dataplane/node.ts, static
// dual-stack routes, IPv6 carried over the IPv4 underlay) with TUN offloads: the kernel hands weft
// TSO6 super-packets that the engine cuts, and the receiver coalesces the segments into TCPV6 GSO
// writes; the stream's SHA-256 is intact both ways, with checksum elision on and off, and with the
// offloads off no super-packet is seen. No etcd at this level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vethPair, type Netns } from '../../lab/netns.js';
import { tcpExchange } from '../../lab/probe.js';
import type { TrackedChild } from '../../lab/processes.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const FIXTURES = 'dist/test/fixtures/dataplane';
const MTU = 1450;

interface NodeSpec {
  ip: string;
  n: number; // subnets 10.244.<n>.0/24 and fd00:10:244:<n>::/64
  mac: string;
  mac6: string;
}
const A: NodeSpec = { ip: '198.18.0.1', n: 1, mac: '0e:00:00:00:00:01', mac6: '0e:00:00:00:06:01' };
const B: NodeSpec = { ip: '198.18.0.2', n: 2, mac: '0e:00:00:00:00:02', mac6: '0e:00:00:00:06:02' };
const pod6 = (s: NodeSpec): string => `fd00:10:244:${s.n}::2`;

interface Stats {
  drops: Record<string, number>;
  totals: Record<string, number>;
  io: Record<string, number>;
}

describe.each([
  { tun: true, elision: true },
  { tun: true, elision: false },
  { tun: false, elision: false },
] as const)('TCP over IPv6 between weft data planes (TUN offloads $tun, checksum elision $elision)', (config) => {
  let underlay: Netns;
  const nodes = new Map<NodeSpec, Netns>();
  const pods = new Map<NodeSpec, Netns>();
  const daemons = new Map<NodeSpec, TrackedChild>();

  async function addNode(spec: NodeSpec, label: string): Promise<void> {
    const ns = await enableIpv6(await createNetns(label));
    await vethPair(underlay, `u${spec.n}`, ns, 'eth0');
    await underlay.ip('link', 'set', `u${spec.n}`, 'master', 'br0', 'up');
    await ns.ip('addr', 'add', `${spec.ip}/24`, 'dev', 'eth0');
    await ns.ip('link', 'set', 'eth0', 'up');
    await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    await ns.ip('link', 'add', 'cni0', 'type', 'bridge');
    await ns.ip('addr', 'add', `10.244.${spec.n}.1/24`, 'dev', 'cni0');
    await ns.ip('-6', 'addr', 'add', `fd00:10:244:${spec.n}::1/64`, 'dev', 'cni0', 'nodad');
    await ns.ip('link', 'set', 'cni0', 'up');
    const pod = await enableIpv6(await createNetns(`${label}p`));
    await vethPair(ns, 'vp2', pod, 'eth0');
    await ns.ip('link', 'set', 'vp2', 'mtu', String(MTU), 'master', 'cni0', 'up');
    await pod.ip('link', 'set', 'eth0', 'mtu', String(MTU), 'up');
    await pod.ip('addr', 'add', `10.244.${spec.n}.2/24`, 'dev', 'eth0');
    await pod.ip('-6', 'addr', 'add', `${pod6(spec)}/64`, 'dev', 'eth0', 'nodad');
    await pod.ip('route', 'add', 'default', 'via', `10.244.${spec.n}.1`);
    await pod.ip('-6', 'route', 'add', 'default', 'via', `fd00:10:244:${spec.n}::1`);
    nodes.set(spec, ns);
    pods.set(spec, pod);
  }

  /** The data plane of `spec` with `peer` routed in both families; the TUN gets its IPv6 address and the IPv6 Network route as weftd's reconcile gives them. */
  async function startWeft(spec: NodeSpec, peer: NodeSpec): Promise<void> {
    const args = {
      options: {
        udpOffloads: true,
        tunOffloads: config.tun,
        csumElision: config.elision,
        tunMtu: MTU,
        network: '10.244.0.0/16',
        subnetLen: 24,
        localSubnet: `10.244.${spec.n}.0/24`,
        network6: 'fd00:10:244::/56',
        subnetLen6: 64,
        localSubnet6: `fd00:10:244:${spec.n}::/64`,
        localIp: spec.ip,
        localVtepMac: spec.mac,
        localVtepMac6: spec.mac6,
      },
      peers: [
        { subnet: `10.244.${peer.n}.0/24`, publicIp: peer.ip, vtepMac: peer.mac, weft: true, csumElision: config.elision, subnet6: `fd00:10:244:${peer.n}::/64`, vtepMac6: peer.mac6 },
      ],
    };
    const ns = nodes.get(spec)!;
    const child = ns.spawn(process.execPath, [`${FIXTURES}/node.js`, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
    daemons.set(spec, child);
    await child.waitForOutput(/READY weft0/);
    await ns.ip('-6', 'addr', 'add', `fd00:10:244:${spec.n}::/128`, 'dev', 'weft0', 'nodad');
    await ns.ip('-6', 'route', 'add', 'fd00:10:244::/56', 'dev', 'weft0');
  }

  async function stats(spec: NodeSpec): Promise<Stats> {
    const child = daemons.get(spec)!;
    const from = child.output().length;
    child.proc.stdin!.write('stats\n');
    for (let i = 0; i < 500; i++) {
      const m = child.output().slice(from).match(/STATS (.*)\n/);
      if (m) return JSON.parse(m[1]) as Stats;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no stats from node:\n${child.output()}`);
  }

  beforeAll(async () => {
    requireRoot();
    underlay = await createNetns('ul');
    await underlay.ip('link', 'add', 'br0', 'type', 'bridge');
    await underlay.ip('link', 'set', 'br0', 'up');
    await addNode(A, 'a');
    await addNode(B, 'b');
    await Promise.all([startWeft(A, B), startWeft(B, A)]);
  });

  afterAll(async () => {
    await Promise.all([...daemons.values()].map((d) => d.stop()));
    for (const ns of [...pods.values(), ...nodes.values(), underlay]) await ns?.destroy();
  });

  it('carries 64 MiB over IPv6 pod to pod with the same SHA-256, and 8 MiB back: TSO6 super-packets cut by the engine and coalesced TCPV6 runs exactly when TUN offloads are on', async () => {
    const before = [await stats(A), await stats(B)];
    // tcpExchange fails unless the receiver's SHA-256 of the stream is the sender's.
    await expect(tcpExchange(pods.get(A)!.name, pods.get(B)!.name, pod6(B), 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
    await expect(tcpExchange(pods.get(B)!.name, pods.get(A)!.name, pod6(A), 8 << 20)).resolves.toMatchObject({ bytes: 8 << 20 });
    const [a, b] = [await stats(A), await stats(B)];
    const moved = (now: Stats, was: Stats, key: string): number => now.totals[key] - was.totals[key];
    expect(moved(a, before[0], 'superPackets') > 0).toBe(config.tun);
    expect(moved(b, before[1], 'superPackets') > 0).toBe(config.tun);
    expect(moved(b, before[1], 'coalescedRuns') > 0).toBe(config.tun);
    expect(moved(a, before[0], 'elidedSent') > 0).toBe(config.elision);
    expect(moved(b, before[1], 'elidedReceived') > 0).toBe(config.elision);
    for (const s of [a, b]) {
      expect(s.io.udpSendErrors).toBe(0);
      expect([s.drops.badSuperPacket, s.drops.badL4Checksum, s.drops.malformedInner, s.drops.badElision, s.drops.ipv6NoPath]).toEqual([0, 0, 0, 0, 0]);
    }
  });
});
