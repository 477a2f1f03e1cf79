// A real weftd's gossip port under a connection flood from another host of the lab underlay (issue
// 12 item 1, as it was found): 20 000 connections that send the HTTP/2 preface and a SETTINGS frame
// of length 1 and close, then 500 idle ones. weftd's open fds (/proc/<pid>/fd) stay bounded and are
// back where they were within the handshake timeout (10 s), /healthz answers throughout, gossip with
// the other weft node goes on, and /metrics counts the closed connections. Then 40 000 datagrams at
// its UDP probes (garbage, and Pings sealed with another key): none is answered, each is counted,
// one log line per reason names the source, and gossip with the other node goes on.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../../lab/exec.js';
import { Lab } from '../../lab/lab.js';
import { DIST } from '../../lab/paths.js';
import { healthz } from '../../lab/weft-node.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const GOSSIP_PORT = '8473';
const HANDSHAKE_TIMEOUT_MS = 10_000;
const FLOOD = join(DIST, 'test', 'fixtures', 'gossip', 'flood.js');
const UDP_FLOOD = join(DIST, 'test', 'fixtures', 'gossip', 'udp-flood.js');
/** weftd's own connections (etcd, the other node's gossip client) may reconnect meanwhile. */
const SLACK_FDS = 3;

describe('a weftd gossip port under a connection flood (lab)', () => {
  let lab: Lab;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}ga-` });
    await lab.addNode('weft');
    await lab.addNode('weft');
    await lab.addNode('kernel'); // the attacker's host: another address on the underlay
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
  const peerState = async (ns: string, name: string): Promise<string | undefined> => {
    const body = await healthz(ns, '/status');
    return body === undefined ? undefined : (JSON.parse(body) as { peers: { name: string | null; state: string }[] }).peers.find((p) => p.name === name)?.state;
  };
  const rejected = async (ns: string, reason: string): Promise<number> => {
    const m = new RegExp(`weft_gossip_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec((await healthz(ns, '/metrics')) ?? '');
    return m ? Number(m[1]) : -1;
  };

  it('20 000 half-open and 500 idle connections leave its fd count and /healthz as they were within the handshake timeout', async () => {
    const target = lab.node('node2');
    const pid = lab.state.processes.find((p) => p.role === 'weftd node2')!.pid;
    await waitFor(async () => ((await peerState(target.ns, 'node1')) === 'alive' ? true : undefined), 10_000, () => new Error('node2 never saw node1 alive'), 100);
    const before = fds(pid);
    expect(await healthz(target.ns, '/healthz')).toBeDefined();

    let flooding = true;
    let healthFailures = 0;
    let healthChecks = 0;
    let peak = before;
    const watch = (async () => {
      while (flooding) {
        peak = Math.max(peak, fds(pid));
        healthChecks++;
        if ((await healthz(target.ns, '/healthz')) === undefined) healthFailures++;
        await sleep(200);
      }
    })();
    const started = Date.now();
    const out = await lab.exec(lab.node('node3').ns, process.execPath, [FLOOD, target.underlayIp, GOSSIP_PORT, '20000', '64', 'malformed'], 300_000);
    const floodMs = Date.now() - started;
    expect(out).toMatch(/^done \d+/);
    const settledMs = await waitFor(async () => (fds(pid) <= before + SLACK_FDS ? Date.now() - started - floodMs : undefined), HANDSHAKE_TIMEOUT_MS + 5_000, () => new Error(`weftd fds still ${fds(pid)} (before: ${before})`), 100);

    const idle = await lab.exec(lab.node('node3').ns, process.execPath, [FLOOD, target.underlayIp, GOSSIP_PORT, '500', '500', 'idle'], 60_000);
    const [, idleMs, closedByServer, longestMs] = /^done (\d+) (\d+) (\d+)/.exec(idle)!.map(Number);
    expect(closedByServer).toBe(500);
    // each closed within the handshake timeout of its own connect (not of the first of 500)
    expect(longestMs).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 3_000);
    flooding = false;
    await watch;

    await waitFor(async () => (fds(pid) <= before + SLACK_FDS ? true : undefined), 5_000, () => new Error(`weftd fds still ${fds(pid)} (before: ${before})`), 100);
    expect(healthFailures).toBe(0);
    expect(peak - before).toBeLessThan(100);
    expect(await peerState(target.ns, 'node1')).toBe('alive');
    expect(await peerState(lab.node('node1').ns, 'node2')).toBe('alive');
    expect(await rejected(target.ns, 'connection_limit')).toBeGreaterThan(0);
    expect(await rejected(target.ns, 'connection_unauthenticated')).toBeGreaterThan(0);
    process.stdout.write(
      `weftd under flood: 20 000 half-open connections in ${floodMs} ms; fds ${before} → peak ${peak} → ${before}±${SLACK_FDS} ${settledMs} ms after the flood; ` +
        `/healthz ${healthChecks} checks, ${healthFailures} failed; 500 idle connections all closed by weftd within ${idleMs} ms, each within ${longestMs} ms of its connect\n`,
    );
  }, 400_000);

  it('40 000 garbage and forged datagrams at its UDP probes: none answered, all counted, one log line per reason, gossip goes on', async () => {
    const target = lab.node('node2');
    await waitFor(async () => ((await peerState(target.ns, 'node1')) === 'alive' ? true : undefined), 10_000, () => new Error('node2 never saw node1 alive'), 100);
    const [malformed0, badHmac0] = [await rejected(target.ns, 'malformed'), await rejected(target.ns, 'bad_hmac')];
    let flooding = true;
    let healthFailures = 0;
    let notAlive = 0;
    const watch = (async () => {
      while (flooding) {
        if ((await healthz(target.ns, '/healthz')) === undefined) healthFailures++;
        if ((await peerState(target.ns, 'node1')) !== 'alive' || (await peerState(lab.node('node1').ns, 'node2')) !== 'alive') notAlive++;
        await sleep(200);
      }
    })();
    const out = await lab.exec(lab.node('node3').ns, process.execPath, [UDP_FLOOD, target.underlayIp, GOSSIP_PORT, '40000', 'node2'], 300_000);
    flooding = false;
    await watch;
    const [, ms, garbage, forged, replies] = /^done (\d+) (\d+) (\d+) (\d+)/.exec(out)!.map(Number);
    expect(replies).toBe(0);
    const [malformed, badHmac] = [(await rejected(target.ns, 'malformed')) - malformed0, (await rejected(target.ns, 'bad_hmac')) - badHmac0];
    // What the kernel delivered (a full socket buffer drops the rest, uncounted by weftd): 80% on a
    // quiet machine; a loaded one delivers less.
    expect(malformed).toBeGreaterThan(garbage / 10);
    expect(malformed).toBeLessThanOrEqual(garbage);
    expect(badHmac).toBeGreaterThan(forged / 10);
    expect(badHmac).toBeLessThanOrEqual(forged);
    expect(healthFailures).toBe(0);
    expect(notAlive).toBe(0);
    const log = readFileSync(join(target.dir, 'weftd.log'), 'utf8');
    const lines = log.split('\n').filter((l) => l.includes('gossip: rejected') && l.includes(lab.node('node3').underlayIp));
    expect(lines.length).toBe(2);
    process.stdout.write(`weftd under a UDP flood: ${garbage + forged} datagrams in ${ms} ms; counted malformed ${malformed} of ${garbage}, bad_hmac ${badHmac} of ${forged}; 0 answered; ${lines.length} log lines\n`);
  }, 400_000);
});
