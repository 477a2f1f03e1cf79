// The gossip simulator end to end at 50 members: the production membership converges, detects a
// crash everywhere, spreads a join, declares no healthy member dead, and a run is reproducible.
import { describe, expect, it } from 'vitest';
import { swimConfig } from '../../../daemon/control/gossip/swim-config.js';
import { DEFAULT_NETWORK } from '../../../sim/gossip/network.js';
import { simulate, type ScenarioName, type SimOptions } from '../../../sim/gossip/scenarios.js';

function options(scenarios: ScenarioName[], loss = 0.01, seed = 1): SimOptions {
  return { members: 50, swim: swimConfig(), net: { ...DEFAULT_NETWORK, loss, seed }, scenarios, slowFraction: 0.1, partitionFraction: 0.2, partitionMs: 8_000, steadyMs: 5_000, limitMs: 60_000 };
}

describe('gossip simulator, 50 members', () => {
  it('detects a crash on every member within the 5 s bound, spreads a join within 1 s, with no false death', async () => {
    const results = await simulate(options(['steady', 'crash', 'join', 'rejoin']));
    const by = Object.fromEntries(results.map((r) => [r.scenario, r]));
    expect(by.steady.falseSuspicions).toBe(0);
    // at least one probe per probe interval, whatever the interval is
    expect(by.steady.messagesPerMemberPerSec).toBeGreaterThan(1000 / swimConfig().probeIntervalMs);
    // a request and its reply each carry an envelope of about 90 bytes
    expect(by.steady.bytesPerMemberPerSec / by.steady.messagesPerMemberPerSec).toBeGreaterThan(150);
    // anti-entropy in a steady cluster exchanges digests, not full states: less than probing costs
    expect(by.steady.bytesByKind.pushPull).toBeLessThan(by.steady.bytesByKind.ping);
    expect(by.crash.firstSuspectMs).not.toBeNull();
    expect(by.crash.deadOnAllMaxMs).not.toBeNull();
    expect(by.crash.deadOnAllMaxMs!).toBeLessThanOrEqual(5_000);
    expect(by.crash.deadOnAllP50Ms!).toBeLessThanOrEqual(by.crash.deadOnAllP99Ms!);
    expect(by.crash.deadOnAllMaxMs! - by.crash.firstSuspectMs!).toBeGreaterThanOrEqual(swimConfig().suspicionTimeoutMs);
    expect(by.join.joinOnAllMaxMs).not.toBeNull();
    expect(by.join.joinOnAllMaxMs!).toBeLessThanOrEqual(1_000);
    expect(by.rejoin.rejoinOnAllP99Ms).not.toBeNull();
    for (const r of results) expect(r.falseDeaths).toBe(0);
  });

  it('declares no slow member dead and still detects a crash', async () => {
    const [slow] = await simulate(options(['slow']));
    expect(slow.falseDeaths).toBe(0);
    expect(slow.deadOnAllMaxMs).not.toBeNull();
  });

  it('counts deaths across a partition as expected, not false', async () => {
    const [p] = await simulate(options(['partition'], 0));
    expect(p.partitionDeaths).toBeGreaterThan(0);
    expect(p.falseDeaths).toBe(0);
    expect(p.healedMs).not.toBeNull();
  });

  it('gives the same figures for the same seed', async () => {
    const strip = (rs: Awaited<ReturnType<typeof simulate>>) => rs.map(({ wallMs: _w, ...r }) => r);
    const a = strip(await simulate(options(['steady', 'crash'], 0.05, 9)));
    const b = strip(await simulate(options(['steady', 'crash'], 0.05, 9)));
    expect(a).toEqual(b);
  });
});
