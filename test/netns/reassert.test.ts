// weftd re-asserts its state while running, on a 2-node weft lab with --ip-masq and default
// periods, as an operator or a stray script would break it: masquerade hook and forward chain
// deleted by hand (back within --iptables-resync, 5 s), the TUN downed and its MTU, address and
// route tampered with, IPv6 turned on on it (back within --link-resync, 10 s), each fix logged
// once with its subsystem; and etcd hung by SIGSTOP with its TCP connections open: weft_etcd_up
// reads 0 within 15 s, /readyz stays 200 and says why, pod traffic keeps flowing, and all is back
// after SIGCONT. Fixes are found by their `reasserted` event; "nothing more to fix" is checked after
// /metrics shows two more checks (weft_resync_checks_total), not after a sleep.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipJson, runs, waitFor } from '../../lab/exec.js';
import { Lab, NETWORK } from '../../lab/lab.js';
import { run } from '../../lab/processes.js';
import { ping, waitReachable } from '../../lab/probe.js';
import type { PodRecord, ProcessRecord } from '../../lab/state.js';
import { HEALTHZ_PORT } from '../../lab/weft-node.js';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { metricValue, waitForMetric, type Scrape } from '../helpers/metrics.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

interface LogLine {
  readonly msg: string;
  readonly subsystem?: string;
  readonly time: string;
  readonly [field: string]: unknown;
}

describe('weftd re-asserts its state while running', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}r-`, weftdArgs: ['--ip-masq'] });
    await lab.addNode('weft');
    await lab.addNode('weft');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
    await waitReachable(pod1.ns, pod2.ip, 15_000);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  const ns = (node: string): string => lab.node(node).ns;

  function weftd(node: string): ProcessRecord {
    const p = lab.state.processes.find((x) => x.ns === ns(node) && x.role.startsWith('weftd'));
    if (!p) throw new Error(`no weftd recorded for ${node}`);
    return p;
  }

  function logOf(node: string): LogLine[] {
    return readFileSync(weftd(node).log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  const weftRules = async (node: string): Promise<string[]> => (await lab.exec(ns(node), 'iptables-save', [])).split('\n').filter((l) => l.includes('WEFT-')).sort();

  async function tunState(node: string): Promise<{ up: boolean; mtu: number; addrs: string[]; routes: string[] }> {
    const [link] = await ipJson<{ mtu: number; flags: string[]; addr_info: { family: string; local: string; prefixlen: number }[] }>(ns(node), 'addr', 'show', 'dev', 'weft0');
    const routes = await ipJson<{ dst: string; metric?: number }>(ns(node), 'route', 'show', 'table', 'main', 'dev', 'weft0');
    return {
      up: link.flags.includes('UP'),
      mtu: link.mtu,
      addrs: link.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      routes: routes.map((r) => `${r.dst}${r.metric ? ` metric ${r.metric}` : ''}`),
    };
  }

  const metrics = (node: string): Scrape => () => lab.exec(ns(node), 'curl', ['-sf', '--max-time', '1', `http://127.0.0.1:${HEALTHZ_PORT}/metrics`]);

  async function etcdUp(node: string): Promise<number | undefined> {
    return metricValue(await metrics(node)().catch(() => ''), 'weft_etcd_up');
  }

  const fixesSince = (node: string, n: number): LogLine[] => logOf(node).slice(n).filter((l) => l.event === LogEvent.reasserted);

  /** The fixes logged since line `n`, once there are `count` (weftd's log writes are asynchronous, the fixes themselves may be done first). */
  const waitForFixes = (node: string, n: number, count: number): Promise<LogLine[]> =>
    waitFor(async () => { const f = fixesSince(node, n); return f.length >= count ? f : undefined; }, 5_000, () => new Error(`${node}: fewer than ${count} reasserted records: ${JSON.stringify(fixesSince(node, n))}`));

  async function readyz(node: string): Promise<{ code: number; body: string }> {
    const out = await lab.exec(ns(node), 'curl', ['-s', '--max-time', '1', '-w', '\n%{http_code}', `http://127.0.0.1:${HEALTHZ_PORT}/readyz`]);
    const cut = out.lastIndexOf('\n');
    return { code: Number(out.slice(cut + 1)), body: out.slice(0, cut).trim() };
  }

  it('restores a deleted masquerade hook and forward chain within --iptables-resync (5 s), one log line per fix', async () => {
    const before = await weftRules('node1');
    expect(before).toHaveLength(12);
    const n = logOf('node1').length;
    // One iptables-restore, so that an --iptables-resync check cannot fall between the steps.
    const deletion = [
      '*nat',
      '-D POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG',
      'COMMIT',
      '*filter',
      '-D FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
      '-F WEFT-FWD',
      '-X WEFT-FWD',
      'COMMIT',
      '',
    ].join('\n');
    await run('ip', ['netns', 'exec', ns('node1'), 'iptables-restore', '-w', '--noflush'], { input: deletion });
    const deletedAt = Date.now();
    await waitFor(async () => ((await weftRules('node1')).length === 12 ? true : undefined), 7_000, () => new Error('the ip-masq rules were not restored within 7 s'), 200);
    console.log(`ip-masq rules restored ${Date.now() - deletedAt} ms after deletion`);
    const checks = metricValue(await metrics('node1')(), 'weft_resync_checks_total', { what: 'iptables_rules' }) ?? 0;
    expect(await weftRules('node1')).toEqual(before);
    const fixes = await waitForFixes('node1', n, 3);
    expect(fixes.map((l) => [l.subsystem, l.msg])).toEqual([
      ['ip_masq', 're-asserted: chain filter/WEFT-FWD missing'],
      ['ip_masq', 're-asserted: hook nat/POSTROUTING → WEFT-POSTRTG missing'],
      ['ip_masq', 're-asserted: hook filter/FORWARD → WEFT-FWD missing'],
    ]);
    // two more checks (the one that restored may still have been finishing): nothing left to fix, nothing logged
    await waitForMetric(metrics('node1'), 'weft_resync_checks_total', { what: 'iptables_rules' }, (c) => (c ?? 0) >= checks + 2, 15_000, 250);
    expect(fixesSince('node1', n)).toHaveLength(3);
    expect(await weftRules('node1')).toEqual(before);
  }, 40_000);

  it('restores a downed TUN with tampered MTU, address and route within --link-resync (10 s), one log line per fix', async () => {
    const node = lab.node('node2');
    const want = { up: true, mtu: node.mtu, addrs: [`${node.subnet!.split('/')[0]}/32`], routes: [NETWORK] };
    expect(await tunState('node2')).toEqual(want);
    const n = logOf('node2').length;
    // One `ip -batch`, so that a --link-resync check cannot fall between the steps and repair half.
    const tamper = [`link set dev weft0 mtu 1300`, `addr add 10.244.99.0/32 dev weft0`, `addr del ${want.addrs[0]} dev weft0`, `link set dev weft0 down`].join('\n'); // down takes the route with it
    await run('ip', ['-n', node.ns, '-batch', '-'], { input: `${tamper}\n` });
    const tamperedAt = Date.now();
    await waitFor(async () => (JSON.stringify(await tunState('node2')) === JSON.stringify(want) ? true : undefined), 13_000, () => new Error('the TUN was not restored within 13 s'), 250);
    console.log(`TUN restored ${Date.now() - tamperedAt} ms after tampering`);
    // Every fix is logged (the tampered state itself is proven by them: nothing else logs them).
    const fixes = await waitForFixes('node2', n, 5);
    expect(fixes.map((l) => [l.subsystem, l.msg])).toEqual([
      ['tun', 're-asserted: weft0 is down'],
      ['tun', `re-asserted: MTU 1300, want ${node.mtu}`],
      ['tun', 're-asserted: stale address 10.244.99.0/32'],
      ['tun', `re-asserted: address ${want.addrs[0]} missing`],
      ['tun', `re-asserted: route ${NETWORK} missing`],
    ]);
    expect(fixes[0].fix).toBe('ip link set dev weft0 up');
    await waitReachable(pod1.ns, pod2.ip, 5_000);
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
  }, 30_000);

  it('turns IPv6 on the TUN off again within --link-resync (10 s), one log line', async () => {
    const node = lab.node('node2');
    const ipv6Off = async (): Promise<string> => (await lab.exec(node.ns, 'sysctl', ['-n', 'net.ipv6.conf.weft0.disable_ipv6'])).trim();
    expect(await ipv6Off()).toBe('1');
    const n = logOf('node2').length;
    await lab.exec(node.ns, 'sysctl', ['-w', 'net.ipv6.conf.weft0.disable_ipv6=0']);
    await waitFor(async () => ((await ipv6Off()) === '1' ? true : undefined), 13_000, () => new Error('IPv6 was not turned off within 13 s'), 250);
    const fixes = await waitForFixes('node2', n, 1);
    expect(fixes.map((l) => [l.subsystem, l.msg, l.fix])).toEqual([['tun', 're-asserted: IPv6 on', 'sysctl -w net.ipv6.conf.weft0.disable_ipv6=1']]);
    expect((await ping(pod2.ns, pod1.ip, { count: 3, intervalS: 0.05 })).received).toBe(3);
  }, 30_000);

  it('a SIGSTOPped etcd reads weft_etcd_up 0 within 15 s, /readyz stays 200 with the reason, pods keep talking; SIGCONT brings it back', async () => {
    const etcd = lab.state.processes.find((p) => p.role === 'etcd');
    if (!etcd || !runs(etcd.pid, etcd.marker)) throw new Error('the lab etcd is not running');
    const nodes = ['node1', 'node2'];
    for (const node of nodes) expect(await etcdUp(node)).toBe(1);
    const marks = new Map(nodes.map((node) => [node, logOf(node).length]));
    const since = (node: string): LogLine[] => logOf(node).slice(marks.get(node));
    process.kill(etcd.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      const traffic = ping(pod1.ns, pod2.ip, { count: 60, intervalS: 0.25 }); // throughout detection, 15 s
      for (const node of nodes) {
        await waitFor(async () => ((await etcdUp(node)) === 0 ? true : undefined), 15_000 - (Date.now() - stoppedAt), () => new Error(`${node}: weft_etcd_up still not 0 ${Date.now() - stoppedAt} ms after SIGSTOP`), 250);
        console.log(`${node}: weft_etcd_up 0 ${Date.now() - stoppedAt} ms after SIGSTOP`);
      }
      const r = await readyz('node1');
      expect(r.code).toBe(200);
      expect(r.body).toMatch(/^ok; etcd unreachable since \S+ \(forwarding continues; lease renewal and peer changes wait for etcd\)$/);
      const sent = await traffic;
      console.log(`pod traffic while etcd hung: ${sent.received}/${sent.sent}`);
      expect(sent.received).toBeGreaterThanOrEqual(sent.sent - 1);
      expect(sent.sent).toBe(60);
    } finally {
      process.kill(etcd.pid, 'SIGCONT');
    }
    for (const node of nodes) await waitFor(async () => ((await etcdUp(node)) === 1 ? true : undefined), 10_000, () => new Error(`${node}: weft_etcd_up not back to 1 after SIGCONT`), 250);
    expect((await readyz('node1'))).toEqual({ code: 200, body: 'ok' });
    for (const node of nodes) {
      const etcdLines = since(node).filter((l) => l.subsystem === 'etcd').map((l) => l.event);
      expect(etcdLines).toEqual([LogEvent.etcdUnreachable, LogEvent.etcdReachableAgain]);
    }
    expect((await ping(pod1.ns, pod2.ip, { count: 3, intervalS: 0.1 })).received).toBe(3);
  }, 60_000);
});
