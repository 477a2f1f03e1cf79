// IPv6 pod traffic between two dual-stack weft nodes (real etcd, two real weftd, pods wired by
// weft-cni), carried over the IPv4 underlay: ping and TCP over IPv6 both ways, 64 MiB with the
// same SHA-256, IPv4 alongside; ICMPv6 no route and Packet Too Big at the exact MTU; forged inner
// IPv6 (spoofed source, wrong v6 VTEP MAC) counted and never delivered; and a quiet TUN (no router
// solicitation or MLD counted as a drop while idle, also after a restart on the persisted TUN);
// IPv6 towards a Flannel node carried over the IPv6 underlay beside it (flannel-v6-interop.test.ts
// tests that path in full).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/lab.js';
import { Netns } from '../../lab/netns.js';
import { ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import type { NodeRecord, PodRecord } from '../../lab/state.js';
import { HEALTHZ_PORT } from '../../lab/weft-node.js';
import { metricValue, waitForMetric } from '../helpers/metrics.js';
import { ownPrefix } from '../helpers/netns.js';
import { setPodMtu } from '../helpers/pod-mtu.js';
import { requireRoot } from '../helpers/root.js';
import { DROP_NAMES } from '../../daemon/dataplane/counters.js';

const FIXTURES = 'dist/test/fixtures/dataplane';
const MTU = 1450;

describe('IPv6 between dual-stack weft nodes over the IPv4 underlay', () => {
  let lab: Lab;
  let n1: NodeRecord;
  let n2: NodeRecord;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}v6-`, dualStack: true });
    n1 = await lab.addNode('weft');
    n2 = await lab.addNode('weft');
    pod1 = await lab.addPod(n1.name);
    pod2 = await lab.addPod(n2.name);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  async function metrics(node: NodeRecord): Promise<string> {
    return lab.exec(node.ns, 'curl', ['-s', '-m', '5', `http://127.0.0.1:${HEALTHZ_PORT}/metrics`]);
  }

  async function drops(node: NodeRecord): Promise<Record<string, number>> {
    const text = await metrics(node);
    return Object.fromEntries(
      DROP_NAMES.map((r) => {
        const v = metricValue(text, 'weft_drops_total', { reason: r.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) });
        if (v === undefined) throw new Error(`no weft_drops_total for ${r} on ${node.name}`);
        return [r, v];
      }),
    );
  }

  /** Waits until the node's drop counters (posted by the data plane thread every 500 ms while packets flow) satisfy `holds`. */
  async function waitForDrops(node: NodeRecord, holds: (d: Record<string, number>) => boolean): Promise<Record<string, number>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const d = await drops(node);
      if (holds(d)) return d;
      if (Date.now() > deadline) throw new Error(`drops of ${node.name} never held: ${JSON.stringify(d)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Packets the kernel sent into the TUN (TX of weft0 as `ip -s` counts it). */
  async function tunTxPackets(node: NodeRecord): Promise<number> {
    const j = JSON.parse(await lab.exec(node.ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', 'weft0'])) as { stats64: { tx: { packets: number } } }[];
    return j[0].stats64.tx.packets;
  }

  it('gives the TUN the IPv6 subnet address /128 and the IPv6 Network route, with the same MTU for IPv6, and stays quiet while idle', async () => {
    const addrs = await lab.exec(n1.ns, 'ip', ['-6', 'addr', 'show', 'dev', 'weft0']);
    expect(addrs).toContain(`inet6 ${n1.subnet6!.split('/')[0]}/128`);
    expect(addrs).not.toMatch(/scope link/);
    expect(await lab.exec(n1.ns, 'ip', ['-6', 'route', 'show', 'fd00:10:244::/56'])).toMatch(/fd00:10:244::\/56 dev weft0/);
    expect((await lab.exec(n1.ns, 'cat', ['/proc/sys/net/ipv6/conf/weft0/mtu'])).trim()).toBe(String(MTU));
    // Router solicitations go out within a second or so of the link coming up, MLD reports at once:
    // the kernel sends nothing into the TUN while no pod talks, so nothing can be counted as a drop.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const n of [n1, n2]) {
      expect(await tunTxPackets(n)).toBe(0);
      expect(Object.entries(await drops(n)).filter(([, v]) => v > 0)).toEqual([]);
    }
  });

  it('pings pod to pod over IPv6 both ways, and over IPv4 in the same lab', async () => {
    await waitReachable(pod1.ns, pod2.ip6!);
    await waitReachable(pod2.ns, pod1.ip6!);
    const got = [];
    for (const [from, to] of [[pod1, pod2.ip6!], [pod2, pod1.ip6!], [pod1, pod2.ip], [pod2, pod1.ip]] as const) {
      got.push((await ping(from.ns, to, { count: 3, intervalS: 0.05 })).received);
    }
    expect(got).toEqual([3, 3, 3, 3]);
  });

  it('carries TCP over IPv6 both ways, 64 MiB with the same SHA-256, and TCP over IPv4 alongside', async () => {
    const out = async (): Promise<number> => metricValue(await metrics(n1), 'weft_packets_total', { direction: 'out' }) ?? 0;
    const before = await out();
    await expect(tcpExchange(pod1.ns, pod2.ns, pod2.ip6!, 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
    await expect(tcpExchange(pod2.ns, pod1.ns, pod1.ip6!, 8 << 20)).resolves.toMatchObject({ bytes: 8 << 20 });
    await expect(tcpExchange(pod1.ns, pod2.ns, pod2.ip, 8 << 20)).resolves.toMatchObject({ bytes: 8 << 20 });
    // Through weft's data plane: at least one datagram per MTU of the 64 MiB (the data plane thread
    // posts its counters every 500 ms, so the last of the traffic shows up to 500 ms later).
    await waitForMetric(() => metrics(n1), 'weft_packets_total', { direction: 'out' }, (v) => (v ?? 0) - before > (64 << 20) / MTU);
    const d = [await drops(n1), await drops(n2)];
    expect(d.map((x) => x.badL4Checksum + x.malformedInner + x.badElision + x.ipv6NoPath)).toEqual([0, 0]);
  });

  it('answers an IPv6 destination without a lease with ICMPv6 no route', async () => {
    const r = await ping(pod1.ns, 'fd00:10:244:ff::9', { count: 1 });
    expect(r.received).toBe(0);
    expect(r.output).toMatch(/From fd00:10:244:ff::9.*Destination unreachable: No route/);
    await waitForDrops(n1, (d) => d.noRoute > 0);
  });

  it('passes an IPv6 packet of exactly the TUN MTU and answers one byte more with Packet Too Big', async () => {
    const jumbo = await lab.addPod(n1.name);
    await setPodMtu(lab, jumbo, n1, 1500);
    await waitReachable(jumbo.ns, pod2.ip6!);
    // 1402 bytes of ICMPv6 payload + 8 + 40 = 1450.
    expect((await ping(jumbo.ns, pod2.ip6!, { count: 2, size: MTU - 48, dontFragment: true })).received).toBe(2);
    const r = await ping(jumbo.ns, pod2.ip6!, { count: 1, size: MTU - 47, dontFragment: true });
    expect(r.received).toBe(0);
    expect(r.output).toMatch(new RegExp(`Packet too big: mtu=${MTU}`));
  });

  it('counts forged and garbage inner IPv6 from a peer (spoofed source, foreign destination, wrong IPv6 VTEP MAC, not IPv6) and never delivers it', async () => {
    const mac6 = await vtepMac6(n2);
    const listener = new Netns(pod2.ns).spawn(process.execPath, ['-e', "const s=require('node:dgram').createSocket('udp6');let n=0;s.on('message',()=>console.log('GOT '+(++n)));s.bind(7777,()=>console.log('LISTENING'))"]);
    try {
      await listener.waitForOutput(/LISTENING/);
      const send = async (mac: string, src: string, count: number, dst = pod2.ip6!, kind = 'inner6'): Promise<void> => {
        const c = new Netns(n1.ns).spawn(process.execPath, [`${FIXTURES}/send-udp.js`, n2.underlayIp, '8472', kind, String(count), mac, src, dst, '7777']);
        await c.waitForOutput(new RegExp(`SENT ${count}`));
        await c.exited;
      };
      // The forger's own frame (its subnet, our MAC) is delivered: the listener works.
      await send(mac6, pod1.ip6!, 1);
      await listener.waitForOutput(/GOT 1/);
      const before = await drops(n2);
      await send(mac6, 'fd00:10:244:ee::5', 50); // a source outside the sender's IPv6 subnet
      await send(mac6, pod1.ip6!.replace(/::2$/, '::7'), 50, 'fd00:10:244:ee::1'); // to a destination outside the receiver's subnet
      await send('02:00:00:00:00:01', pod1.ip6!, 50); // not our IPv6 VTEP MAC
      await send(mac6, pod1.ip6!, 50, pod2.ip6!, 'garbage6'); // not IPv6 behind 0x86DD
      const delta = (d: Record<string, number>): number[] => ['spoofedSource', 'notForUs', 'wrongDstMac', 'malformedInner'].map((k) => d[k] - before[k]);
      const after = await waitForDrops(n2, (d) => delta(d).every((n) => n >= 50));
      expect(delta(after)).toEqual([50, 50, 50, 50]);
      expect((await ping(pod1.ns, pod2.ip6!, { count: 3, intervalS: 0.05 })).received).toBe(3);
      expect(listener.output()).not.toMatch(/GOT 2/);
    } finally {
      await listener.stop();
    }
  });

  it('keeps carrying IPv6 after weftd restarts on its persisted TUN, still quiet', async () => {
    await lab.stopWeftd(n1.name);
    await lab.startWeftd(n1.name);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(Object.entries(await drops(n1)).filter(([, v]) => v > 0)).toEqual([]);
    await waitReachable(pod1.ns, pod2.ip6!);
    expect((await ping(pod2.ns, pod1.ip6!, { count: 3, intervalS: 0.05 })).received).toBe(3);
    await expect(tcpExchange(pod2.ns, pod1.ns, pod1.ip6!, 1 << 20)).resolves.toMatchObject({ bytes: 1 << 20 });
  });

  it('carries IPv6 to a Flannel (kernel VXLAN) node over the IPv6 underlay, and IPv4 to it as before', async () => {
    const kernel = await lab.addNode('kernel');
    const kpod = await lab.addPod(kernel.name);
    await waitReachable(pod1.ns, kpod.ip);
    await waitReachable(pod1.ns, kpod.ip6!);
    expect((await ping(pod1.ns, kpod.ip6!, { count: 2, intervalS: 0.05 })).received).toBe(2);
    expect((await drops(n1)).ipv6NoPath).toBe(0);
  });

  /** A node's IPv6 VTEP MAC, as its lease advertises it (BackendV6Data.VtepMAC). */
  async function vtepMac6(node: NodeRecord): Promise<string> {
    const lease = (await lab.leases()).find((l) => l.subnet === node.subnet);
    const mac = lease?.vtepMac6;
    if (!mac) throw new Error(`no BackendV6Data.VtepMAC for ${node.name}: ${JSON.stringify(lease)}`);
    return mac;
  }
});
