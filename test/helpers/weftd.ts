// weftd as a real process for tests: `node dist/daemon/main.js` (build first), always inside a
// host namespace of a test underlay (test/helpers/underlay.ts) with `--iface eth0`, never in the
// root namespace: weftd opens a TUN, adds routes and binds the VXLAN and gossip ports. Each node
// has its subnet file under a temp dir. Logs are pino JSON lines, readable with logLines().
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { LogEventName } from '../../daemon/observability/log-events.js';
import type { EtcdServer } from './etcd.js';
import type { TrackedChild } from '../../lab/processes.js';
import { weftdFlags } from '../../lab/weft-node.js';
import type { UnderlayHost } from './underlay.js';

/** The compiled daemon (tests run from source; `npm test` builds dist/ first). */
export const WEFTD_MAIN = fileURLToPath(new URL('../../dist/daemon/main.js', import.meta.url));

export interface WeftdOptions {
  /** The namespace weftd runs in; its eth0 is the underlay interface. Required. */
  readonly host: UnderlayHost;
  readonly etcd: EtcdServer;
  readonly prefix: string;
  readonly node: string;
  /** Default: the host's eth0 address. */
  readonly publicIp?: string;
  /** Parent folder; the node's subnet file is `<dir>/<node>/subnet.env`. */
  readonly dir: string;
  /** Default 0 (health server off). It listens on 127.0.0.1 inside the host namespace: use httpGet(). */
  readonly healthzPort?: number;
  readonly extra?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export interface Weftd extends TrackedChild {
  readonly subnetFile: string;
}

function weftdArgs(o: WeftdOptions): string[] {
  return [
    ...weftdFlags({ etcdEndpoint: o.etcd.endpoint, etcdPrefix: o.prefix, nodeName: o.node, subnetFile: join(o.dir, o.node, 'subnet.env'), healthzPort: o.healthzPort ?? 0 }),
    '--public-ip', o.publicIp ?? o.host.addr,
    ...(o.extra ?? []),
  ];
}

/** Starts weftd inside `o.host`; throws when no namespace is given. */
export function startWeftd(o: WeftdOptions): Weftd {
  if (!o.host?.name) throw new Error('startWeftd: no host namespace given; weftd must never run in the root namespace (it adds a TUN and routes)');
  const child = o.host.spawn(process.execPath, [WEFTD_MAIN, ...weftdArgs(o)], o.env ? { env: o.env } : {});
  return Object.assign(child, { subnetFile: join(o.dir, o.node, 'subnet.env') });
}

/** An HTTP GET made from inside `host` (curl): status code and body. */
export async function httpGet(host: UnderlayHost, url: string): Promise<{ status: number; body: string }> {
  const out = await host.exec('curl', ['-s', '-m', '5', '-o', '-', '-w', '\n%{http_code}', url]);
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

export interface LogLine {
  readonly msg: string;
  readonly level: number;
  readonly [field: string]: unknown;
}

/** The JSON log lines printed so far (non-JSON lines are skipped). */
export function logLines(child: TrackedChild): LogLine[] {
  const out: LogLine[] = [];
  for (const line of child.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line at the end
    }
  }
  return out;
}

/** Waits (default 20 s: a wait, not a bound; a loaded machine needs it) for a log line whose msg matches, at or after the `after`-th line; returns it. */
export function waitForLog(child: TrackedChild, msg: RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
  return waitForLine(child, (l) => msg.test(l.msg), `log ${msg}`, opts);
}

async function waitForLine(child: TrackedChild, match: (l: LogLine) => boolean, what: string, opts: { after?: number; timeoutMs?: number }): Promise<LogLine> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const found = logLines(child).slice(opts.after ?? 0).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${child.output()}`);
    if (child.proc.exitCode !== null) throw new Error(`weftd exited (${child.proc.exitCode}) before ${what}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The log records so far carrying `event` (daemon/observability/log-events.ts), at or after the `after`-th line. */
export function eventsOf(child: TrackedChild, event: LogEventName, after = 0): LogLine[] {
  return logLines(child).slice(after).filter((l) => l.event === event);
}

/** Waits for a log record carrying `event`, at or after the `after`-th line; returns it. */
export function waitForEvent(child: TrackedChild, event: LogEventName, opts: { after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
  return waitForLine(child, (l) => l.event === event, `log event ${event}`, opts);
}

/** The log records so far carrying error `code` (WEFT_ERR_…), at or after the `after`-th line. */
export function withCode(child: TrackedChild, code: string, after = 0): LogLine[] {
  return logLines(child).slice(after).filter((l) => l.code === code);
}

/** Waits for a log record carrying error `code` (WEFT_ERR_…), at or after the `after`-th line; returns it. */
export function waitForCode(child: TrackedChild, code: string, opts: { after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
  return waitForLine(child, (l) => l.code === code, `log code ${code}`, opts);
}

/** The etcd lease holding `key` (hex ID, as etcdctl prints it) and its remaining TTL in seconds. */
export async function etcdLeaseOf(etcd: EtcdServer, key: string): Promise<{ id: string; ttl: number }> {
  // lease IDs exceed 2^53, so they are read from the JSON text, not through JSON.parse
  const json = await etcd.etcdctl('get', key, '-w', 'json');
  const id = BigInt(/"lease":(\d+)/.exec(json)?.[1] ?? 0).toString(16);
  const ttl = Number(/remaining\((-?\d+)s\)/.exec(await etcd.etcdctl('lease', 'timetolive', id))?.[1]);
  return { id, ttl };
}
