// Commands the lab runs: to completion (inside a namespace or not), or detached into a log file so
// daemons outlive the CLI that started them. Processes are only ever ended by the PID the lab
// recorded, after checking that PID still runs the command the lab started.
import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { LabError } from './errors.js';

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a command to completion; rejects with its output when it exits non-zero or times out. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
  if (opts.env) spawnOpts.env = opts.env;
  const proc = spawn(cmd, args, spawnOpts);
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  proc.stdin?.on('error', () => undefined);
  proc.stdin?.end(opts.input ?? '');
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs);
  const [code, signal] = (await once(proc, 'close')) as [number | null, NodeJS.Signals | null];
  if (timer) clearTimeout(timer);
  if (code !== 0) {
    const why = signal === 'SIGKILL' && opts.timeoutMs !== undefined ? `timed out after ${opts.timeoutMs} ms` : `exit ${code ?? signal}`;
    throw new LabError(`${cmd} ${args.join(' ')} failed (${why}):\n${stderr}${stdout}`.trimEnd());
  }
  return stdout;
}

/** Runs `cmd` inside network namespace `ns`. */
export function nsRun(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** `ip <args>` inside namespace `ns`. */
export function ipIn(ns: string, ...args: string[]): Promise<string> {
  return run('ip', ['-n', ns, ...args]);
}

/** `ip -j <args>` inside `ns`, parsed. */
export async function ipJson<T>(ns: string, ...args: string[]): Promise<T[]> {
  const out = await run('ip', ['-j', '-n', ns, ...args]);
  return out.trim() === '' ? [] : (JSON.parse(out) as T[]);
}

/**
 * Starts `cmd` inside `ns`, detached, with stdout and stderr appended to `logFile`. `ip netns exec`
 * execs the command, so the returned PID is the command's own.
 */
export function startDetached(ns: string, cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): number {
  const fd = openSync(logFile, 'a');
  try {
    const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    if (proc.pid === undefined) throw new LabError(`could not start ${cmd} in ${ns}`);
    proc.unref();
    return proc.pid;
  } finally {
    closeSync(fd);
  }
}

/** True while `pid` exists, is not a zombie and its command line contains `marker`. */
export function runs(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** Ends a process the lab started: SIGTERM, then SIGKILL after `graceMs`. No-op if it is gone. */
export async function stopPid(pid: number, marker: string, graceMs = 3_000): Promise<void> {
  if (!runs(pid, marker)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (runs(pid, marker) && Date.now() < deadline) await sleep(20);
  if (runs(pid, marker)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 100 && runs(pid, marker); i++) await sleep(20);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* exited meanwhile */
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws `onTimeout()`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, onTimeout: () => Error, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw onTimeout();
    await sleep(stepMs);
  }
}
