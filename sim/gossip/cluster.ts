// N production SWIM members (daemon/control/gossip/membership.ts, unchanged) in one process, on
// the simulator's clock and network: each member gets a Clock whose timers are heap events (late by
// the member's lag when it is slow) and a Transport whose calls become request and reply events
// delayed, lost or dropped by the Network. After every event the microtask queue is drained, so the
// membership's promise continuations run at the simulated instant that resolved them.
//
// The cluster starts formed (every member already knows every other one alive, nothing pending to
// disseminate), as a cluster long in steady state would be; member start times are spread over one
// push-pull interval (at that size) so the periodic rounds are not synchronised. Joins during a run go through the
// real join path (push-pull with a seed, then the announce).
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../daemon/control/gossip/clock.js';
import { Membership, type MemberChange } from '../../daemon/control/gossip/membership.js';
import type { AckMsg, GossipMsg, MessageKind, PingMsg, PingReqMsg, PushPullMsg, Transport } from '../../daemon/control/gossip/messages.js';
import { pushPullIntervalFor, type SwimConfig } from '../../daemon/control/gossip/swim-config.js';
import { memberAddress, type MemberInfo, type MemberRecord } from '../../daemon/control/gossip/types.js';
import { EventKind, EventQueue, type SimEvent } from './event-queue.js';
import { Network, type NetworkOptions } from './network.js';
import { seededRandom } from './random.js';
import { bodySize, envelopeSize } from './wire-size.js';

const noop = (): void => undefined;
/** Membership logs every state change at info level; the simulator discards all of it. */
const silentLogger = { level: 'silent', trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, silent: noop, child: () => silentLogger } as unknown as Logger;

const GOSSIP_PORT = 8473;

/** Member i's identity: name n<i> (as bench:gossip names its members), an address in 198.18.0.0/15. */
export function memberInfo(i: number): MemberInfo {
  return {
    name: `n${i}`,
    publicIp: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
    gossipPort: GOSSIP_PORT,
    subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24`,
    vtepMac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    vni: 1,
  };
}

/** Called on every change any member sees: observer index, subject index, the change. */
export type ChangeListener = (observer: number, subject: number, change: MemberChange) => void;

export interface Traffic {
  /** Requests sent (replies are counted with their request, as bench:gossip does). */
  messages: number;
  /** Serialized envelope bytes of requests and replies. */
  bytes: number;
  /** The same bytes by the request's kind (a reply counted with its request). */
  byKind: Record<MessageKind, number>;
}

export function emptyTraffic(): Traffic {
  return { messages: 0, bytes: 0, byKind: { Ping: 0, PingReq: 0, PushPull: 0, Gossip: 0 } };
}

export class SimCluster {
  readonly queue = new EventQueue();
  readonly net: Network;
  readonly members: (Membership | undefined)[];
  readonly infos: MemberInfo[];
  readonly traffic: Traffic = emptyTraffic();
  /** Envelope bytes sent to each member (requests it received and replies to its requests). */
  readonly bytesIn: Float64Array;
  /** Events run so far. */
  events = 0;
  private t = 0;
  private readonly random: () => number;
  private readonly byAddress = new Map<string, number>();
  private readonly byName = new Map<string, number>();
  private readonly listeners: ChangeListener[] = [];
  /** While true, members' random sources return 1 − 2⁻⁴⁰ (see bootstrap). */
  private appending = false;

  /** `capacity` ≥ n: slots beyond n are for members that join during the run. */
  constructor(
    readonly n: number,
    capacity: number,
    readonly config: Readonly<SwimConfig>,
    netOpts: Readonly<NetworkOptions>,
  ) {
    this.random = seededRandom(netOpts.seed);
    this.net = new Network(capacity, netOpts, this.random);
    this.members = new Array<Membership | undefined>(capacity).fill(undefined);
    this.bytesIn = new Float64Array(capacity);
    this.infos = Array.from({ length: capacity }, (_, i) => memberInfo(i));
    this.infos.forEach((info, i) => {
      this.byAddress.set(memberAddress(info), i);
      this.byName.set(info.name, i);
    });
  }

  now(): number {
    return this.t;
  }

  address(i: number): string {
    return memberAddress(this.infos[i]);
  }

  indexOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  onChange(fn: ChangeListener): void {
    this.listeners.push(fn);
  }

  /**
   * Members 0…n−1, formed, starting over the next push-pull interval. Each member learns the
   * roster in its own random order, with its random source pinned just below 1 meanwhile: a new
   * member is inserted into the probe order at ⌊random × (length + 1)⌋, so every insertion is an
   * append and the probe order comes out as that random permutation, in O(n) rather than O(n²).
   */
  bootstrap(): void {
    const roster: MemberRecord[] = this.infos.slice(0, this.n).map((info) => ({ ...info, incarnation: 0, state: 'alive' }));
    const spread = pushPullIntervalFor(this.config, this.n);
    for (let i = 0; i < this.n; i++) {
      for (let k = roster.length - 1; k > 0; k--) {
        const j = Math.floor(this.random() * (k + 1));
        [roster[k], roster[j]] = [roster[j], roster[k]];
      }
      this.appending = true;
      const m = this.create(i);
      m.mergeAll(roster);
      this.appending = false;
      clearPending(m);
      this.watch(i, m);
      this.net.up[i] = 1;
      this.at(this.random() * spread, () => m.start([]));
    }
  }

  /**
   * Starts member i now (a new member, or a crashed one restarting) joining through `seeds`, and
   * adds its address to every other running member's seeds, as weftd does when its lease appears.
   */
  startMember(i: number, seeds: number[]): Membership {
    const m = this.create(i);
    this.watch(i, m);
    this.net.up[i] = 1;
    m.start(seeds.map((s) => this.address(s)));
    const address = [this.address(i)];
    for (let j = 0; j < this.members.length; j++) if (j !== i && this.net.up[j] === 1) this.members[j]?.setSeeds(address);
    return m;
  }

  /** Member i's process dies: no leave, its timers stop, packets to it are dropped. */
  crash(i: number): void {
    this.members[i]?.stop();
    this.net.up[i] = 0;
  }

  /** Member i leaves gracefully; its process goes down once the leave messages are out. */
  leave(i: number): void {
    const m = this.members[i];
    if (!m) return;
    void m.leave().then(() => {
      this.net.up[i] = 0;
    });
  }

  /** Runs `fn` at simulated time `at` (a scenario step). */
  at(at: number, fn: () => void): void {
    this.queue.push(Math.max(at, this.t), EventKind.Control, -1, -1, fn);
  }

  /** Runs events until simulated time `until`, or until `stop()` returns true (checked after each event). */
  async run(until: number, stop?: () => boolean): Promise<void> {
    const q = this.queue;
    while (q.peekTime() <= until) {
      const e = q.pop()!;
      if (e.cancelled) continue;
      this.t = e.at;
      this.events++;
      this.dispatch(e);
      await drainMicrotasks();
      if (stop?.()) return;
    }
    this.t = Math.max(this.t, until);
  }

  /** Live members (process up). */
  liveCount(): number {
    let n = 0;
    for (let i = 0; i < this.net.up.length; i++) n += this.net.up[i];
    return n;
  }

  private create(i: number): Membership {
    const m = new Membership({
      self: this.infos[i],
      config: this.config,
      clock: this.clockOf(i),
      transport: this.transportOf(i),
      logger: silentLogger,
      random: this.memberRandom(seededRandom(this.random() * 2 ** 32)),
    });
    this.members[i] = m;
    return m;
  }

  private memberRandom(r: () => number): () => number {
    return () => (this.appending ? 1 - 2 ** -40 : r());
  }

  private watch(i: number, m: Membership): void {
    m.subscribe((c) => {
      const subject = this.byName.get(c.member.name);
      if (subject === undefined) return;
      for (const fn of this.listeners) fn(i, subject, c);
    });
  }

  private clockOf(i: number): Clock {
    return {
      now: () => this.t,
      setTimer: (_name: string, ms: number, fn: () => void): TimerHandle => this.queue.push(this.t + Math.max(0, ms) + this.net.lag(i), EventKind.Timer, i, i, fn),
    };
  }

  private transportOf(i: number): Transport {
    const call = <T>(kind: MessageKind, address: string, msg: unknown, body: number): Promise<T> => {
      return new Promise<T>((resolve, reject) => this.send(i, kind, address, msg, body, resolve as (v: unknown) => void, reject));
    };
    return {
      ping: (a: string, m: PingMsg) => call<AckMsg>('Ping', a, m, bodySize.ping(m)),
      pingReq: (a: string, m: PingReqMsg) => call<AckMsg>('PingReq', a, m, bodySize.pingReq(m)),
      pushPull: (a: string, m: PushPullMsg) => call<PushPullMsg>('PushPull', a, m, bodySize.pushPull(m)),
      gossip: (a: string, m: GossipMsg) => call<AckMsg>('Gossip', a, m, bodySize.gossip(m)),
    };
  }

  /** A request leaves member `from`; an unknown address or a lost packet never answers. */
  private send(from: number, kind: MessageKind, address: string, msg: unknown, body: number, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
    this.traffic.messages++;
    const to = this.byAddress.get(address);
    const bytes = envelopeSize(this.infos[from].name, to === undefined ? '' : this.infos[to].name, body, false);
    this.count(kind, bytes);
    if (to === undefined) return;
    this.bytesIn[to] += bytes;
    const d = this.net.delay(from, to);
    if (d < 0) return;
    const e = this.queue.push(this.t + d, EventKind.Request, from, to, undefined);
    e.kind = kind;
    e.msg = msg;
    e.resolve = resolve;
    e.reject = reject;
  }

  private dispatch(e: SimEvent): void {
    switch (e.type) {
      case EventKind.Timer:
      case EventKind.Control:
        e.fn!();
        return;
      case EventKind.Request:
        return this.deliverRequest(e);
      case EventKind.Reply:
        if (!this.net.reachable(e.to, e.from)) return;
        if (this.late(e, e.from)) return;
        if (e.refused) e.reject!(new Error('refused'));
        else e.resolve!(e.msg);
        return;
    }
  }

  private deliverRequest(e: SimEvent): void {
    const { from, to } = e;
    if (!this.net.reachable(from, to)) {
      this.net.dropped[this.net.up[to] === 1 ? 'partition' : 'down']++;
      return;
    }
    if (this.late(e, to)) return;
    const m = this.members[to]!;
    const sender = this.infos[from].name;
    switch (e.kind as MessageKind) {
      case 'Ping':
        return this.reply(e, m.onPing(sender, e.msg as PingMsg), bodySize.ack);
      case 'Gossip':
        return this.reply(e, m.onGossip(sender, e.msg as GossipMsg), bodySize.ack);
      case 'PushPull':
        return this.reply(e, m.onPushPull(sender, e.msg as PushPullMsg), bodySize.pushPull);
      case 'PingReq':
        void m.onPingReq(sender, e.msg as PingReqMsg).then((ack) => this.reply(e, ack, bodySize.ack));
        return;
    }
  }

  /** An overloaded member reads a message late: true when `e` was requeued for later. */
  private late(e: SimEvent, reader: number): boolean {
    if (e.delayed || this.net.slow[reader] !== 1) return false;
    const again = this.queue.push(this.t + this.net.lag(reader), e.type, e.from, e.to, undefined);
    again.kind = e.kind;
    again.msg = e.msg;
    again.resolve = e.resolve;
    again.reject = e.reject;
    again.refused = e.refused;
    again.delayed = true;
    return true;
  }

  private count(kind: MessageKind, bytes: number): void {
    this.traffic.bytes += bytes;
    this.traffic.byKind[kind] += bytes;
  }

  /** The callee answers request `req` now; undefined means it refused (the caller's call rejects). */
  private reply<T>(req: SimEvent, value: T | undefined, size: (v: T) => number): void {
    const { from, to } = req;
    if (!this.net.reachable(to, from)) return;
    if (value !== undefined) {
      const bytes = envelopeSize(this.infos[to].name, this.infos[from].name, size(value), true);
      this.count(req.kind as MessageKind, bytes);
      this.bytesIn[from] += bytes;
    }
    const d = this.net.delay(to, from);
    if (d < 0) return;
    const e = this.queue.push(this.t + d, EventKind.Reply, from, to, undefined);
    e.msg = value;
    e.refused = value === undefined;
    e.resolve = req.resolve;
    e.reject = req.reject;
  }
}

/** Resolves after every queued microtask (and those they queue) has run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Empties a freshly bootstrapped member's dissemination queue: in a formed cluster every member
 * was disseminated long ago. The queue is private to Membership; this is the simulator's only
 * reach past its public surface, checked so that a rename fails loudly.
 */
function clearPending(m: Membership): void {
  const q = (m as unknown as { queue?: { clear?: () => void } }).queue;
  if (typeof q?.clear !== 'function') throw new Error('sim: Membership no longer has a clearable `queue`; update sim/gossip/cluster.ts');
  q.clear();
}
