// The simulated underlay: per-link latency fixed and symmetric within its spread, jitter bounded,
// loss at the configured rate, partitions and crashed members unreachable, lag only on slow members.
import { describe, expect, it } from 'vitest';
import { DEFAULT_NETWORK, Network, type NetworkOptions } from '../../../sim/gossip/network.js';
import { seededRandom } from '../../../sim/gossip/random.js';

function net(o: Partial<NetworkOptions> = {}, n = 100): Network {
  const opts = { ...DEFAULT_NETWORK, ...o };
  const nw = new Network(n, opts, seededRandom(opts.seed));
  nw.up.fill(1);
  return nw;
}

describe('sim network model', () => {
  it('gives each link a fixed, symmetric base latency within latencyMs × (1 ± spread)', () => {
    const nw = net({ latencyMs: 1, latencySpread: 0.5 });
    const seen = new Set<number>();
    for (let a = 0; a < 30; a++) {
      for (let b = a + 1; b < 30; b++) {
        const l = nw.linkLatency(a, b);
        expect(l).toBe(nw.linkLatency(b, a));
        expect(l).toBe(nw.linkLatency(a, b));
        expect(l).toBeGreaterThanOrEqual(0.5);
        expect(l).toBeLessThan(1.5);
        seen.add(l);
      }
    }
    // Links differ from one another.
    expect(seen.size).toBeGreaterThan(400);
  });

  it('adds jitter in [0, jitterMs) on top of the link latency', () => {
    const nw = net({ jitterMs: 2 });
    const base = nw.linkLatency(1, 2);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < 2_000; i++) {
      const d = nw.delay(1, 2) - base;
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(2);
    expect(max - min).toBeGreaterThan(1.9);
  });

  it('loses packets at the configured rate and counts them', () => {
    const nw = net({ loss: 0.1 });
    let lost = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (nw.delay(3, 4) < 0) lost++;
    expect(lost / n).toBeGreaterThan(0.09);
    expect(lost / n).toBeLessThan(0.11);
    expect(nw.dropped.loss).toBe(lost);
    expect([...Array(1_000)].every(() => net({ loss: 0 }).delay(3, 4) >= 0)).toBe(true);
  });

  it('makes members across a partition, and crashed members, unreachable', () => {
    const nw = net();
    nw.group[1] = 1;
    expect(nw.reachable(0, 1)).toBe(true);
    nw.partitioned = true;
    expect(nw.reachable(0, 1)).toBe(false);
    expect(nw.reachable(1, 0)).toBe(false);
    expect(nw.reachable(0, 2)).toBe(true);
    nw.partitioned = false;
    nw.up[2] = 0;
    expect(nw.reachable(0, 2)).toBe(false);
    expect(nw.reachable(2, 0)).toBe(false);
  });

  it('delays only slow members, by less than slowLagMs', () => {
    const nw = net({ slowLagMs: 100 });
    nw.slow[5] = 1;
    const lags = Array.from({ length: 1_000 }, () => nw.lag(5));
    expect(Math.min(...lags)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lags)).toBeLessThan(100);
    expect(Math.max(...lags)).toBeGreaterThan(90);
    expect(nw.lag(6)).toBe(0);
  });
});
