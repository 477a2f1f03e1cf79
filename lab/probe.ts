// Traffic checks between lab namespaces, either address family (the family of the address given):
// ping with per-packet RTTs, and a TCP exchange whose bytes are verified end to end by SHA-256
// (tcp-probe.ts on both sides).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { nsRun, run, waitFor } from './exec.js';
import { DIST } from './paths.js';
import type { PodRecord } from './state.js';

/** Compiled probe script; run `npm run build` first (tests do, in pretest). */
const TCP_PROBE = join(DIST, 'lab', 'tcp-probe.js');

/** `pod`'s address of `family` (4 or 6), for probes of one family; a LabError when the pod has none. */
export function addressOf(pod: PodRecord, family: 4 | 6): string {
  const ip = family === 6 ? pod.ip6 : pod.ip.includes(':') ? undefined : pod.ip;
  if (ip === undefined) throw new LabError(`pod ${pod.name} has no IPv${family} address (${[pod.ip, pod.ip6].filter(Boolean).join(', ')}): is the lab ${family === 6 ? 'dual-stack or IPv6-only' : 'IPv4 or dual-stack'}?`);
  return ip;
}

export interface PingOptions {
  count?: number;
  intervalS?: number;
  /** ICMP payload bytes (`-s`). */
  size?: number;
  /** Set DF (`-M do`). */
  dontFragment?: boolean;
  /** Overall deadline in seconds (`-w`). */
  deadlineS?: number;
}

export interface PingResult {
  sent: number;
  received: number;
  rttMs: number[];
  avgMs: number;
  p99Ms: number;
  output: string;
}

/** Pings `dst` from namespace `ns`. Resolves even with loss (check `received`); rejects only on errors other than loss. */
export async function ping(ns: string, dst: string, opts: PingOptions = {}): Promise<PingResult> {
  const count = opts.count ?? 3;
  const interval = opts.intervalS ?? 0.2;
  const args = ['-n', '-c', String(count), '-i', String(interval), '-W', '1', '-w', String(opts.deadlineS ?? Math.ceil(count * interval + 3))];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment) args.push('-M', 'do');
  args.push(dst);
  let out: string;
  try {
    out = await nsRun(ns, 'ping', args);
  } catch (err) {
    // ping exits 1 when packets were lost; that is a result, not an error.
    const msg = (err as Error).message;
    if (!/ failed \(1\):/.test(msg)) throw err;
    out = msg.slice(msg.indexOf('\n') + 1);
  }
  return parsePing(out);
}

/** Waits until one ping from namespace `fromNs` to `dst` is answered; fails with the last ping output. */
export async function waitReachable(fromNs: string, dst: string, timeoutMs = 10_000): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const r = await ping(fromNs, dst, { count: 1, deadlineS: 1 });
      last = r.output;
      return r.received === 1 ? true : undefined;
    },
    timeoutMs,
    () => new LabError(`${fromNs} never reached ${dst} within ${timeoutMs} ms:\n${last}`),
  );
}

function parsePing(out: string): PingResult {
  const rttMs = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const sorted = [...rttMs].sort((a, b) => a - b);
  return {
    sent: summary ? Number(summary[1]) : 0,
    received: summary ? Number(summary[2]) : rttMs.length,
    rttMs,
    avgMs: rttMs.length ? rttMs.reduce((a, b) => a + b, 0) / rttMs.length : NaN,
    p99Ms: sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] : NaN,
    output: out,
  };
}

export interface TcpResult {
  bytes: number;
  ms: number;
}

/**
 * Sends `bytes` random bytes over TCP from namespace `fromNs` to a one-shot server in `toNs` listening
 * on `toIp:port`, and checks the SHA-256 the server saw. Rejects with both sides' output on mismatch,
 * timeout or connection failure.
 */
export async function tcpExchange(fromNs: string, toNs: string, toIp: string, bytes = 1 << 20, port = 5555): Promise<TcpResult> {
  const server = spawn('ip', ['netns', 'exec', toNs, process.execPath, TCP_PROBE, 'server', toIp, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let serverOut = '';
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError(`tcp-probe server in ${toNs} did not start:\n${serverOut}`)), 10_000);
      const onData = (d: Buffer): void => {
        serverOut += d.toString('utf8');
        if (serverOut.includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new LabError(`tcp-probe server in ${toNs} exited:\n${serverOut}`));
      });
    });
    let out: string;
    try {
      out = await run('ip', ['netns', 'exec', fromNs, process.execPath, TCP_PROBE, 'client', toIp, String(port), String(bytes)], { timeout: 30_000 });
    } catch (err) {
      throw new LabError(`TCP ${fromNs} → ${toIp}:${port} failed: ${(err as Error).message}\nserver: ${serverOut}`, { cause: err });
    }
    const result = JSON.parse(out.trim().split('\n').pop() as string) as { ok: boolean; bytes: number; ms: number };
    await exited;
    return { bytes: result.bytes, ms: result.ms };
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
  }
}
