// In-memory seams for the SWIM state machine: a clock advanced by hand (test/fakes/clock.ts) and
// a network that routes calls between Membership instances, can drop a member (calls to it never
// answer) and records every message for assertions.
import { pino } from 'pino';
import { FakeClock } from './clock.js';
import { Membership } from '../../daemon/control/gossip/membership.js';
import type { AckMsg, GossipHandler, GossipMsg, MessageKind, PingMsg, PingReqMsg, PushPullMsg, Transport } from '../../daemon/control/gossip/messages.js';
import { swimConfig, type SwimConfig } from '../../daemon/control/gossip/swim-config.js';
import type { MemberRecord } from '../../daemon/control/gossip/types.js';
import { seededRandom } from '../../sim/gossip/random.js';

export { FakeClock };

export interface SentMessage {
  from: string;
  to: string;
  kind: MessageKind | 'Ack' | 'PushPullReply';
  updates: MemberRecord[];
  /** The whole message (PushPull requests and replies: digest, differing). */
  msg?: unknown;
}

export class FakeNetwork {
  readonly handlers = new Map<string, GossipHandler>();
  readonly down = new Set<string>();
  readonly log: SentMessage[] = [];

  /** Calls from the member `from` (its name) at `fromAddress`; `down` holds addresses. */
  transport(from: string, fromAddress: string): Transport {
    const deliver = <T>(to: string, kind: MessageKind, updates: MemberRecord[], call: (h: GossipHandler) => T | Promise<T> | undefined, replyUpdates: (r: T) => MemberRecord[], msg?: unknown): Promise<T> => {
      this.log.push({ from, to, kind, updates, msg });
      const h = this.handlers.get(to);
      if (!h || this.down.has(to) || this.down.has(fromAddress)) return new Promise<T>(() => undefined);
      return Promise.resolve().then(async () => {
        const r = await call(h);
        if (r === undefined) throw new Error('refused');
        this.log.push({ from: to, to: from, kind: kind === 'PushPull' ? 'PushPullReply' : 'Ack', updates: replyUpdates(r), msg: r });
        return r;
      });
    };
    return {
      ping: (to: string, m: PingMsg) => deliver(to, 'Ping', m.updates, (h) => h.onPing(from, m), (r: AckMsg) => r.updates),
      pingReq: (to: string, m: PingReqMsg) => deliver(to, 'PingReq', m.updates, (h) => h.onPingReq(from, m), (r: AckMsg) => r.updates),
      pushPull: (to: string, m: PushPullMsg) => deliver(to, 'PushPull', m.members, (h) => h.onPushPull(from, m), (r: PushPullMsg) => r.members, m),
      gossip: (to: string, m: GossipMsg) => deliver(to, 'Gossip', m.updates, (h) => h.onGossip(from, m), (r: AckMsg) => r.updates),
    };
  }
}

export const quietLogger = pino({ level: 'silent' });

/** A deterministic PRNG (mulberry32). */
export { seededRandom };

export function addressOf(i: number): string {
  return `127.0.0.1:${10_000 + i}`;
}

export class FakeCluster {
  readonly clock = new FakeClock();
  readonly net = new FakeNetwork();
  readonly members: Membership[] = [];
  readonly config: Readonly<SwimConfig>;

  constructor(overrides: Partial<SwimConfig> = {}) {
    this.config = swimConfig(overrides);
  }

  /** Member i: name n<i>, address 127.0.0.1:(10000+i), subnet 10.244.<i>.0/24; joins through member 0. */
  add(i: number, opts: { incarnation?: number; seeds?: string[] } = {}): Membership {
    const m = new Membership({
      self: { name: `n${i}`, publicIp: '127.0.0.1', gossipPort: 10_000 + i, subnet: `10.244.${i}.0/24`, vtepMac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`, vni: 1 },
      incarnation: opts.incarnation,
      config: this.config,
      clock: this.clock,
      transport: this.net.transport(`n${i}`, addressOf(i)),
      logger: quietLogger,
      random: seededRandom(i + 1),
    });
    this.net.handlers.set(addressOf(i), m);
    this.members[i] = m;
    m.start(opts.seeds ?? (i === 0 ? [] : [addressOf(0)]));
    return m;
  }

  /** What each live member believes about `name`. */
  viewsOf(name: string): (string | undefined)[] {
    return this.members.filter((m) => m && m.name !== name).map((m) => m.member(name)?.state);
  }
}
