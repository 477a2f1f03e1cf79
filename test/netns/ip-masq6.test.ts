// --ip-masq for an IPv6 pod network against the real kernel (ip6tables, nft backend): a node
// namespace routes between a local pod (fd00:10:244:1::2), a pod behind another node
// (fd00:10:244:2::2, standing in for the overlay) and the "outside world" (fd00:198:18::2).
// Servers print the source address they see. Every command runs inside the test's namespaces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installIpMasq, installIpMasq6, reassertIpMasq, removeIpMasq } from '../../daemon/control/ip-masq/index.js';
import { vethPair, type Netns } from '../../lab/netns.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { type SourceServer, sourceSeenBy as seenFrom, startSourceServer } from '../helpers/source-probe.js';

const NETWORK = 'fd00:10:244::/56';
const POD = 'fd00:10:244:1::2';
const REMOTE = 'fd00:10:244:2::2';
const OUTSIDE = 'fd00:198:18::2';
const NODE_OUTSIDE = 'fd00:198:18::1';

let node: Netns;
let pod: Netns;
let remote: Netns;
let outside: Netns;
let outsideServer: SourceServer;
let remoteServer: SourceServer;

const iptables = () => ({ prefix: ['ip', 'netns', 'exec', node.name] });
const weftLines = (dump: string) => dump.split('\n').filter((l) => l.includes('WEFT-'));
const saved6 = () => node.exec('ip6tables-save', []);
const saved4 = () => node.exec('iptables-save', []);
const install6 = (subnet = 'fd00:10:244:1::1/64', opts = {}) => installIpMasq6(NETWORK, subnet, { ...opts, iptables: iptables() });

beforeAll(async () => {
  requireRoot();
  node = await createNetns('node');
  pod = await createNetns('pod');
  remote = await createNetns('remote');
  outside = await createNetns('outside');
  for (const ns of [node, pod, remote, outside]) await enableIpv6(ns);
  await vethPair(node, 'pod0', pod, 'eth0');
  await vethPair(node, 'rem0', remote, 'eth0');
  await vethPair(node, 'out0', outside, 'eth0');
  for (const [ns, dev, addr] of [
    [node, 'pod0', 'fd00:10:244:1::1/64'],
    [node, 'rem0', 'fd00:10:244:2::1/64'],
    [node, 'out0', `${NODE_OUTSIDE}/64`],
    [pod, 'eth0', `${POD}/64`],
    [remote, 'eth0', `${REMOTE}/64`],
    [outside, 'eth0', `${OUTSIDE}/64`],
  ] as const) {
    await ns.ip('addr', 'add', addr, 'dev', dev, 'nodad'); // usable at once: no duplicate detection to wait for
    await ns.ip('link', 'set', dev, 'up');
  }
  await pod.ip('-6', 'route', 'add', 'default', 'via', 'fd00:10:244:1::1');
  await remote.ip('-6', 'route', 'add', 'default', 'via', 'fd00:10:244:2::1');
  // The outside routes back to pods, so without masquerading it answers the pod's own address.
  await outside.ip('-6', 'route', 'add', NETWORK, 'via', NODE_OUTSIDE);
  await node.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  outsideServer = await startSourceServer(outside, OUTSIDE);
  remoteServer = await startSourceServer(remote, REMOTE);
});

afterAll(async () => {
  await outsideServer?.proc.stop();
  await remoteServer?.proc.stop();
  for (const ns of [pod, remote, outside, node]) await ns?.destroy();
});

describe('--ip-masq for IPv6 (ip6tables)', () => {
  it('without the rules, the outside sees the pod address', async () => {
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: POD, udp: POD });
  });

  it('masquerades pod traffic to the outside behind the node address, not traffic to other pods', async () => {
    const installed = await install6();
    expect([installed.family, installed.backend]).toEqual([6, 'nft']);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: NODE_OUTSIDE, udp: NODE_OUTSIDE });
    expect(await seenFrom(pod, remoteServer)).toEqual({ tcp: POD, udp: POD });
  });

  it("installs Flannel's IPv6 rules in weft's chains, once however often it runs, and leaves iptables alone", async () => {
    const first = weftLines(await saved6());
    expect([...first.filter((l) => l.includes('POSTR')), ...first.filter((l) => l.includes('FWD'))]).toEqual([
      ':WEFT-POSTRTG - [0:0]',
      '-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG',
      '-A WEFT-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s fd00:10:244:1::/64 -d fd00:10:244::/56 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "weft masq" -j MASQUERADE --random-fully',
      '-A WEFT-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244::/56 -m comment --comment "weft masq" -j MASQUERADE --random-fully',
      ':WEFT-FWD - [0:0]',
      '-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
      '-A WEFT-FWD -s fd00:10:244::/56 -m comment --comment "weft forward" -j ACCEPT',
      '-A WEFT-FWD -d fd00:10:244::/56 -m comment --comment "weft forward" -j ACCEPT',
    ]);
    await install6('fd00:10:244:1::/64');
    await install6();
    expect(weftLines(await saved6())).toEqual(first);
    expect(weftLines(await saved4())).toEqual([]);
  });

  it('follows a changed subnet and the switches', async () => {
    await install6('fd00:10:244:7::1/64', { forwardRules: false, randomFully: false });
    const lines = weftLines(await saved6());
    expect(lines.filter((l) => l.includes('fd00:10:244:1::/64'))).toEqual([]);
    expect(lines.filter((l) => l.includes('fd00:10:244:7::/64'))).toHaveLength(3);
    expect(lines.filter((l) => l.includes('--random-fully') || l.includes('WEFT-FWD'))).toEqual([]);
  });

  it('re-asserts from ip6tables-save: a deleted hook and rule come back; an intact set is left alone', async () => {
    const installed = await install6();
    const before = weftLines(await saved6());
    expect(await reassertIpMasq(installed)).toEqual([]);
    await node.exec('ip6tables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'weft masq', '-j', 'WEFT-POSTRTG']);
    await node.exec('ip6tables', ['-w', '-t', 'nat', '-D', 'WEFT-POSTRTG', '5']);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: POD, udp: POD });
    expect((await reassertIpMasq(installed)).map((d) => d.why)).toEqual(['chain nat/WEFT-POSTRTG: 1 of 6 rules missing', 'hook nat/POSTROUTING → WEFT-POSTRTG missing']);
    expect(weftLines(await saved6())).toEqual(before);
    expect(await reassertIpMasq(installed)).toEqual([]);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: NODE_OUTSIDE, udp: NODE_OUTSIDE });
  });

  it('the families are independent: removing one leaves the other installed', async () => {
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    await install6();
    await removeIpMasq({ iptables: iptables(), family: 6 });
    expect(weftLines(await saved6())).toEqual([]);
    expect(weftLines(await saved4())).toHaveLength(12);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: POD, udp: POD });
    await install6();
    await removeIpMasq({ iptables: iptables() });
    expect(weftLines(await saved4())).toEqual([]);
    expect(weftLines(await saved6())).toHaveLength(12);
    await removeIpMasq({ iptables: iptables(), family: 6 });
    await removeIpMasq({ iptables: iptables(), family: 6 }); // nothing left: still fine
    expect(weftLines(await saved6())).toEqual([]);
  });

  it('rejects an IPv4 network, naming it, before running anything', async () => {
    await expect(installIpMasq6('10.244.0.0/16', 'fd00:10:244:1::/64', { iptables: iptables() })).rejects.toThrow(/ip-masq: IPv6 network "10.244.0.0\/16" is not an IPv6 CIDR/);
    expect(weftLines(await saved6())).toEqual([]);
  });
});
