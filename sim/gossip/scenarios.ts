// Scenarios: what happens to the simulated cluster and what is measured. One cluster lives through
// the asked-for ones, in this order:
//   steady (traffic, false suspicions) → crash → join → leave → rejoin (the crashed one restarts)
//   → slow (a fraction of members run late, as overloaded nodes would; a window, then a crash)
//   → partition (a fraction is cut off, then the network heals; last, as it may never fully heal)
// Every figure is simulated time. "On all" means every member whose process is up, other than the
// subject; the p50/p99/max are over those members' first sighting.
import type { MemberChange } from '../../daemon/control/gossip/membership.js';
import { pushPullIntervalFor, type SwimConfig } from '../../daemon/control/gossip/swim-config.js';
import type { MemberState } from '../../daemon/control/gossip/types.js';
import { SimCluster } from './cluster.js';
import type { NetworkOptions } from './network.js';
import { seededRandom } from './random.js';

export const SCENARIOS = ['steady', 'crash', 'join', 'leave', 'rejoin', 'slow', 'partition'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface SimOptions {
  members: number;
  swim: Readonly<SwimConfig>;
  net: Readonly<NetworkOptions>;
  scenarios: readonly ScenarioName[];
  /** Fraction of slow members in the `slow` scenario. */
  slowFraction: number;
  /** Fraction of members cut off in the `partition` scenario, and for how long. */
  partitionFraction: number;
  partitionMs: number;
  /** Length of the steady-state traffic window. */
  steadyMs: number;
  /** Longest wait for one event (a crash seen dead on all …) before it is reported as null. */
  limitMs: number;
  /** Called with each result as soon as it is known. */
  onResult?: (r: ScenarioResult) => void;
  /** Progress lines (cluster formed, scenario done). */
  onProgress?: (line: string) => void;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  members: number;
  loss: number;
  slowFraction: number;
  /** Simulated length of the scenario's window (ms). */
  simulatedMs: number;
  deadOnAllP50Ms: number | null;
  deadOnAllP99Ms: number | null;
  deadOnAllMaxMs: number | null;
  /** First member to suspect the crashed one. */
  firstSuspectMs: number | null;
  joinOnAllP50Ms: number | null;
  joinOnAllP99Ms: number | null;
  joinOnAllMaxMs: number | null;
  /** join: envelope bytes sent to the new member during the window (its join cost). */
  joinerBytesIn: number | null;
  /** leave: seen LEFT by all; rejoin: a restarted member seen alive again by all. */
  leftOnAllP99Ms: number | null;
  rejoinOnAllP99Ms: number | null;
  /** partition: from the heal until every member sees every other alive. */
  healedMs: number | null;
  /** Suspicions and deaths of members whose process never stopped (partitioned pairs excluded). */
  falseSuspicions: number;
  falseDeaths: number;
  /** partition: deaths declared across the cut (expected). */
  partitionDeaths: number;
  messagesPerMemberPerSec: number;
  bytesPerMemberPerSec: number;
  /** bytesPerMemberPerSec by the request's kind (replies counted with their request). */
  bytesByKind: { ping: number; pingReq: number; pushPull: number; gossip: number };
  /** Wall-clock time and events of the scenario's window. */
  wallMs: number;
  events: number;
}

/** The p-quantile (0…1) of `xs` by nearest rank, or null when empty. */
export function quantile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** First sighting, by every member up at the start, of `subject` in `state`. */
class Spread {
  readonly times: number[] = [];
  private readonly waiting: Uint8Array;
  private remaining = 0;

  constructor(
    private readonly sim: SimCluster,
    readonly subject: number,
    readonly state: MemberState,
  ) {
    this.start = sim.now();
    this.waiting = new Uint8Array(sim.net.up.length);
    for (let i = 0; i < this.waiting.length; i++) {
      if (i !== subject && sim.net.up[i] === 1) {
        this.waiting[i] = 1;
        this.remaining++;
      }
    }
  }

  readonly start: number;

  get done(): boolean {
    return this.remaining === 0;
  }

  see(observer: number, subject: number, state: MemberState): void {
    if (subject !== this.subject || state !== this.state || this.waiting[observer] !== 1) return;
    this.waiting[observer] = 0;
    this.remaining--;
    this.times.push(this.sim.now() - this.start);
  }

  /** p-quantile, or null when not every member saw it. */
  q(p: number): number | null {
    return this.done ? quantile(this.times, p) : null;
  }
}

class Run {
  readonly sim: SimCluster;
  falseSuspicions = 0;
  falseDeaths = 0;
  partitionDeaths = 0;
  firstSuspect: number | null = null;
  /** Members whose process stopped at some point (their deaths are not false). */
  private readonly everDown: Uint8Array;
  private spreads: Spread[] = [];
  /** Observer–subject pairs (both up) where the observer does not see the subject alive. */
  notAlive = 0;
  /** partition: 'split' while cut (cross-side deaths expected), 'healing' until every view is alive again. */
  partition: 'none' | 'split' | 'healing' = 'none';
  private readonly random: () => number;

  constructor(private readonly o: SimOptions) {
    const extra = 2;
    this.sim = new SimCluster(o.members, o.members + extra, o.swim, o.net);
    this.random = seededRandom(o.net.seed + 7);
    this.everDown = new Uint8Array(o.members + extra);
    this.sim.onChange((obs, subj, c) => this.observe(obs, subj, c));
    this.sim.bootstrap();
  }

  private observe(observer: number, subject: number, c: MemberChange): void {
    const state = c.member.state;
    const net = this.sim.net;
    if (c.previous === 'alive' && state !== 'alive') this.notAlive++;
    else if (c.previous !== 'alive' && c.previous !== undefined && state === 'alive') this.notAlive--;
    // Cut off: deaths across the cut; healing: stale deaths carried over from the other side.
    const expected = this.partition === 'healing' || (this.partition === 'split' && net.group[observer] !== net.group[subject]);
    if (state === 'suspect' && c.previous !== 'suspect') {
      if (this.firstSuspect === null && this.victim === subject) this.firstSuspect = this.sim.now() - this.victimAt;
      if (this.everDown[subject] === 0 && !expected) this.falseSuspicions++;
    }
    if (state === 'dead' && c.previous !== 'dead') {
      if (expected) this.partitionDeaths++;
      else if (this.everDown[subject] === 0) this.falseDeaths++;
    }
    for (const s of this.spreads) s.see(observer, subject, state);
  }

  victim = -1;
  victimAt = 0;

  /** Marks a random `fraction` of the up members slow; returns them. */
  makeSlow(fraction: number): number[] {
    const slow: number[] = [];
    for (let i = 0; i < this.o.members; i++) {
      if (this.sim.net.up[i] === 1 && this.random() < fraction) {
        this.sim.net.slow[i] = 1;
        slow.push(i);
      }
    }
    return slow;
  }

  /** A random up member that is not slow. */
  pick(): number {
    for (;;) {
      const i = Math.floor(this.random() * this.o.members);
      if (this.sim.net.up[i] === 1 && this.sim.net.slow[i] === 0) return i;
    }
  }

  /** Runs until `spread` is complete or limitMs passed. */
  async await(spread: Spread): Promise<void> {
    this.spreads.push(spread);
    await this.sim.run(this.sim.now() + this.o.limitMs, () => spread.done);
    this.spreads = this.spreads.filter((s) => s !== spread);
  }

  crash(i: number): Spread {
    this.victim = i;
    this.victimAt = this.sim.now();
    this.firstSuspect = null;
    this.everDown[i] = 1;
    this.sim.crash(i);
    return new Spread(this.sim, i, 'dead');
  }

  /** Crashes member i and records how long until every member saw it dead. */
  async crashAndWait(i: number, r: ScenarioResult): Promise<void> {
    const s = this.crash(i);
    await this.await(s);
    r.deadOnAllP50Ms = ms(s.q(0.5));
    r.deadOnAllP99Ms = ms(s.q(0.99));
    r.deadOnAllMaxMs = ms(s.q(1));
    r.firstSuspectMs = ms(this.firstSuspect);
  }

  leave(i: number): Spread {
    this.everDown[i] = 1;
    const s = new Spread(this.sim, i, 'left');
    this.sim.leave(i);
    return s;
  }

  /** Member i starts with every up member as a seed, as weftd's seeds come from all leases. */
  join(i: number): Spread {
    const s = new Spread(this.sim, i, 'alive');
    const seeds: number[] = [];
    for (let j = 0; j < this.sim.net.up.length; j++) if (j !== i && this.sim.net.up[j] === 1) seeds.push(j);
    this.sim.startMember(i, seeds);
    return s;
  }

  /** Measures `body` as one scenario: traffic, false positives and wall time over its window. */
  async window(name: ScenarioName, slowFraction: number, body: (r: ScenarioResult) => Promise<void>): Promise<ScenarioResult> {
    const sim = this.sim;
    const t0 = sim.now();
    const traffic0 = { ...sim.traffic, byKind: { ...sim.traffic.byKind } };
    const falses0 = [this.falseSuspicions, this.falseDeaths, this.partitionDeaths];
    const events0 = sim.events;
    const wall0 = performance.now();
    const live = sim.liveCount();
    const r: ScenarioResult = {
      scenario: name,
      members: this.o.members,
      loss: this.o.net.loss,
      slowFraction,
      simulatedMs: 0,
      deadOnAllP50Ms: null,
      deadOnAllP99Ms: null,
      deadOnAllMaxMs: null,
      firstSuspectMs: null,
      joinOnAllP50Ms: null,
      joinOnAllP99Ms: null,
      joinOnAllMaxMs: null,
      joinerBytesIn: null,
      leftOnAllP99Ms: null,
      rejoinOnAllP99Ms: null,
      healedMs: null,
      falseSuspicions: 0,
      falseDeaths: 0,
      partitionDeaths: 0,
      messagesPerMemberPerSec: 0,
      bytesPerMemberPerSec: 0,
      bytesByKind: { ping: 0, pingReq: 0, pushPull: 0, gossip: 0 },
      wallMs: 0,
      events: 0,
    };
    await body(r);
    const secs = (sim.now() - t0) / 1_000;
    r.simulatedMs = Math.round(sim.now() - t0);
    r.falseSuspicions = this.falseSuspicions - falses0[0];
    r.falseDeaths = this.falseDeaths - falses0[1];
    r.partitionDeaths = this.partitionDeaths - falses0[2];
    r.messagesPerMemberPerSec = round((sim.traffic.messages - traffic0.messages) / live / secs, 2);
    r.bytesPerMemberPerSec = Math.round((sim.traffic.bytes - traffic0.bytes) / live / secs);
    const perSec = (k: keyof typeof traffic0.byKind): number => Math.round((sim.traffic.byKind[k] - traffic0.byKind[k]) / live / secs);
    r.bytesByKind = { ping: perSec('Ping'), pingReq: perSec('PingReq'), pushPull: perSec('PushPull'), gossip: perSec('Gossip') };
    r.wallMs = Math.round(performance.now() - wall0);
    r.events = sim.events - events0;
    this.o.onResult?.(r);
    return r;
  }

  /** Lets the cluster run `ms` (warm-up and settling). */
  idle(ms: number): Promise<void> {
    return this.sim.run(this.sim.now() + ms);
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function ms(v: number | null): number | null {
  return v === null ? null : Math.round(v);
}

/** Runs the asked-for scenarios, in SCENARIOS order, on one cluster. */
export async function simulate(o: SimOptions): Promise<ScenarioResult[]> {
  const want = new Set(o.scenarios);
  const out: ScenarioResult[] = [];
  // Every member started and one push-pull interval's phases spread (see SimCluster.bootstrap).
  const warmMs = pushPullIntervalFor(o.swim, o.members) + 2 * o.swim.probeIntervalMs;
  const settleMs = 1_000;
  const run = new Run(o);
  o.onProgress?.(`${o.members} members formed`);
  await run.idle(warmMs);
  const add = (r: ScenarioResult): void => {
    out.push(r);
    o.onProgress?.(`${o.members} members: ${r.scenario} done`);
  };

  if (want.has('steady')) add(await run.window('steady', 0, () => run.idle(o.steadyMs)));
  const victim = run.pick();
  if (want.has('crash') || want.has('rejoin')) {
    const r = await run.window('crash', 0, async (r) => {
      await run.crashAndWait(victim, r);
      await run.idle(settleMs);
    });
    if (want.has('crash')) add(r);
  }
  if (want.has('join')) {
    add(
      await run.window('join', 0, async (r) => {
        const in0 = run.sim.bytesIn[o.members];
        const s = run.join(o.members);
        await run.await(s);
        r.joinOnAllP50Ms = ms(s.q(0.5));
        r.joinOnAllP99Ms = ms(s.q(0.99));
        r.joinOnAllMaxMs = ms(s.q(1));
        await run.idle(settleMs);
        r.joinerBytesIn = Math.round(run.sim.bytesIn[o.members] - in0);
      }),
    );
  }
  if (want.has('leave')) {
    add(
      await run.window('leave', 0, async (r) => {
        const s = run.leave(run.pick());
        await run.await(s);
        r.leftOnAllP99Ms = ms(s.q(0.99));
        await run.idle(settleMs);
      }),
    );
  }
  if (want.has('rejoin')) {
    add(
      await run.window('rejoin', 0, async (r) => {
        const s = run.join(victim);
        await run.await(s);
        r.rejoinOnAllP99Ms = ms(s.q(0.99));
        await run.idle(settleMs);
      }),
    );
  }
  if (want.has('slow')) {
    const slow = run.makeSlow(o.slowFraction);
    add(
      await run.window('slow', o.slowFraction, async (r) => {
        await run.idle(o.steadyMs);
        await run.crashAndWait(run.pick(), r);
        await run.idle(settleMs);
      }),
    );
    for (const i of slow) run.sim.net.slow[i] = 0;
  }
  if (want.has('partition')) {
    add(
      await run.window('partition', 0, async (r) => {
        const net = run.sim.net;
        const cut = Math.round(o.partitionFraction * o.members);
        for (let i = 0; i < net.group.length; i++) net.group[i] = i < cut ? 1 : 0;
        run.notAlive = 0;
        net.partitioned = true;
        run.partition = 'split';
        await run.idle(o.partitionMs);
        net.partitioned = false;
        run.partition = 'healing';
        const healAt = run.sim.now();
        await run.sim.run(healAt + o.limitMs, () => run.notAlive === 0);
        run.partition = 'none';
        r.healedMs = run.notAlive === 0 ? Math.round(run.sim.now() - healAt) : null;
      }),
    );
  }
  return out;
}
