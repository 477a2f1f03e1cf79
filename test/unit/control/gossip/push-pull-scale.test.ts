// Anti-entropy scales with the cluster: memberlist's pushPullScale on the configured interval.
import { describe, expect, it } from 'vitest';
import { pushPullIntervalFor, swimConfig } from '../../../../daemon/control/gossip/swim-config.js';
import { FakeCluster } from '../../../fakes/gossip-net.js';

describe('push-pull interval', () => {
  it('is the configured interval up to 32 members, then × (⌈log2 n − 5⌉ + 1)', () => {
    const c = swimConfig({ pushPullIntervalMs: 1_000 });
    expect([1, 5, 32].map((n) => pushPullIntervalFor(c, n))).toEqual([1_000, 1_000, 1_000]);
    expect(pushPullIntervalFor(c, 33)).toBe(2_000);
    expect(pushPullIntervalFor(c, 64)).toBe(2_000);
    expect(pushPullIntervalFor(c, 65)).toBe(3_000);
    expect(pushPullIntervalFor(c, 1_000)).toBe(6_000);
    expect(pushPullIntervalFor(c, 5_000)).toBe(9_000);
    expect(pushPullIntervalFor(c, 10_000)).toBe(10_000);
    expect(pushPullIntervalFor(swimConfig({ pushPullIntervalMs: 1_000, pushPullScaleThreshold: 0 }), 10_000)).toBe(1_000);
  });

  it('is what a member of a cluster above the threshold waits between two exchanges', async () => {
    const c = new FakeCluster({ pushPullScaleThreshold: 4 });
    for (let i = 0; i < 10; i++) c.add(i);
    await c.clock.advance(2_000);
    const pushPulls = (): number => c.net.log.filter((m) => m.from === 'n3' && m.kind === 'PushPull').length;
    const before = pushPulls();
    // 10 members, threshold 4: 5 s × (⌈log2 10 − 2⌉ + 1) = 15 s (± 10 % jitter).
    await c.clock.advance(30_000);
    expect(pushPulls() - before).toBeGreaterThanOrEqual(1);
    expect(pushPulls() - before).toBeLessThanOrEqual(3);
  });
});
