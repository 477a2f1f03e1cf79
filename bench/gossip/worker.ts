// A bench process hosting some gossip members (forked by run.ts, driven over IPC). Conditions are
// checked here, every 5 ms, and reported with the wall-clock time they first held, so the
// coordinator never has to copy whole membership views between processes.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { GossipNode } from '../../daemon/control/gossip/node.js';
import type { MemberState } from '../../daemon/control/gossip/types.js';
import { startMember } from '../../lab/gossip-members.js';
import { now, type WorkerReply, type WorkerRequest } from './protocol.js';

const nodes = new Map<string, GossipNode>();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const send = (r: WorkerReply): void => void process.send?.(r);

/** Every local member other than `name` sees `name` in one of `states`. */
function holds(names: string[], states: MemberState[], mode: 'all' | 'any'): boolean {
  const views: boolean[] = [];
  for (const node of nodes.values()) {
    const state = new Map(node.members().map((m) => [m.name, m.state]));
    for (const name of names) {
      if (name === node.name) continue;
      const s = state.get(name);
      views.push(s !== undefined && states.includes(s));
    }
  }
  return mode === 'all' ? views.every(Boolean) : views.some(Boolean);
}

process.on('message', (msg: WorkerRequest) => {
  void (async () => {
    switch (msg.op) {
      case 'start': {
        const key = Buffer.from(msg.key, 'base64');
        const started = await Promise.all(msg.ids.map((i) => startMember(i, key, msg.seeds)));
        for (const n of started) nodes.set(n.name, n);
        send({ op: 'started', ports: Object.fromEntries(started.map((n) => [n.name, n.port])) });
        return;
      }
      case 'watch': {
        const deadline = now() + msg.limitMs;
        const check = (): void => {
          if (holds(msg.names, msg.states, msg.mode)) send({ op: 'held', req: msg.req, at: now() });
          else if (now() < deadline) setTimeout(check, msg.names.length > 8 ? 20 : 5);
        };
        check();
        return;
      }
      case 'kill': {
        const node = nodes.get(msg.name);
        nodes.delete(msg.name);
        const at = now();
        await node?.destroy();
        send({ op: 'killed', at });
        return;
      }
      case 'sample': {
        let bytesSent = 0;
        let messages = 0;
        let suspicions = 0;
        for (const n of nodes.values()) {
          bytesSent += n.stats.bytesSent;
          messages += Object.values(n.stats.sent).reduce((a, b) => a + b, 0);
          suspicions += n.counters.suspicions;
        }
        const cpu = process.cpuUsage();
        send({ op: 'sample', bytesSent, messages, suspicions, lagP99Ms: lag.percentile(99) / 1e6, cpuMs: (cpu.user + cpu.system) / 1_000 });
        return;
      }
      case 'stop':
        await Promise.all([...nodes.values()].map((n) => n.destroy()));
        process.exit(0);
    }
  })();
});
