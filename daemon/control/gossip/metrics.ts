// Prometheus view of a gossip node, read from its counters at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import { REJECT_REASONS } from './auth.js';
import type { GossipNode } from './node.js';
import type { RefusalReporter } from './refusal-reporter.js';
import { MESSAGE_KINDS } from './stats.js';
import type { MemberState } from './types.js';

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/** Registers weft_gossip_* metrics for `node` (and mergeRoutes refusals, when given) on `registry`. */
export function registerGossipMetrics(registry: Registry, node: GossipNode, refusals?: RefusalReporter): void {
  const s = node.stats;
  new Counter({
    name: 'weft_gossip_messages_sent_total',
    help: 'Gossip requests sent, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const k of MESSAGE_KINDS) this.inc({ kind: k }, s.sent[k]);
    },
  });
  new Counter({
    name: 'weft_gossip_messages_received_total',
    help: 'Authenticated gossip requests received, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const k of MESSAGE_KINDS) this.inc({ kind: k }, s.received[k]);
    },
  });
  new Counter({
    name: 'weft_gossip_messages_rejected_total',
    help: 'Gossip envelopes dropped, by reason (bad_hmac, replay, malformed, unknown)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of REJECT_REASONS) this.inc({ reason: r }, s.rejected[r]);
    },
  });
  new Counter({
    name: 'weft_gossip_bytes_total',
    help: 'Serialized gossip envelope bytes, by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, s.bytesSent);
      this.inc({ direction: 'received' }, s.bytesReceived);
    },
  });
  new Gauge({
    name: 'weft_gossip_members',
    help: 'Known gossip members by state (this node counted as alive)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const members = node.members();
      for (const st of STATES) this.set({ state: st }, members.filter((m) => m.state === st).length + (st === 'alive' ? 1 : 0));
    },
  });
  new Counter({
    name: 'weft_gossip_events_total',
    help: 'SWIM events: probes, probe failures, suspicions, deaths, refutations, joins',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of Object.entries(node.counters)) if (k !== 'awareness') this.inc({ event: k }, v);
    },
  });
  new Gauge({
    name: 'weft_gossip_local_health',
    help: 'Lifeguard local-health score: 0 is healthy; probing is slowed by (1 + score)',
    registers: [registry],
    collect() {
      this.set(node.counters.awareness);
    },
  });
  if (refusals) {
    new Counter({
      name: 'weft_gossip_routes_refused_total',
      help: 'Gossip members not routed because they contradict a lease or are invalid, by reason (counted per route rebuild)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(refusals.counts)) this.inc({ reason: k }, v);
      },
    });
  }
}
