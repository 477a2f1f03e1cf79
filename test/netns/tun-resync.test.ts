// The --link-resync check runs `ip` only when the TUN's fingerprint (read from /sys, getifaddrs and
// /proc, without a process) changed since the TUN was last found right. Driven as weftd runs it:
// a Node process inside a test namespace holding a persistent TUN set up as weft sets its own,
// with `ip` wrapped by a script that counts its runs. Each kind of drift the check repairs (MTU,
// link down, address, Network route, IPv6 switched on) is repaired at the next check; nothing else
// starts `ip`. Nothing touches the root namespace.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const dist = new URL('../../dist/daemon/', import.meta.url).pathname;
const TUN = 'wrs0';
let node: Netns;
let dir: string;

beforeAll(async () => {
  requireRoot();
  node = await createNetns('rs');
  dir = mkdtempSync(join(tmpdir(), 'weft-rs-'));
  const real = (await node.exec('sh', ['-c', 'command -v ip'])).trim();
  writeFileSync(join(dir, 'ip'), `#!/bin/sh\necho run >> ${dir}/runs\nexec ${real} "$@"\n`);
  chmodSync(join(dir, 'ip'), 0o755);
  writeFileSync(join(dir, 'runs'), '');
  await node.exec('sh', ['-c', `ip tuntap add dev ${TUN} mode tun && sysctl -qw net.ipv6.conf.${TUN}.disable_ipv6=1 && ip link set ${TUN} mtu 1450 up && ip addr add 10.244.1.0/32 dev ${TUN} && ip route add 10.244.0.0/16 dev ${TUN}`]);
});

afterAll(async () => {
  await node?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` (with check(), runs(), sh() and print()) inside the namespace; returns what it printed. */
async function inNamespace(body: string): Promise<unknown[]> {
  const script = join(dir, 'check.mjs');
  writeFileSync(
    script,
    `import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tunResync } from '${dist}control/reconcile/index.js';
const check = tunResync({ name: '${TUN}', mtu: 1450, address: '10.244.1.0/32', network: '10.244.0.0/16' }, { warn() {}, info() {}, debug() {}, error() {} });
const runs = () => readFileSync('${dir}/runs', 'utf8').split('\\n').filter(Boolean).length;
const sh = (cmd) => execFileSync('/bin/sh', ['-c', cmd], { env: { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
const out = [];
const print = (x) => out.push(x);
${body}
console.log(JSON.stringify(out));
`,
  );
  return JSON.parse(await node.exec('node', [script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }})) as unknown[];
}

describe('--link-resync', () => {
  it('starts ip only when the TUN changed, and repairs each kind of drift at the next check', async () => {
    const out = await inNamespace(`
      const step = async (what, drift) => {
        if (drift) sh(drift);
        const before = runs();
        await check();
        const repairing = runs() - before;
        await check();
        const confirming = runs() - before - repairing;
        const quiet = runs();
        await check();
        await check();
        print({ what, repairing, confirming, quietAfter: runs() - quiet });
      };
      await step('start');
      sh('ping -c 3 -i 0.2 -W 1 127.0.0.1 >/dev/null; ip neigh flush all');
      await step('traffic elsewhere');
      await step('mtu', 'ip link set ${TUN} mtu 1400');
      await step('down', 'ip link set ${TUN} down');
      await step('address', 'ip addr del 10.244.1.0/32 dev ${TUN}');
      await step('route', 'ip route del 10.244.0.0/16 dev ${TUN}');
      await step('ipv6', 'sysctl -qw net.ipv6.conf.${TUN}.disable_ipv6=0');
      print(sh('ip -j addr show dev ${TUN}; ip -j route show dev ${TUN}; cat /proc/sys/net/ipv6/conf/${TUN}/disable_ipv6').toString());
    `);
    const state = String(out.pop());
    const steps = out as { what: string; repairing: number; confirming: number; quietAfter: number }[];
    // The first check reads the state (one ip run, nothing to fix); then nothing until it changes.
    expect(steps[0]).toEqual({ what: 'start', repairing: 1, confirming: 0, quietAfter: 0 });
    expect(steps[1]).toEqual({ what: 'traffic elsewhere', repairing: 0, confirming: 0, quietAfter: 0 });
    // A drift: the read and its fix (ip runs; IPv6 is switched off in /proc), a confirming read at
    // the next check, then quiet.
    for (const s of steps.slice(2)) {
      expect(s.repairing, s.what).toBeGreaterThanOrEqual(s.what === 'ipv6' ? 1 : 2);
      expect(s.confirming, s.what).toBe(1);
      expect(s.quietAfter, s.what).toBe(0);
    }
    expect(steps.map((s) => s.what)).toEqual(['start', 'traffic elsewhere', 'mtu', 'down', 'address', 'route', 'ipv6']);
    expect(state).toContain('"mtu":1450');
    expect(state).toContain('"UP"');
    expect(state).toContain('"local":"10.244.1.0","prefixlen":32');
    expect(state).toContain('"dst":"10.244.0.0/16"');
    expect(state.trim().endsWith('1')).toBe(true);
  });
});
