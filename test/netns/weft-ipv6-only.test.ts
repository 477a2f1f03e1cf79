// An IPv6-only network (EnableIPv4 false) carried by weft: two weftd nodes and one Flannel-style
// kernel node with flannel-v6.1 alone, on an IPv6 underlay alone, with real etcd, weftd and pods
// that have an IPv6 address only. Every pod pair pings and exchanges TCP both ways, 64 MiB between
// the weft nodes with the same SHA-256; the TUN has its IPv6 address and route and no IPv4; weft
// nodes know each other alive by gossip over IPv6, probing over UDP; a restarted weftd keeps its subnet and traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/lab.js';
import { ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import type { PodRecord } from '../../lab/state.js';
import { healthz } from '../../lab/weft-node.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

interface PeerState {
  readonly subnet: string;
  readonly state: string;
}

type PeerStatus = PeerState & { readonly publicIP: string; readonly packetsOut: number; readonly packetsIn: number };

async function statusPeers(lab: Lab, node: string): Promise<PeerStatus[]> {
  const body = await healthz(lab.node(node).ns, '/status');
  return (JSON.parse(body ?? '{}') as { peers?: PeerStatus[] }).peers ?? [];
}

async function peersOf(lab: Lab, node: string): Promise<PeerState[]> {
  return (await statusPeers(lab, node)).map(({ subnet, state }) => ({ subnet, state }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('IPv6-only network: two weft nodes and a Flannel kernel node (flannel-v6.1)', () => {
  let lab: Lab;
  let pods: PodRecord[];

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}6o-`, ipv6Only: true });
    await lab.addNode('weft');
    await lab.addNode('weft');
    await lab.addNode('kernel');
    pods = [await lab.addPod('node1'), await lab.addPod('node2'), await lab.addPod('node3')];
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  const pairs = (): [PodRecord, PodRecord][] => pods.flatMap((a) => pods.filter((b) => b !== a).map((b): [PodRecord, PodRecord] => [a, b]));

  it('gives the TUN its IPv6 subnet address and the IPv6 network route, and no IPv4', async () => {
    const node1 = lab.node('node1');
    expect(node1.subnet).toBeUndefined();
    expect(await lab.exec(node1.ns, 'ip', ['-4', 'addr', 'show', 'dev', 'weft0'])).toBe('');
    expect(await lab.exec(node1.ns, 'ip', ['-4', 'route', 'show', 'dev', 'weft0'])).toBe('');
    expect(await lab.exec(node1.ns, 'ip', ['-6', 'addr', 'show', 'dev', 'weft0'])).toContain(`inet6 ${node1.subnet6!.replace(/\/64$/, '')}/128`);
    expect(await lab.exec(node1.ns, 'ip', ['-6', 'route', 'show', 'dev', 'weft0'])).toContain('fd00:10:244::/56');
  });

  it('pings pod to pod over IPv6 between every pair, both ways', async () => {
    const got: string[] = [];
    for (const [from, to] of pairs()) {
      await waitReachable(from.ns, to.ip6!);
      got.push(`${from.name} → ${to.name}: ${(await ping(from.ns, to.ip6!, { count: 3, intervalS: 0.05 })).received}`);
    }
    expect(got).toEqual(pairs().map(([a, b]) => `${a.name} → ${b.name}: 3`));
  });

  it('carries TCP over IPv6 between every pair, both ways', async () => {
    for (const [from, to] of pairs()) {
      await expect(tcpExchange(from.ns, to.ns, to.ip6!, 4 << 20), `${from.name} → ${to.name}`).resolves.toMatchObject({ bytes: 4 << 20 });
    }
  });

  it('carries 64 MiB over IPv6 between the weft nodes both ways with the same SHA-256', async () => {
    const [a, b] = pods;
    await expect(tcpExchange(a.ns, b.ns, b.ip6!, 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
    await expect(tcpExchange(b.ns, a.ns, a.ip6!, 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
  });

  it('routes the peers by their IPv6 subnets: the weft peer alive by gossip, the kernel node by its lease', async () => {
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => lab.node(n).subnet6!);
    const want = (s: string, state: string): PeerState => ({ subnet: s, state });
    const sorted = (p: PeerState[]): PeerState[] => [...p].sort((x, y) => x.subnet.localeCompare(y.subnet));
    await until('node1 to see node2 alive', async () => ((await peersOf(lab, 'node1')).some((p) => p.subnet === n2 && p.state === 'alive') ? true : undefined));
    expect(sorted(await peersOf(lab, 'node1'))).toEqual(sorted([want(n2, 'alive'), want(n3, 'lease-only')]));
    await until('node2 to see node1 alive', async () => ((await peersOf(lab, 'node2')).some((p) => p.subnet === n1 && p.state === 'alive') ? true : undefined));
    // Probes between the weft nodes go over UDP on IPv6 once answered there (udp-probes.ts).
    for (const n of ['node1', 'node2']) {
      await until(`${n}'s probes acked over UDP`, async () => {
        const m = /^weft_gossip_udp_probes_total\{event="acked"\} (\d+)$/m.exec((await healthz(lab.node(n).ns, '/metrics')) ?? '');
        return m && Number(m[1]) >= 3 ? true : undefined;
      });
    }
    // Traffic is counted per peer under its IPv6 subnet and PublicIPv6.
    const seen = (await statusPeers(lab, 'node1')).map((p) => [p.subnet, p.publicIP, p.packetsOut > 0, p.packetsIn > 0]);
    expect(seen.sort()).toEqual([[n2, lab.node('node2').underlayIp6, true, true], [n3, lab.node('node3').underlayIp6, true, true]].sort());
  });

  it('keeps its IPv6 subnet and traffic across a weftd restart', async () => {
    const before = lab.node('node1').subnet6;
    await lab.stopWeftd('node1');
    await lab.startWeftd('node1');
    expect(lab.node('node1').subnet6).toBe(before);
    const [a, b, k] = pods;
    for (const [from, to] of [[a, b], [b, a], [a, k], [k, a]] as const) {
      await waitReachable(from.ns, to.ip6!);
      expect((await ping(from.ns, to.ip6!, { count: 3, intervalS: 0.05 })).received, `${from.name} → ${to.name}`).toBe(3);
    }
    await expect(tcpExchange(a.ns, b.ns, b.ip6!, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    await expect(tcpExchange(k.ns, a.ns, a.ip6!, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
  });
});
