// IPv6 pod traffic between a weft node and a Flannel dual-stack kernel node (the lab acting as
// flanneld: flannel.1 and flannel-v6.1), with real etcd, weftd and pods: weft carries IPv6 towards
// the kernel node exactly as flannel-v6.1 expects it (UDP over IPv6 to its PublicIPv6, port 8472,
// inner destination its BackendV6Data.VtepMAC, no weft flags, valid inner checksums) and accepts
// what flannel-v6.1 sends from that PublicIPv6. Ping and TCP both ways, 64 MiB each way with the
// same SHA-256 (TSO6 super-packets cut to the IPv6 underlay's size on the way out, the kernel's
// super-datagrams cut on the way in); the IPv6 underlay's smaller MTU answered with Packet Too Big.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/lab.js';
import { Netns } from '../../lab/netns.js';
import { ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import type { NodeRecord, PodRecord } from '../../lab/state.js';
import { ownPrefix } from '../helpers/netns.js';
import { captureSettled, innerChecksumsValid, vxlanFrames } from '../helpers/pcap.js';
import { setPodMtu } from '../helpers/pod-mtu.js';
import { requireRoot } from '../helpers/root.js';

/** flannel-v6.1's MTU below a 1500 underlay (IPv6 outer header: 70 bytes of overhead). */
const MTU6 = 1430;

describe('IPv6 between weft and a Flannel dual-stack kernel node (flannel-v6.1)', () => {
  let lab: Lab;
  let weft: NodeRecord;
  let kern: NodeRecord;
  let podW: PodRecord;
  let podK: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}f6-`, dualStack: true });
    weft = await lab.addNode('weft');
    kern = await lab.addNode('kernel');
    podW = await lab.addPod(weft.name);
    podK = await lab.addPod(kern.name);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('pings pod to pod over IPv6 both ways, and over IPv4 alongside', async () => {
    await waitReachable(podW.ns, podK.ip6!);
    await waitReachable(podK.ns, podW.ip6!);
    const got = [];
    for (const [from, to] of [[podW, podK.ip6!], [podK, podW.ip6!], [podW, podK.ip], [podK, podW.ip]] as const) {
      got.push((await ping(from.ns, to, { count: 3, intervalS: 0.05 })).received);
    }
    expect(got).toEqual([3, 3, 3, 3]);
  });

  it('carries TCP over IPv6 from weft to the kernel node, 64 MiB with the same SHA-256, and TCP over IPv4 alongside', async () => {
    await expect(tcpExchange(podW.ns, podK.ns, podK.ip6!, 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
    await expect(tcpExchange(podW.ns, podK.ns, podK.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
  });

  it('carries TCP over IPv6 from the kernel node to weft (its TSO super-datagrams cut), 64 MiB with the same SHA-256', async () => {
    await expect(tcpExchange(podK.ns, podW.ns, podW.ip6!, 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
  });

  it('sends the kernel node IPv6 as flannel-v6.1 expects: over IPv6 to its PublicIPv6, to its IPv6 VtepMAC, no weft flags, valid checksums', async () => {
    const file = join(tmpdir(), `weft-${process.pid}-flannel-v6.pcap`);
    const capture = new Netns(kern.ns).spawn('tcpdump', ['-i', 'eth0', '-s', '0', '-U', '-w', file, 'udp', 'dst', 'port', '8472', 'and', '(', 'src', 'host', weft.underlayIp, 'or', 'src', 'host', weft.underlayIp6!, ')']);
    try {
      await capture.waitForOutput(/listening on eth0/);
      // TCP last: tcpdump may lose what it had not written when it is stopped.
      expect((await ping(podW.ns, podK.ip, { count: 3, intervalS: 0.05 })).received).toBe(3);
      expect((await ping(podW.ns, podK.ip6!, { count: 3, intervalS: 0.05 })).received).toBe(3);
      await expect(tcpExchange(podW.ns, podK.ns, podK.ip6!, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    } finally {
      await captureSettled(file).finally(() => capture.stop('SIGINT'));
    }
    const frames = vxlanFrames(file);
    rmSync(file, { force: true });
    const v6 = frames.filter((f) => f.etherType === 0x86dd);
    const v4 = frames.filter((f) => f.etherType === 0x0800);
    expect(v6.length).toBeGreaterThan(100);
    expect(v4.length).toBeGreaterThanOrEqual(3);
    expect(new Set(v6.map((f) => `${f.outerSrc} > ${f.outerDst} ${f.dstMac}`))).toEqual(new Set([`${weft.underlayIp6} > ${kern.underlayIp6} ${kern.vtepMac6}`]));
    expect(new Set(v4.map((f) => `${f.outerSrc} > ${f.outerDst} ${f.dstMac}`))).toEqual(new Set([`${weft.underlayIp} > ${kern.underlayIp} ${kern.vtepMac}`]));
    expect(frames.filter((f) => [...f.vxlan].join(',') !== '8,0,0,0,0,0,1,0')).toEqual([]);
    expect(frames.filter((f) => !innerChecksumsValid(f.inner)).length).toBe(0);
    // TSO6 super-packets were cut to what the IPv6 underlay carries, not to the TUN MTU.
    expect(Math.max(...v6.map((f) => f.inner.length))).toBe(MTU6);
    const protos = new Set(v6.map((f) => f.inner[6]));
    expect(protos).toContain(6); // TCP
    expect(protos).toContain(58); // ICMPv6
  });

  it('passes an IPv6 packet of exactly the IPv6 underlay’s inner MTU and answers one byte more with Packet Too Big', async () => {
    const jumbo = await lab.addPod(weft.name);
    await setPodMtu(lab, jumbo, weft, 1500);
    await waitReachable(jumbo.ns, podK.ip6!);
    // ICMPv6 payload + 8 + 40 = MTU6.
    expect((await ping(jumbo.ns, podK.ip6!, { count: 2, size: MTU6 - 48, dontFragment: true })).received).toBe(2);
    const r = await ping(jumbo.ns, podK.ip6!, { count: 1, size: MTU6 - 47, dontFragment: true });
    expect(r.received).toBe(0);
    expect(r.output).toMatch(new RegExp(`Packet too big: mtu=${MTU6}`));
  });
});
