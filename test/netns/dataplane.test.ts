// The data plane end to end in namespaces: three nodes on one underlay bridge — A and B run weft's
// Dataplane (test/fixtures/dataplane/node.ts, static routes), C runs a Linux vxlan device set up as
// Flannel's flannel.1 — each with a pod behind cni0. No etcd at this level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vethPair, type Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { captureSettled, innerChecksumsValid, vxlanFrames } from '../helpers/pcap.js';
import type { TrackedChild } from '../../lab/processes.js';
import { requireRoot } from '../helpers/root.js';

const FIXTURES = 'dist/test/fixtures/dataplane';
const NETWORK = '10.244.0.0/16';
const MTU = 1450;

interface NodeSpec {
  ip: string;
  n: number; // subnet 10.244.<n>.0/24
  mac: string;
}
const A: NodeSpec = { ip: '198.18.0.1', n: 1, mac: '0e:00:00:00:00:01' };
const B: NodeSpec = { ip: '198.18.0.2', n: 2, mac: '0e:00:00:00:00:02' };
const C: NodeSpec = { ip: '198.18.0.3', n: 3, mac: '0e:00:00:00:00:03' };
/** A peer as its lease describes it: weft nodes advertise checksum elision when theirs is on. */
const peerOf = (s: NodeSpec) => ({ subnet: `10.244.${s.n}.0/24`, publicIp: s.ip, vtepMac: s.mac, csumElision: s !== C && elides(s) });
const elides = (s: NodeSpec): boolean => offloads.elision === 'both' || (offloads.elision === 'a-only' && s === A);
const pod = (s: NodeSpec) => `10.244.${s.n}.2`;

let underlay: Netns;
const nodes = new Map<NodeSpec, Netns>();
const pods = new Map<NodeSpec, Netns>();
let jumboPod: Netns;
const daemons = new Map<NodeSpec, TrackedChild>();
let offloads: { udp: boolean; tun: boolean; elision: 'both' | 'a-only' | 'off' } = { udp: true, tun: true, elision: 'both' };

async function addNode(spec: NodeSpec, label: string): Promise<Netns> {
  const ns = await createNetns(label);
  await vethPair(underlay, `u${spec.n}`, ns, 'eth0');
  await underlay.ip('link', 'set', `u${spec.n}`, 'master', 'br0', 'up');
  await ns.ip('addr', 'add', `${spec.ip}/24`, 'dev', 'eth0');
  await ns.ip('link', 'set', 'eth0', 'up');
  await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await ns.ip('link', 'add', 'cni0', 'type', 'bridge');
  await ns.ip('addr', 'add', `10.244.${spec.n}.1/24`, 'dev', 'cni0');
  await ns.ip('link', 'set', 'cni0', 'up');
  nodes.set(spec, ns);
  pods.set(spec, await addPod(ns, spec, label, 2, MTU));
  return ns;
}

async function addPod(node: Netns, spec: NodeSpec, label: string, host: number, mtu: number): Promise<Netns> {
  const p = await createNetns(`${label}p${host}`);
  await vethPair(node, `vp${host}`, p, 'eth0');
  await node.ip('link', 'set', `vp${host}`, 'mtu', String(mtu), 'master', 'cni0', 'up');
  await p.ip('link', 'set', 'eth0', 'mtu', String(mtu), 'up');
  await p.ip('addr', 'add', `10.244.${spec.n}.${host}/24`, 'dev', 'eth0');
  await p.ip('route', 'add', 'default', 'via', `10.244.${spec.n}.1`);
  return p;
}

function startWeft(spec: NodeSpec, peers: NodeSpec[], worker = false): TrackedChild {
  const args = {
    worker,
    options: { udpOffloads: offloads.udp, tunOffloads: offloads.tun, csumElision: elides(spec), tunMtu: MTU, network: NETWORK, subnetLen: 24, localSubnet: `10.244.${spec.n}.0/24`, localIp: spec.ip, localVtepMac: spec.mac },
    peers: peers.map(peerOf),
  };
  const child = nodes.get(spec)!.spawn(process.execPath, [`${FIXTURES}/node.js`, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  daemons.set(spec, child);
  return child;
}

/** Flannel's flannel.1 (VNI 1, port 8472, nolearning) with neighbour + FDB + onlink route per peer. */
async function setupKernelVxlan(spec: NodeSpec, peers: NodeSpec[]): Promise<void> {
  const ns = nodes.get(spec)!;
  await ns.ip('link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', spec.ip, 'dev', 'eth0', 'dstport', '8472', 'nolearning');
  await ns.ip('link', 'set', 'flannel.1', 'mtu', String(MTU), 'address', spec.mac, 'up');
  await ns.ip('addr', 'add', `10.244.${spec.n}.0/32`, 'dev', 'flannel.1');
  for (const p of peers) {
    await ns.ip('neigh', 'add', `10.244.${p.n}.0`, 'lladdr', p.mac, 'dev', 'flannel.1', 'nud', 'permanent');
    await ns.exec('bridge', ['fdb', 'add', p.mac, 'dev', 'flannel.1', 'dst', p.ip]);
    await ns.ip('route', 'add', `10.244.${p.n}.0/24`, 'via', `10.244.${p.n}.0`, 'dev', 'flannel.1', 'onlink');
  }
}

async function stats(spec: NodeSpec): Promise<{ drops: Record<string, number>; totals: Record<string, number>; io: Record<string, number> }> {
  const child = daemons.get(spec)!;
  const from = child.output().length;
  child.proc.stdin!.write('stats\n');
  for (let i = 0; i < 200; i++) {
    const m = child.output().slice(from).match(/STATS (.*)\n/);
    if (m) return JSON.parse(m[1]);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no stats from node:\n${child.output()}`);
}

async function command(spec: NodeSpec, line: string, reply: RegExp): Promise<void> {
  const child = daemons.get(spec)!;
  const from = child.output().length;
  child.proc.stdin!.write(`${line}\n`);
  for (let i = 0; i < 200 && !reply.test(child.output().slice(from)); i++) await new Promise((r) => setTimeout(r, 10));
  expect(child.output().slice(from)).toMatch(reply);
}

async function ping(from: Netns, to: string, extra: string[] = []): Promise<string> {
  return from.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', ...extra, to]);
}

/** Sends `bytes` random bytes over TCP and returns [sent hash, received hash]. */
async function tcpTransfer(src: Netns, dst: Netns, dstIp: string, bytes: number): Promise<[string, string]> {
  const sink = dst.spawn(process.execPath, [`${FIXTURES}/tcp.js`, 'sink', '5001']);
  await sink.waitForOutput(/LISTENING/);
  const source = src.spawn(process.execPath, [`${FIXTURES}/tcp.js`, 'source', dstIp, '5001', String(bytes)]);
  const sent = await source.waitForOutput(/SHA256 (\w+) (\d+)/, 50_000);
  const got = await sink.waitForOutput(/SHA256 (\w+) (\d+)/, 50_000);
  await Promise.all([source.exited, sink.exited]);
  expect(Number(got[2])).toBe(bytes);
  return [sent[1], got[1]];
}

describe.each([
  { udp: true, tun: true, elision: 'both' },
  { udp: true, tun: true, elision: 'a-only' },
  { udp: true, tun: false, elision: 'off' },
  { udp: false, tun: false, elision: 'off' },
] as const)('data plane in namespaces (UDP GSO/GRO $udp, TUN offloads $tun, checksum elision $elision)', (config) => {
  beforeAll(async () => {
    requireRoot();
    offloads = config;
    underlay = await createNetns('ul');
    await underlay.ip('link', 'add', 'br0', 'type', 'bridge');
    await underlay.ip('link', 'set', 'br0', 'up');
    await underlay.ip('addr', 'add', '198.18.0.254/24', 'dev', 'br0');
    await addNode(A, 'a');
    await addNode(B, 'b');
    await addNode(C, 'c');
    jumboPod = await addPod(nodes.get(A)!, A, 'a', 3, 1500);
    await setupKernelVxlan(C, [A, B]);
    const ready = [startWeft(A, [B, C]), startWeft(B, [A, C])];
    await Promise.all(ready.map((d) => d.waitForOutput(/READY weft0/)));
  });

  afterAll(async () => {
    await Promise.all([...daemons.values()].map((d) => d.stop()));
    for (const ns of [...pods.values(), jumboPod, ...nodes.values(), underlay]) await ns?.destroy();
    daemons.clear();
    pods.clear();
    nodes.clear();
  });

  it('configures the TUN as Flannel does: <subnet>.0/32, MTU underlay − 50, route for the Network', async () => {
    const link = await nodes.get(A)!.ip('-o', 'addr', 'show', 'dev', 'weft0');
    expect(link).toMatch(/inet 10\.244\.1\.0\/32/);
    expect(await nodes.get(A)!.ip('-o', 'link', 'show', 'dev', 'weft0')).toMatch(/mtu 1450/);
    expect(await nodes.get(A)!.ip('route', 'show', NETWORK)).toMatch(/10\.244\.0\.0\/16 dev weft0/);
  });

  it('pings pod to pod both ways and host to pod', async () => {
    expect(await ping(pods.get(A)!, pod(B))).toMatch(/3 received/);
    expect(await ping(pods.get(B)!, pod(A))).toMatch(/3 received/);
    expect(await ping(nodes.get(A)!, pod(B))).toMatch(/3 received/);
    expect(await ping(nodes.get(B)!, pod(A))).toMatch(/3 received/);
  });

  it('forwards lone packets by replaying the decision JavaScript made for the first, counting each as JavaScript does', async () => {
    type Stats = Awaited<ReturnType<typeof stats>> & { peers: { publicIp: string; txPackets: number; rxPackets: number; txBytes: number; rxBytes: number }[] };
    const [a0, b0] = [(await stats(A)) as Stats, (await stats(B)) as Stats];
    expect(await pods.get(A)!.exec('ping', ['-c', '20', '-i', '0.02', '-W', '2', pod(B)])).toMatch(/20 received/);
    // UDP requests: partial checksums with TUN offloads (elided towards B when both elide), full ones without.
    await pods.get(A)!.exec(process.execPath, [`${FIXTURES}/send-udp.js`, pod(B), '9', 'pod-paced', '20']);
    const [a1, b1] = [(await stats(A)) as Stats, (await stats(B)) as Stats];
    const d = (x: { io: Record<string, number> }, y: { io: Record<string, number> }, k: string): number => y.io[k] - x.io[k];
    const t = (x: { totals: Record<string, number> }, y: { totals: Record<string, number> }, k: string): number => y.totals[k] - x.totals[k];
    const peer = (s: Stats, of: NodeSpec) => s.peers.find((p) => p.publicIp === of.ip)!;
    // Echo requests and UDP out of A, echo replies (and port unreachables) out of B: all but each flow's first replayed.
    expect(d(a0, a1, 'replayedOut')).toBeGreaterThanOrEqual(15 + (config.tun && config.elision !== 'both' ? 0 : 15));
    expect(d(b0, b1, 'replayedIn')).toBeGreaterThanOrEqual(15 + (config.tun && config.elision === 'both' ? 15 : 0));
    expect(d(b0, b1, 'replayedOut')).toBeGreaterThanOrEqual(15);
    expect(d(a0, a1, 'replayedIn')).toBeGreaterThanOrEqual(15);
    // Replayed or not, every packet is counted once: for its peer and in the totals, as sent by one
    // node and as received by the other.
    for (const [x, y, other, ox, oy] of [[a0, a1, B, b0, b1], [b0, b1, A, a0, a1]] as const) {
      expect(t(ox, oy, 'rxPackets')).toBe(t(x, y, 'txPackets'));
      expect(t(ox, oy, 'rxBytes')).toBe(t(x, y, 'txBytes'));
      expect(peer(y, other).txPackets - peer(x, other).txPackets).toBe(t(x, y, 'txPackets'));
      expect(peer(y, other).rxPackets - peer(x, other).rxPackets).toBe(t(x, y, 'rxPackets'));
      expect(peer(y, other).txBytes - peer(x, other).txBytes).toBe(t(x, y, 'txBytes'));
      expect(peer(y, other).rxBytes - peer(x, other).rxBytes).toBe(t(x, y, 'rxBytes'));
    }
    expect(t(a0, a1, 'txPackets')).toBeGreaterThanOrEqual(40);
  });

  it('carries 64 MiB over TCP pod to pod with the same SHA-256, and TCP the other way', async () => {
    const [sent, got] = await tcpTransfer(pods.get(A)!, pods.get(B)!, pod(B), 64 << 20);
    expect(got).toBe(sent);
    const [sent2, got2] = await tcpTransfer(pods.get(B)!, pods.get(A)!, pod(A), 8 << 20);
    expect(got2).toBe(sent2);
    const [a, b] = [await stats(A), await stats(B)];
    expect(a.io.udpSendGso > 0).toBe(config.udp);
    expect(b.io.udpRecvGro > 0).toBe(config.udp);
    expect(a.totals.superPackets > 0).toBe(config.tun);
    expect(b.totals.coalescedRuns > 0).toBe(config.tun && config.udp);
    // Elision is used only when both ends have it on; a node with it off still talks to one with it on.
    expect(a.totals.elidedSent > 0).toBe(config.elision === 'both');
    expect(b.totals.elidedReceived > 0).toBe(config.elision === 'both');
    expect(b.totals.elidedSent > 0).toBe(config.elision === 'both');
    expect(a.drops.elisionUnexpected + a.drops.badElision + b.drops.elisionUnexpected + b.drops.badElision).toBe(0);
  });

  it('passes a DF ping of exactly the inner MTU and refuses one byte more with "fragmentation needed"', async () => {
    // 1422 bytes of ICMP payload + 8 ICMP + 20 IP = 1450; the pod's own link allows 1500.
    expect(await ping(jumboPod, pod(B), ['-M', 'do', '-s', '1422'])).toMatch(/3 received/);
    const out = await jumboPod.exec('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1423', pod(B)]).catch((e: Error) => e.message);
    expect(out).toMatch(/Frag needed and DF set \(mtu = 1450\)/);
  });

  it('answers a destination without a lease with ICMP net unreachable', async () => {
    const out = await pods.get(A)!.exec('ping', ['-c', '1', '-W', '2', '10.244.9.9']).catch((e: Error) => e.message);
    expect(out).toMatch(/Destination Net Unreachable/);
    expect((await stats(A)).drops.noRoute).toBeGreaterThan(0);
  });

  it('counts garbage, truncated, wrong-VNI and unknown-sender datagrams as drops while pod traffic flows', async () => {
    const before = await stats(B);
    const pinging = pods.get(A)!.exec('ping', ['-c', '20', '-i', '0.05', '-W', '2', pod(B)]);
    const send = async (from: Netns, kind: string): Promise<void> => {
      const c = from.spawn(process.execPath, [`${FIXTURES}/send-udp.js`, B.ip, '8472', kind, '50']);
      await c.waitForOutput(/SENT 50/);
      await c.exited;
    };
    await send(nodes.get(A)!, 'garbage');
    await send(nodes.get(A)!, 'truncated');
    await send(nodes.get(A)!, 'wrongvni');
    await send(underlay, 'vni1'); // from 198.18.0.254, no peer's address
    expect(await pinging).toMatch(/20 received/);
    const after = await stats(B);
    const delta = (k: string): number => after.drops[k] - before.drops[k];
    expect(delta('badFlags') + delta('badReserved')).toBe(50);
    expect(delta('truncated')).toBe(50);
    expect(delta('wrongVni')).toBe(50);
    expect(delta('unknownSender')).toBe(50);
    expect(after.totals.rxPackets - before.totals.rxPackets).toBeGreaterThanOrEqual(20);
  });

  it('interoperates with a kernel VXLAN node set up as flannel.1: ping and TCP both ways', async () => {
    expect(await ping(pods.get(A)!, pod(C))).toMatch(/3 received/);
    expect(await ping(pods.get(C)!, pod(A))).toMatch(/3 received/);
    expect(await ping(nodes.get(C)!, pod(B))).toMatch(/3 received/);
    const [s1, g1] = await tcpTransfer(pods.get(A)!, pods.get(C)!, pod(C), 16 << 20);
    expect(g1).toBe(s1);
    const [s2, g2] = await tcpTransfer(pods.get(C)!, pods.get(A)!, pod(A), 16 << 20);
    expect(g2).toBe(s2);
    const st = await stats(A);
    expect(st.totals.checksumsFinished).toBeGreaterThan(0);
  });

  it('never sends the elision flag to the kernel node, and every frame it gets carries valid inner checksums', async () => {
    const file = join(tmpdir(), `weft-${process.pid}-kernel-${config.elision}-${config.tun}-${config.udp}.pcap`);
    const capture = nodes.get(C)!.spawn('tcpdump', ['-i', 'eth0', '-s', '0', '-U', '-w', file, 'udp', 'dst', 'port', '8472', 'and', 'src', 'host', A.ip]);
    try {
      await capture.waitForOutput(/listening on eth0/);
      // TCP last: tcpdump may lose what it had not written when it is stopped, and the TCP
      // assertion below needs only part of the stream.
      expect(await ping(pods.get(A)!, pod(C))).toMatch(/3 received/);
      await pods.get(A)!.exec(process.execPath, [`${FIXTURES}/send-udp.js`, pod(C), '9', 'pod', '20']);
      const [s1, g1] = await tcpTransfer(pods.get(A)!, pods.get(C)!, pod(C), 4 << 20);
      expect(g1).toBe(s1);
    } finally {
      await captureSettled(file).finally(() => capture.stop('SIGINT'));
    }
    const frames = vxlanFrames(file);
    rmSync(file, { force: true });
    const byProto = new Map<number, number>();
    for (const f of frames) byProto.set(f.inner[9], (byProto.get(f.inner[9]) ?? 0) + 1);
    expect(byProto.get(6) ?? 0).toBeGreaterThan(100); // TCP
    expect(byProto.get(1) ?? 0).toBeGreaterThanOrEqual(3); // ICMP
    expect(byProto.get(17) ?? 0).toBeGreaterThanOrEqual(20); // UDP
    expect(frames.filter((f) => [...f.vxlan].join(',') !== '8,0,0,0,0,0,1,0')).toEqual([]);
    expect(frames.filter((f) => !innerChecksumsValid(f.inner)).length).toBe(0);
  });

  it('stops routing a peer as soon as a table without it is swapped in, and resumes with it', async () => {
    await command(A, `routes ${JSON.stringify([peerOf(C)])}`, /ROUTES 1/);
    const out = await pods.get(A)!.exec('ping', ['-c', '1', '-W', '2', pod(B)]).catch((e: Error) => e.message);
    expect(out).toMatch(/Destination Net Unreachable/);
    await command(A, `routes ${JSON.stringify([peerOf(B), peerOf(C)])}`, /ROUTES 2/);
    expect(await ping(pods.get(A)!, pod(B))).toMatch(/3 received/);
  });

  it('runs in a worker thread (context-aware addon) and closes cleanly there', async () => {
    await daemons.get(B)!.stop();
    const b = startWeft(B, [A, C], true);
    await b.waitForOutput(/READY weft0/);
    expect(await ping(pods.get(A)!, pod(B))).toMatch(/3 received/);
    expect(await ping(pods.get(B)!, pod(A))).toMatch(/3 received/);
    expect((await stats(B)).totals.rxPackets).toBeGreaterThanOrEqual(3);
    expect(await b.stop()).toEqual({ code: 0, signal: null });
    expect(await nodes.get(B)!.ip('-o', 'link')).not.toMatch(/weft0/);
  });
});
