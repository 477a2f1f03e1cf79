// Commands the lab runs: to completion (processes.ts's run(); spawn's `timeout` in ms bounds it), or
// detached into a log file so daemons outlive the CLI that started them. Processes are only ever
// ended by the PID the lab recorded, after checking that PID still runs what the lab started.
import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { run } from './processes.js';
import { LabError } from './errors.js';

export { run };

export type RunOptions = SpawnOptions & { input?: string };

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

/**
 * True while `pid` exists and its command line contains `marker` (or is empty: the kernel shows no
 * command line while `ip netns exec` execs the command), or while it is a zombie whose other
 * threads are still exiting: they hold its files (a TUN stays attached and running) until the last
 * one is gone.
 */
export function runs(pid: number, marker: string): boolean {
  try {
    if (isZombie(`/proc/${pid}/stat`)) return threadsExiting(pid);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline === '' || cmdline.includes(marker);
  } catch {
    return false;
  }
}

function isZombie(statPath: string): boolean {
  const stat = readFileSync(statPath, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** A zombie thread group leader's pid cannot be reused until every thread has exited. */
function threadsExiting(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        return !isZombie(`/proc/${pid}/task/${tid}/stat`);
      } catch {
        return false;
      }
    });
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
