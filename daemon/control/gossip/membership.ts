// SWIM membership (Das, Gupta, Motivala 2002, with HashiCorp memberlist's refinements), as a pure
// state machine: time comes from an injected Clock, messages go through an injected Transport.
//
// Per member, for one incarnation:
//
//   ALIVE ──probe and k indirect probes fail──▶ SUSPECT ──suspicion timeout──▶ DEAD
//     ▲                                            │                            │
//     └────── the member refutes: ALIVE with a higher incarnation ◀────────────┘
//   any ──graceful leave──▶ LEFT
//
// Rounds (each on its own named, jittered, unref'd timer):
//   probe:        ping the next member of a shuffled round-robin; on no ack within probeTimeoutMs,
//                 ask k others to ping it (PingReq); no ack by the end of the round → suspect.
//   disseminate:  while an update is fresh (sent in fewer than FRESH_ROUNDS rounds' worth of
//                 messages), send pending updates to gossipFanout random members (members dead for
//                 less than gossipToTheDeadMs included, so a wrongly declared one can refute).
//   push-pull:    anti-entropy with one random member, less often in larger clusters
//                 (pushPullIntervalFor): send a digest of the state (digest.ts), get back the
//                 other side's records in the buckets that differ, send back ours that it lacked.
//                 Also, with probability dead/alive, the same with a random dead member, so a
//                 member wrongly declared dead (a healed partition) hears of it and refutes
//                 (Serf's reconnect).
//   join:         full-state push-pull with up to joinFanout random seeds at a time, until one
//                 answers; retried while no other member is alive. Once joined, announce this
//                 member directly to up to announceFanout members, and push-pull again soon. A
//                 seed added later that is not a known member is contacted by an expected
//                 joinFanout members of the cluster, not by all of them.
// Every ping, ack and gossip message piggybacks pending updates (BroadcastQueue).
import type { Logger } from 'pino';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';
import { jitter, within, type Clock, type TimerHandle } from './clock.js';
import type { AckMsg, GossipHandler, GossipMsg, PingMsg, PingReqMsg, PushPullMsg, Transport } from './messages.js';
import { pushPullIntervalFor, type SwimConfig } from './swim-config.js';
import { memberAddress, supersedes, type MemberInfo, type MemberRecord, type MemberState, type MemberView } from './types.js';
import { MAX_INCARNATION, MAX_MEMBERS_PER_MESSAGE } from './codec.js';
import { bucketsFor, leafOf, StateDigest } from './digest.js';
import { LogEvent } from '../../observability/log-events.js';

/**
 * A record from a third party (not the member itself) may raise the incarnation known for a member
 * (0 when unknown) by at most this much; beyond, it is refused and counted. Only a member raises
 * its own incarnation, by one per refutation or restart, so honest records never jump this far,
 * while a member's own announcements are always accepted: a member can always refute.
 */
export const MAX_INCARNATION_STEP = 2 ** 20;
/** How early, as a fraction of the probe interval, a round may run to probe back (see probeBack). */
export const PROBE_BACK_WINDOW = 0.25;
const MAX_LOGGED_JUMPS = 1_024;

const isLive = (s: MemberState): boolean => s === 'alive' || s === 'suspect';

/** Dissemination rounds an update gets on dedicated messages before it only rides on probes. */
const FRESH_ROUNDS = 1;

export interface MemberChange {
  member: MemberView;
  /** undefined when the member was not known before. */
  previous: MemberState | undefined;
}

export interface MembershipCounters {
  probes: number;
  /** Probe rounds run early, right after answering the member they probe (see probeBack). */
  probesBack: number;
  probeFailures: number;
  indirectProbes: number;
  suspicions: number;
  deaths: number;
  refutations: number;
  joins: number;
  /** Current local-health score (0 = healthy); probes slow down by (1 + awareness). */
  awareness: number;
  /** Records refused for an implausible incarnation (see MAX_INCARNATION_STEP). */
  incarnationRefused: number;
}

export interface MembershipOptions {
  self: MemberInfo;
  /** Starting incarnation (a restarted member refutes its old records anyway). */
  incarnation?: number;
  config: Readonly<SwimConfig>;
  clock: Clock;
  transport: Transport;
  logger: Logger;
  random?: () => number;
  /**
   * Another live process claims this member's name: it announced itself alive with different
   * info (address, subnet …) after this member had already refuted such a claim once. Called on
   * every such record; the member keeps refuting.
   */
  onNameConflict?: (other: MemberRecord) => void;
}

interface Suspicion {
  timer: TimerHandle;
  started: number;
  accusers: Set<string>;
  confirmations: number;
  minMs: number;
  maxMs: number;
  /** Confirmations after which the timeout is minMs. */
  expected: number;
}

interface Entry {
  /** Records are never mutated: one received is kept as it is (views and messages get copies). */
  record: MemberRecord;
  /** digest.ts leaf of the name. */
  leaf: number;
  lastSeen: number;
  stateSince: number;
  suspicion: Suspicion | undefined;
}

export class Membership implements GossipHandler {
  private readonly self: MemberRecord;
  private readonly entries = new Map<string, Entry>();
  private readonly queue = new BroadcastQueue();
  /** Digest of the state: every entry's record and this member's own. */
  private readonly digest = new StateDigest();
  private readonly selfLeaf: number;
  /** Entries alive or suspect (kept by apply; forgetDead removes only dead and left ones). */
  private live = 0;
  private readonly listeners = new Set<(c: MemberChange) => void>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly cfg: Readonly<SwimConfig>;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly random: () => number;
  private seeds: string[] = [];
  /** Seeds added after joining, to contact at the next push-pull round (see setSeeds). */
  private readonly laterSeeds = new Set<string>();
  private probeOrder: string[] = [];
  private probeIndex = 0;
  /** Clock time the next probe round is due (while one is scheduled). */
  private nextProbeAt = 0;
  private probing = false;
  private seq = 0;
  private awareness = 0;
  private running = false;
  private announced = false;
  private left = false;
  /** Incarnation of the last refutation of a record with other info about this member. */
  private refutedOtherInfo: number | undefined;
  readonly counters: MembershipCounters = { probes: 0, probesBack: 0, probeFailures: 0, indirectProbes: 0, suspicions: 0, deaths: 0, refutations: 0, joins: 0, awareness: 0, incarnationRefused: 0 };
  private readonly loggedJumps = new Set<string>();

  constructor(private readonly opts: MembershipOptions) {
    this.self = { ...opts.self, incarnation: opts.incarnation ?? 0, state: 'alive' };
    this.selfLeaf = leafOf(this.self.name);
    this.digest.toggle(this.self);
    this.cfg = opts.config;
    this.clock = opts.clock;
    this.transport = opts.transport;
    this.log = opts.logger;
    this.random = opts.random ?? Math.random;
  }

  get name(): string {
    return this.self.name;
  }

  /** Starts the rounds and joins through `seeds` ("host:port"). */
  start(seeds: readonly string[] = []): void {
    if (this.running || this.left) return;
    this.running = true;
    this.seeds = [...seeds];
    this.scheduleProbe(this.random() * this.cfg.probeIntervalMs);
    this.enqueue(this.self);
    this.schedule('gossip-push-pull', jitter(pushPullIntervalFor(this.cfg, this.liveCount() + 1), this.cfg.jitter, this.random), () => this.pushPullRound());
    void this.join();
  }

  /**
   * Replaces the seed list. New seeds that are not known live members are contacted: by a member
   * not yet joined, joinFanout of them at once; by a joined one, each with probability
   * joinFanout / members (so a new node is contacted by about joinFanout members of a large
   * cluster, not all of them), through an anti-entropy exchange at the next push-pull round if it
   * is still not a known member by then (a new node usually joins by itself first).
   */
  setSeeds(seeds: readonly string[]): void {
    const known = new Set(this.seeds);
    this.seeds = [...seeds];
    if (!this.running) return;
    let fresh = seeds.filter((s) => !known.has(s) && s !== memberAddress(this.self));
    if (fresh.length === 0) return;
    const live = this.liveEntries();
    if (live.length === 0) return void this.joinVia(this.shuffle(fresh).slice(0, Math.max(1, this.cfg.joinFanout)));
    const members = new Set(live.map((e) => memberAddress(e.record)));
    const p = this.cfg.joinFanout / (live.length + 1);
    for (const a of fresh) if (!members.has(a) && this.random() < p) this.laterSeeds.add(a);
  }

  /** This member's own record. */
  selfRecord(): MemberRecord {
    return { ...this.self };
  }

  /** Every other member known, including dead and left ones (until forgotten). */
  members(): MemberView[] {
    return [...this.entries.values()].map((e) => ({ ...e.record, lastSeen: e.lastSeen, stateSince: e.stateSince }));
  }

  member(name: string): MemberView | undefined {
    const e = this.entries.get(name);
    return e && { ...e.record, lastSeen: e.lastSeen, stateSince: e.stateSince };
  }

  /** Calls `fn` after every change of a member's state, incarnation or info. Returns an unsubscribe. */
  subscribe(fn: (c: MemberChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Pending update about `name` and how often it was sent (tests and diagnostics). */
  pendingTransmits(name: string): number | undefined {
    return this.queue.transmits(name);
  }

  /** Updates are sent at most this many times at the current size. */
  retransmitLimit(): number {
    return retransmitLimit(this.cfg.retransmitMult, this.liveCount() + 1);
  }

  /**
   * Marks this member LEFT and tells every live member directly, waiting at most `timeoutMs`.
   * Stops all rounds; idempotent.
   */
  async leave(timeoutMs = 500): Promise<void> {
    if (this.left) return;
    this.left = true;
    this.stopTimers();
    if (!this.running) return;
    this.running = false;
    this.setSelf({ ...this.self, state: 'left' });
    const targets = this.liveEntries();
    const msg: GossipMsg = { updates: [{ ...this.self }] };
    await Promise.all(targets.map((e) => within(this.clock, 'gossip-leave', timeoutMs, this.transport.gossip(memberAddress(e.record), msg, timeoutMs, e.record.name))));
  }

  /** Stops all rounds without telling anyone (tests: a crash). */
  stop(): void {
    this.running = false;
    this.left = true;
    this.stopTimers();
  }

  // ---- inbound ----

  onPing(sender: string, msg: PingMsg): AckMsg | undefined {
    if (msg.target !== this.self.name) return undefined;
    this.heard(sender);
    this.mergeAll(msg.updates, sender);
    const ack = { seq: msg.seq, ok: true, updates: this.piggyback() };
    this.probeBack(sender);
    return ack;
  }

  async onPingReq(sender: string, msg: PingReqMsg): Promise<AckMsg> {
    this.heard(sender);
    this.mergeAll(msg.updates, sender);
    const t = msg.target;
    const ack = await within(
      this.clock,
      'gossip-indirect-ping',
      this.cfg.probeTimeoutMs,
      this.transport.ping(memberAddress(t), { target: t.name, seq: msg.seq, updates: this.piggyback() }, this.cfg.probeTimeoutMs),
    );
    if (ack) {
      this.heard(t.name);
      this.mergeAll(ack.updates, t.name);
    }
    return { seq: msg.seq, ok: ack !== undefined, updates: this.piggyback() };
  }

  onPushPull(sender: string, msg: PushPullMsg): PushPullMsg {
    this.heard(sender);
    this.mergeState(msg.members, sender);
    // A joining member may have just restarted: dial it now rather than after a reconnect backoff.
    const joining = msg.join ? this.entries.get(sender) : undefined;
    if (joining) this.transport.warm?.(memberAddress(joining.record));
    if (msg.join || !msg.digest) return { join: false, members: this.fullState() };
    const differing = this.digest.differing(msg.digest);
    return { join: false, members: this.recordsIn(differing, msg.digest.length), differing };
  }

  onGossip(sender: string, msg: GossipMsg): AckMsg {
    this.heard(sender);
    this.mergeAll(msg.updates, sender);
    return { seq: 0, ok: true, updates: this.piggyback() };
  }

  /**
   * Applies updates from any source (piggyback, gossip, push-pull); `from` is the member that sent
   * them ('' when unknown: a seed answering a join).
   */
  mergeAll(records: readonly MemberRecord[], from = ''): void {
    for (const r of records) this.apply(r, from);
  }

  // ---- rounds ----

  /** Full-state push-pulls with joinFanout random seeds at a time, until one answers. */
  private async join(): Promise<void> {
    if (!this.running) return;
    const seeds = this.shuffle(this.seeds.filter((s) => s !== memberAddress(this.self)));
    const batch = Math.max(1, this.cfg.joinFanout);
    for (let i = 0; i < seeds.length && this.running && this.liveCount() === 0; i += batch) await this.joinVia(seeds.slice(i, i + batch));
    if (this.running && this.seeds.length > 0 && this.liveCount() === 0) {
      this.schedule('gossip-join-retry', jitter(this.cfg.joinRetryMs, this.cfg.jitter, this.random), () => void this.join());
    }
  }

  private async joinVia(addresses: readonly string[]): Promise<void> {
    const msg = (): PushPullMsg => ({ join: true, members: this.fullState() });
    const results = await Promise.all(
      addresses.map((a) => within(this.clock, 'gossip-join', this.cfg.rpcTimeoutMs, this.transport.pushPull(a, msg(), this.cfg.rpcTimeoutMs))),
    );
    let joined = false;
    for (const r of results) {
      if (!r || !this.running) continue;
      this.counters.joins++;
      this.mergeState(r.members, '');
      joined = true;
    }
    if (joined && !this.announced) this.announce();
  }

  /**
   * Once, after the first successful join: tell up to announceFanout members learned so far that
   * this one is alive (one small message each), rather than leave it to epidemic luck, and
   * exchange full state with a random member soon, to catch members that joined concurrently.
   */
  private announce(): void {
    this.announced = true;
    const msg: GossipMsg = { updates: [{ ...this.self }] };
    for (const e of this.pick(this.cfg.announceFanout, () => true)) {
      this.transport.gossip(memberAddress(e.record), msg, this.cfg.rpcTimeoutMs, e.record.name).then(
        (a) => this.running && this.mergeAll(a.updates, e.record.name),
        () => undefined,
      );
    }
    this.schedule('gossip-push-pull', jitter(2 * this.cfg.probeIntervalMs, this.cfg.jitter, this.random), () => this.pushPullRound());
  }

  private probeRound(): void {
    if (!this.running) return;
    const target = this.probing ? undefined : this.nextProbeTarget();
    // A lone member has no one to probe: the next member to become alive or suspect (apply())
    // starts the rounds again.
    if (!this.probing && !target) return;
    this.scheduleProbe(jitter(this.scaled(this.cfg.probeIntervalMs), this.cfg.jitter, this.random));
    if (!target) return;
    this.probing = true;
    void this.probe(target).finally(() => {
      this.probing = false;
    });
  }

  private async probe(target: MemberRecord): Promise<void> {
    this.counters.probes++;
    const seq = ++this.seq;
    const started = this.clock.now();
    const addr = memberAddress(target);
    const t = this.scaled(this.cfg.probeTimeoutMs);
    // A suspect target is told first (Lifeguard's buddy system), so it can refute at once.
    const updates = target.state === 'suspect' ? [{ ...target }, ...this.piggyback().filter((u) => u.name !== target.name)] : this.piggyback();
    const ack = await within(this.clock, 'gossip-probe-timeout', t, this.transport.ping(addr, { target: target.name, seq, updates }, t));
    if (!this.running) return;
    if (ack) {
      this.adjustAwareness(-1);
      this.heard(target.name);
      this.mergeAll(ack.updates, target.name);
      return;
    }
    const helpers = this.pick(this.cfg.indirectChecks, (e) => e.record.name !== target.name);
    const remaining = Math.max(t, this.scaled(this.cfg.probeIntervalMs) - (this.clock.now() - started));
    let ok = false;
    let replies = 0;
    if (helpers.length > 0) {
      this.counters.indirectProbes++;
      ok = await new Promise<boolean>((resolve) => {
        let pending = helpers.length;
        const timer = this.clock.setTimer('gossip-indirect-timeout', remaining, () => resolve(false));
        for (const h of helpers) {
          const msg: PingReqMsg = { target: { ...target }, seq, updates: this.piggyback() };
          this.transport.pingReq(memberAddress(h.record), msg, remaining, h.record.name).then(
            (a) => {
              replies++;
              if (this.running) this.mergeAll(a.updates, h.record.name);
              if (a.ok) {
                timer.cancel();
                resolve(true);
              } else if (--pending === 0) {
                timer.cancel();
                resolve(false);
              }
            },
            () => {
              if (--pending === 0) {
                timer.cancel();
                resolve(false);
              }
            },
          );
        }
      });
    }
    if (!this.running) return;
    if (ok) {
      this.heard(target.name);
      return;
    }
    // Helpers that did not answer either point at this member being slow, not the target dead.
    if (replies < helpers.length) this.adjustAwareness(1);
    this.counters.probeFailures++;
    const current = this.entries.get(target.name)?.record;
    if (current && (current.state === 'alive' || current.state === 'suspect')) this.apply({ ...current, state: 'suspect', accuser: this.self.name });
  }

  /** Makes sure a probe round is due (at a random point of the interval, as at start). */
  private resumeProbing(): void {
    if (this.running && !this.timers.has('gossip-probe')) this.scheduleProbe(this.random() * this.scaled(this.cfg.probeIntervalMs));
  }

  private scheduleProbe(ms: number): void {
    this.nextProbeAt = this.clock.now() + ms;
    this.schedule('gossip-probe', ms, () => this.probeRound());
  }

  /**
   * Runs the probe round now when `sender`, which just probed this member, is the one it probes
   * next and that round is due within PROBE_BACK_WINDOW of an interval: the Ack and this member's
   * Ping then leave together, and over UDP they reach the sender in one wake-up. Two members settle
   * into exchanges led by one of them, each waking twice per round instead of three times. A round
   * only ever moves earlier, so failure detection is no slower, and by at most the window, so a
   * member probing less often than its peers (--gossip-probe-interval) keeps its own rate.
   */
  private probeBack(sender: string): void {
    if (!this.running || this.probing || !this.timers.has('gossip-probe')) return;
    if (this.nextProbeAt - this.clock.now() > PROBE_BACK_WINDOW * this.scaled(this.cfg.probeIntervalMs)) return;
    const state = this.peekProbeTarget() === sender ? this.entries.get(sender)?.record.state : undefined;
    if (state !== 'alive' && state !== 'suspect') return;
    this.counters.probesBack++;
    queueMicrotask(() => this.probeRound());
  }

  /** Queues an update for dissemination and makes sure a dissemination round is due. */
  private enqueue(update: MemberRecord): void {
    this.queue.enqueue(update);
    if (this.running && !this.timers.has('gossip-disseminate')) {
      this.schedule('gossip-disseminate', this.scaled(this.cfg.gossipIntervalMs), () => this.disseminateRound());
    }
  }

  /**
   * Dedicated messages spread fresh updates fast; the rest of their transmissions ride on probes.
   * Rounds run only while there is something fresh, so an idle member does not wake for them.
   */
  private disseminateRound(): void {
    if (!this.running || !this.queue.hasFresh(FRESH_ROUNDS * this.cfg.gossipFanout)) return;
    const targets = this.pick(this.cfg.gossipFanout, () => true, this.cfg.gossipToTheDeadMs);
    // A lone member has no one to tell: the next member to appear is itself an update, whose
    // enqueue() starts the rounds again, and they carry what waited.
    if (targets.length === 0) return;
    this.schedule('gossip-disseminate', this.scaled(this.cfg.gossipIntervalMs), () => this.disseminateRound());
    for (const e of targets) {
      const updates = this.piggyback();
      if (updates.length === 0) break;
      this.transport.gossip(memberAddress(e.record), { updates }, this.cfg.rpcTimeoutMs, e.record.name).then(
        (a) => this.running && this.mergeAll(a.updates, e.record.name),
        () => undefined,
      );
    }
  }

  private pushPullRound(): void {
    if (!this.running) return;
    this.schedule('gossip-push-pull', jitter(this.scaled(pushPullIntervalFor(this.cfg, this.liveCount() + 1)), this.cfg.jitter, this.random), () => this.pushPullRound());
    this.forgetDead();
    const [peer] = this.pick(1, () => true);
    if (!peer) {
      if (!this.timers.has('gossip-join-retry')) void this.join();
    } else {
      this.exchange(memberAddress(peer.record), peer.record.name);
    }
    if (this.laterSeeds.size > 0) {
      const members = new Set(this.liveEntries().map((e) => memberAddress(e.record)));
      for (const a of this.laterSeeds) if (!members.has(a)) this.exchange(a);
      this.laterSeeds.clear();
    }
    const dead = this.deadEntries();
    if (dead.length > 0 && this.random() < dead.length / (this.liveCount() + 1)) {
      const e = dead[Math.floor(this.random() * dead.length)];
      this.exchange(memberAddress(e.record), e.record.name);
    }
  }

  /**
   * Anti-entropy with the member at `address`: our digest out, its records in the buckets that
   * differ back; then, if it lacked or had older records of ours in those buckets, a second
   * exchange carrying them with our digest again, whose reply has whatever still differs.
   */
  private exchange(address: string, recipient = ''): void {
    const buckets = bucketsFor(this.entries.size + 1);
    const call = (members: MemberRecord[]): Promise<PushPullMsg> =>
      this.transport.pushPull(address, { join: false, members, digest: this.digest.fold(buckets) }, this.cfg.rpcTimeoutMs, recipient);
    call([]).then(
      (r) => {
        if (!this.running) return;
        this.mergeState(r.members, recipient);
        const differing = (r.differing ?? []).filter((b) => b < buckets);
        const theirs = new Map(r.members.map((m) => [m.name, m]));
        const back = this.recordsIn(differing, buckets).filter((m) => {
          const t = theirs.get(m.name);
          return !t || t.incarnation !== m.incarnation || t.state !== m.state;
        });
        if (back.length === 0) return;
        call(back.slice(0, MAX_MEMBERS_PER_MESSAGE)).then(
          (again) => this.running && this.mergeState(again.members, recipient),
          () => undefined,
        );
      },
      () => undefined,
    );
  }

  /**
   * Merges another member's state (push-pull, join). As in memberlist, a record saying that a
   * member this one sees alive is dead only makes it suspect here: the claim may be stale (the
   * other side of a healed partition), and a suspicion gives the member time to refute it.
   */
  private mergeState(records: readonly MemberRecord[], from: string): void {
    for (const r of records) {
      const e = r.state === 'dead' ? this.entries.get(r.name) : undefined;
      if (e && (e.record.state === 'alive' || e.record.state === 'suspect') && supersedes(r, e.record)) {
        this.apply({ ...r, state: 'suspect', accuser: from }, from);
      } else {
        this.apply(r, from);
      }
    }
  }

  /** This member's records (its own included) whose names fall in `buckets` of a `of`-bucket digest. */
  private recordsIn(buckets: readonly number[], of: number): MemberRecord[] {
    if (buckets.length === 0) return [];
    const want = new Uint8Array(of);
    for (const b of buckets) if (b < of) want[b] = 1;
    const out: MemberRecord[] = [];
    if (want[this.selfLeaf & (of - 1)] === 1) out.push({ ...this.self });
    for (const e of this.entries.values()) if (want[e.leaf & (of - 1)] === 1) out.push({ ...e.record });
    return out;
  }

  // ---- state ----

  /** `from`: the member that sent `u` (this member's own name for local decisions). */
  private apply(u: MemberRecord, from = this.self.name): void {
    if (u.name === this.self.name) return this.applyAboutSelf(u, from);
    const e = this.entries.get(u.name);
    if (from !== u.name && from !== this.self.name && !this.plausible(u, e?.record.incarnation ?? 0, from)) return;
    const now = this.clock.now();
    if (!e) {
      const entry: Entry = { record: u, leaf: leafOf(u.name), lastSeen: u.state === 'alive' ? now : 0, stateSince: now, suspicion: undefined };
      this.entries.set(u.name, entry);
      this.digest.toggle(u);
      if (isLive(u.state)) this.live++;
      if (u.state === 'alive' || u.state === 'suspect') {
        this.probeOrder.splice(Math.floor(this.random() * (this.probeOrder.length + 1)), 0, u.name);
        this.resumeProbing();
        this.enqueue(u);
        this.transport.warm?.(memberAddress(u));
      }
      if (u.state === 'suspect') this.startSuspicion(entry, u.accuser);
      this.changed(entry, undefined);
      return;
    }
    if (u.state === 'suspect' && e.record.state === 'suspect' && u.incarnation === e.record.incarnation) {
      if (this.confirmSuspicion(e, u.accuser)) this.enqueue(u);
      return;
    }
    if (!supersedes(u, e.record)) return;
    const previous = e.record.state;
    this.digest.replace(e.record, u);
    this.live += Number(isLive(u.state)) - Number(isLive(previous));
    e.record = u;
    if (u.state !== previous) e.stateSince = now;
    if (u.state === 'alive') e.lastSeen = now;
    e.suspicion?.timer.cancel();
    e.suspicion = undefined;
    if (u.state === 'suspect') this.startSuspicion(e, u.accuser);
    if (u.state === 'dead' && previous !== 'dead') this.counters.deaths++;
    if (u.state === 'alive' || u.state === 'suspect') {
      if (!this.probeOrder.includes(u.name)) this.probeOrder.push(u.name);
      this.resumeProbing();
    }
    if (u.state === 'alive' && (previous === 'dead' || previous === 'left')) this.transport.warm?.(memberAddress(u));
    this.enqueue(u);
    this.changed(e, previous);
  }

  private applyAboutSelf(u: MemberRecord, from: string): void {
    if (this.left || !this.running) return;
    // Join replies ('') are exempt: a restarted member starts from 0 and must refute its old records.
    if (from !== '' && !this.plausible(u, this.self.incarnation, from)) return;
    const sameInfo = u.publicIp === this.self.publicIp && u.gossipPort === this.self.gossipPort && u.subnet === this.self.subnet && u.vtepMac === this.self.vtepMac && u.vni === this.self.vni;
    const needsRefute = u.state === 'alive' ? u.incarnation > this.self.incarnation || (u.incarnation === this.self.incarnation && !sameInfo) : u.incarnation >= this.self.incarnation;
    if (!needsRefute) return;
    if (u.incarnation >= MAX_INCARNATION) return void this.refuse(u, from, 'cannot be refuted (at 2^53 - 1)');
    const otherInfo = u.state === 'alive' && !sameInfo;
    if (otherInfo && this.refutedOtherInfo !== undefined && u.incarnation >= this.refutedOtherInfo) this.opts.onNameConflict?.(u);
    this.setSelf({ ...this.self, incarnation: u.incarnation + 1 });
    if (otherInfo) this.refutedOtherInfo = this.self.incarnation;
    this.counters.refutations++;
    this.adjustAwareness(1);
    this.log.info({ incarnation: this.self.incarnation, claimed: u.state }, 'gossip: refuting a stale record about this member');
    this.enqueue(this.self);
  }

  /** False (counted, logged once per member) when `u` raises `known` by more than MAX_INCARNATION_STEP. */
  private plausible(u: MemberRecord, known: number, from: string): boolean {
    if (u.incarnation <= known + MAX_INCARNATION_STEP) return true;
    this.refuse(u, from, `jumps from ${known}`);
    return false;
  }

  private refuse(u: MemberRecord, from: string, why: string): void {
    this.counters.incarnationRefused++;
    if (this.loggedJumps.has(u.name) || this.loggedJumps.size >= MAX_LOGGED_JUMPS) return;
    this.loggedJumps.add(u.name);
    this.log.warn(
      { member: u.name, state: u.state, incarnation: u.incarnation, from: from || 'a seed' },
      `gossip: refused ${u.name} ${u.state} at incarnation ${u.incarnation} from ${from || 'a seed'}: ${why} (further refusals are counted, not logged)`,
    );
  }

  private startSuspicion(e: Entry, accuser = ''): void {
    this.counters.suspicions++;
    const n = this.liveCount() + 1;
    const minMs = Math.max(this.cfg.suspicionTimeoutMs, this.cfg.suspicionMult * Math.log10(Math.max(n, 1)) * this.cfg.gossipIntervalMs);
    const expected = Math.min(this.cfg.indirectChecks, Math.max(0, n - 2));
    const s: Suspicion = { timer: { cancel: () => undefined }, started: this.clock.now(), accusers: new Set([accuser]), confirmations: 0, minMs, maxMs: Math.max(minMs, this.cfg.suspicionMaxMult * minMs), expected };
    e.suspicion = s;
    this.armSuspicion(e, s);
  }

  /** A further accuser: true when it is new (and the timeout shrank). */
  private confirmSuspicion(e: Entry, accuser = ''): boolean {
    const s = e.suspicion;
    if (!s || s.accusers.has(accuser)) return false;
    s.accusers.add(accuser);
    s.confirmations++;
    s.timer.cancel();
    this.armSuspicion(e, s);
    return true;
  }

  /** timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1)), from the first suspicion. */
  private armSuspicion(e: Entry, s: Suspicion): void {
    const timeout = s.expected < 1 ? s.minMs : Math.max(s.minMs, s.maxMs - ((s.maxMs - s.minMs) * Math.log(s.confirmations + 1)) / Math.log(s.expected + 1));
    const incarnation = e.record.incarnation;
    s.timer = this.clock.setTimer(`gossip-suspicion:${e.record.name}`, Math.max(0, timeout - (this.clock.now() - s.started)), () => {
      if (e.suspicion !== s) return;
      e.suspicion = undefined;
      if (!this.running || e.record.state !== 'suspect' || e.record.incarnation !== incarnation) return;
      const { accuser: _accuser, ...dead } = e.record;
      this.apply({ ...dead, state: 'dead' });
    });
  }

  /**
   * Lifeguard's local health: 0 (healthy) … awarenessMax. Probe, dissemination and push-pull
   * intervals and the probe timeout are scaled by (1 + awareness), so a member whose own event
   * loop or network is slow probes more patiently instead of suspecting healthy peers, and sheds
   * load instead of feeding a storm.
   */
  private adjustAwareness(delta: number): void {
    this.awareness = Math.min(this.cfg.awarenessMax, Math.max(0, this.awareness + delta));
    this.counters.awareness = this.awareness;
  }

  private scaled(ms: number): number {
    return ms * (1 + this.awareness);
  }

  private heard(name: string): void {
    const e = this.entries.get(name);
    if (e && (e.record.state === 'alive' || e.record.state === 'suspect')) e.lastSeen = this.clock.now();
  }

  private changed(e: Entry, previous: MemberState | undefined): void {
    const r = e.record;
    this.log.info(
      { event: LogEvent.memberChanged, member: r.name, publicIP: r.publicIp, subnet: r.subnet, from: previous ?? 'unknown', to: r.state, incarnation: r.incarnation },
      `gossip: member ${r.name} ${previous ?? 'unknown'} → ${r.state}`,
    );
    const change: MemberChange = { member: { ...r, lastSeen: e.lastSeen, stateSince: e.stateSince }, previous };
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (err) {
        this.log.error({ err }, 'gossip: membership listener threw');
      }
    }
  }

  private piggyback(): MemberRecord[] {
    return this.queue.take(this.cfg.maxPiggyback, this.retransmitLimit());
  }

  private fullState(): MemberRecord[] {
    return [{ ...this.self }, ...[...this.entries.values()].map((e) => ({ ...e.record }))];
  }

  private setSelf(r: MemberRecord): void {
    this.digest.replace(this.self, r);
    Object.assign(this.self, r);
  }

  /** Members declared dead (not left): candidates for a reconnect. */
  private deadEntries(): Entry[] {
    return [...this.entries.values()].filter((e) => e.record.state === 'dead');
  }

  private shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  private liveEntries(): Entry[] {
    return [...this.entries.values()].filter((e) => e.record.state === 'alive' || e.record.state === 'suspect');
  }

  private liveCount(): number {
    return this.live;
  }

  /** Up to `n` distinct random live members satisfying `filter` (and members dead for less than `deadForMs`). */
  private pick(n: number, filter: (e: Entry) => boolean, deadForMs = 0): Entry[] {
    const now = this.clock.now();
    const pool = [...this.entries.values()].filter(
      (e) => (e.record.state === 'alive' || e.record.state === 'suspect' || (e.record.state === 'dead' && now - e.stateSince < deadForMs)) && filter(e),
    );
    return this.shuffle(pool).slice(0, n);
  }

  /** Who nextProbeTarget() tries first, where that is known without drawing a new order. */
  private peekProbeTarget(): string | undefined {
    if (this.probeIndex < this.probeOrder.length) return this.probeOrder[this.probeIndex];
    return this.live === 1 ? this.liveEntries()[0]?.record.name : undefined;
  }

  private nextProbeTarget(): MemberRecord | undefined {
    for (let tries = 0; tries <= this.probeOrder.length; tries++) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.probeOrder = this.shuffle(this.liveEntries().map((e) => e.record.name));
        this.probeIndex = 0;
        if (this.probeOrder.length === 0) return undefined;
      }
      const e = this.entries.get(this.probeOrder[this.probeIndex++]);
      if (e && (e.record.state === 'alive' || e.record.state === 'suspect')) return e.record;
    }
    return undefined;
  }

  private forgetDead(): void {
    const now = this.clock.now();
    const gone = [...this.entries.values()].filter((e) => e.record.state === 'dead' || e.record.state === 'left').sort((a, b) => a.stateSince - b.stateSince);
    const excess = gone.length - this.cfg.maxDeadMembers;
    gone.forEach((e, i) => {
      if (i < excess || now - e.stateSince > this.cfg.deadRetentionMs) {
        this.entries.delete(e.record.name);
        this.digest.toggle(e.record);
      }
    });
  }

  private schedule(name: string, ms: number, fn: () => void): void {
    this.timers.get(name)?.cancel();
    this.timers.set(
      name,
      this.clock.setTimer(name, ms, () => {
        this.timers.delete(name);
        fn();
      }),
    );
  }

  private stopTimers(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const e of this.entries.values()) {
      e.suspicion?.timer.cancel();
      e.suspicion = undefined;
    }
  }
}
