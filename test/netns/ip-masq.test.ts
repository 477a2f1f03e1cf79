// --ip-masq against the real kernel: a node namespace routes between a local pod (10.244.1.2), a
// pod behind another node (10.244.2.2, standing in for the overlay) and the "outside world"
// (198.19.0.2). Servers print the source address they see. Every iptables command runs inside
// the node namespace; nothing touches the root namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installIpMasq, reassertIpMasq, removeIpMasq } from '../../daemon/control/ip-masq/index.js';
import { vethPair, type Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { type SourceServer, sourceSeenBy as seenFrom, startSourceServer } from '../helpers/source-probe.js';

let node: Netns;
let pod: Netns;
let remote: Netns;
let outside: Netns;
let outsideServer: SourceServer;
let remoteServer: SourceServer;

const iptables = () => ({ prefix: ['ip', 'netns', 'exec', node.name] });
const saved = () => node.exec('iptables-save', []);
const weftLines = (dump: string) => dump.split('\n').filter((l) => l.includes('WEFT-'));

beforeAll(async () => {
  requireRoot();
  node = await createNetns('node');
  pod = await createNetns('pod');
  remote = await createNetns('remote');
  outside = await createNetns('outside');
  await vethPair(node, 'pod0', pod, 'eth0');
  await vethPair(node, 'rem0', remote, 'eth0');
  await vethPair(node, 'out0', outside, 'eth0');
  for (const [ns, dev, addr] of [
    [node, 'pod0', '10.244.1.1/24'],
    [node, 'rem0', '10.244.2.1/24'],
    [node, 'out0', '198.19.0.1/24'],
    [pod, 'eth0', '10.244.1.2/24'],
    [remote, 'eth0', '10.244.2.2/24'],
    [outside, 'eth0', '198.19.0.2/24'],
  ] as const) {
    await ns.ip('addr', 'add', addr, 'dev', dev);
    await ns.ip('link', 'set', dev, 'up');
  }
  await pod.ip('route', 'add', 'default', 'via', '10.244.1.1');
  await remote.ip('route', 'add', 'default', 'via', '10.244.2.1');
  // The outside can route back to pods, so without masquerading it sees (and answers) the pod's
  // own address: the source it reports is then decided by the NAT rules alone.
  await outside.ip('route', 'add', '10.244.0.0/16', 'via', '198.19.0.1');
  await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  outsideServer = await startSourceServer(outside, '198.19.0.2');
  remoteServer = await startSourceServer(remote, '10.244.2.2');
});

afterAll(async () => {
  await outsideServer?.proc.stop();
  await remoteServer?.proc.stop();
  for (const ns of [pod, remote, outside, node]) await ns?.destroy();
});

describe('--ip-masq', () => {
  it('without the rules, the outside sees the pod address', async () => {
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '10.244.1.2', udp: '10.244.1.2' });
  });

  it('masquerades pod traffic to the outside behind the node address, not traffic to other pods', async () => {
    const installed = await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.1/24', iptables: iptables() });
    expect(installed.backend).toBe('nft'); // no rules in either backend: nft, like iptables-wrappers
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '198.19.0.1', udp: '198.19.0.1' });
    expect(await seenFrom(pod, remoteServer)).toEqual({ tcp: '10.244.1.2', udp: '10.244.1.2' });
  });

  it("installs Flannel's rules in weft's own chains, once however often it runs", async () => {
    const first = weftLines(await saved());
    // iptables-save lists tables in its own order; within a chain, order is what counts.
    expect([...first.filter((l) => l.includes('POSTR')), ...first.filter((l) => l.includes('FWD'))]).toEqual([
      ':WEFT-POSTRTG - [0:0]',
      '-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG',
      '-A WEFT-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "weft masq" -j RETURN',
      '-A WEFT-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "weft masq" -j MASQUERADE --random-fully',
      '-A WEFT-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "weft masq" -j MASQUERADE --random-fully',
      ':WEFT-FWD - [0:0]',
      '-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
      '-A WEFT-FWD -s 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
      '-A WEFT-FWD -d 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
    ]);
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    expect(weftLines(await saved())).toEqual(first);
  });

  it('follows a changed subnet and drops the forward chain when forward rules are off', async () => {
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.7.0/24', forwardRules: false, randomFully: false, iptables: iptables() });
    const lines = weftLines(await saved());
    expect(lines.filter((l) => l.includes('10.244.1.0/24'))).toEqual([]);
    expect(lines.filter((l) => l.includes('10.244.7.0/24'))).toHaveLength(3);
    expect(lines.filter((l) => l.includes('--random-fully'))).toEqual([]);
    expect(lines.filter((l) => l.includes('WEFT-FWD'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('-A POSTROUTING'))).toHaveLength(1);
  });

  it('installs the forward rules alone (--iptables-forward-rules without --ip-masq), dropping the masquerade chain', async () => {
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', masquerade: false, iptables: iptables() });
    expect(weftLines(await saved()).sort()).toEqual([
      '-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
      '-A WEFT-FWD -d 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
      '-A WEFT-FWD -s 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
      ':WEFT-FWD - [0:0]',
    ]);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '10.244.1.2', udp: '10.244.1.2' });
  });

  it('re-asserts: a deleted hook, forward chain and masquerade rule come back as installed; an intact set is left alone', async () => {
    const installed = await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    const before = weftLines(await saved());
    expect(await reassertIpMasq(installed)).toEqual([]);
    await node.exec('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'weft masq', '-j', 'WEFT-POSTRTG']);
    await node.exec('iptables', ['-w', '-t', 'filter', '-D', 'FORWARD', '-m', 'comment', '--comment', 'weft forward', '-j', 'WEFT-FWD']);
    await node.exec('iptables', ['-w', '-t', 'filter', '-F', 'WEFT-FWD']);
    await node.exec('iptables', ['-w', '-t', 'filter', '-X', 'WEFT-FWD']);
    await node.exec('iptables', ['-w', '-t', 'nat', '-D', 'WEFT-POSTRTG', '1']);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '10.244.1.2', udp: '10.244.1.2' });
    const fixed = await reassertIpMasq(installed);
    expect(fixed.map((d) => d.why)).toEqual([
      'chain nat/WEFT-POSTRTG: 1 of 6 rules missing',
      'chain filter/WEFT-FWD missing',
      'hook nat/POSTROUTING → WEFT-POSTRTG missing',
      'hook filter/FORWARD → WEFT-FWD missing',
    ]);
    expect(weftLines(await saved())).toEqual(before);
    expect(await reassertIpMasq(installed)).toEqual([]);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '198.19.0.1', udp: '198.19.0.1' });
  });

  it('removes every chain and hook, after which the outside sees the pod address again', async () => {
    await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    await removeIpMasq({ iptables: iptables() });
    expect(weftLines(await saved())).toEqual([]);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '10.244.1.2', udp: '10.244.1.2' });
    await removeIpMasq({ iptables: iptables() }); // nothing left to remove: still fine
    expect(weftLines(await saved())).toEqual([]);
  });

  it("uses the iptables backend kube-proxy uses: legacy when the host's rules are there", async () => {
    await node.exec('iptables-legacy', ['-w', '-t', 'nat', '-N', 'KUBE-POSTROUTING']);
    await node.exec('iptables-legacy', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'KUBE-POSTROUTING']);
    const installed = await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: iptables() });
    expect(installed.backend).toBe('legacy');
    expect(weftLines(await node.exec('iptables-legacy-save', []))).toHaveLength(12);
    expect(await reassertIpMasq(installed)).toEqual([]); // legacy's save format reads as installed too
    await node.exec('iptables-legacy', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'weft masq', '-j', 'WEFT-POSTRTG']);
    expect((await reassertIpMasq(installed)).map((d) => d.why)).toEqual(['hook nat/POSTROUTING → WEFT-POSTRTG missing']);
    expect(weftLines(await node.exec('iptables-legacy-save', []))).toHaveLength(12);
    expect(weftLines(await node.exec('iptables-nft-save', []))).toEqual([]);
    expect(await seenFrom(pod, outsideServer)).toEqual({ tcp: '198.19.0.1', udp: '198.19.0.1' });
    await removeIpMasq({ iptables: iptables() });
    expect(weftLines(await node.exec('iptables-legacy-save', []))).toEqual([]);
    expect(await node.exec('iptables-legacy-save', ['-t', 'nat'])).toContain('-A POSTROUTING -j KUBE-POSTROUTING');
  });

  it('rejects a network that is not an IPv4 CIDR, naming it', async () => {
    await expect(installIpMasq({ network: '10.244.0.0', subnet: '10.244.1.0/24', iptables: iptables() })).rejects.toThrow(
      /ip-masq: network "10.244.0.0" is not a CIDR/,
    );
  });
});
