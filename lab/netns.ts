// Network namespaces by name: created with loopback up, entered to run commands, and destroyed
// together with whatever still runs inside them. Nothing here adds an address, route or link to the
// root namespace: veth pairs are created from inside a namespace. Who may destroy which names is the
// caller's rule (the lab: its prefix; tests: test/helpers/netns.ts's per-process prefix).
import { execFileSync, type SpawnOptions } from 'node:child_process';
import { ipIn, nsRun, type RunOptions } from './exec.js';
import { run, spawnTracked, type TrackedChild } from './processes.js';

export class Netns {
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace to completion; rejects with its output on failure. */
  exec(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return nsRun(this.name, cmd, args, opts);
  }

  /** `ip <args>` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return ipIn(this.name, ...args);
  }

  /** Starts a long-running process inside the namespace (`ip netns exec` execs, so the PID is the command's). */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): TrackedChild {
    return spawnTracked('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** PIDs of every process whose network namespace is this one. */
  pids(): number[] {
    return netnsPids(this.name);
  }

  destroy(): Promise<void> {
    return destroyNetns(this.name);
  }
}

/** Creates namespace `name` with loopback up. */
export async function addNetns(name: string): Promise<Netns> {
  await run('ip', ['netns', 'add', name]);
  const ns = new Netns(name);
  await ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

/**
 * A veth pair with one end in each namespace. Both are created from inside `a`, so nothing ever
 * appears in the root namespace.
 */
export async function vethPair(a: Netns, aName: string, b: Netns, bName: string): Promise<void> {
  await a.ip('link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', b.name);
}

function netnsPids(name: string): number[] {
  return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
}

/** Kills the processes still inside namespace `name` (the caller's: the namespace is), then deletes it. */
export async function destroyNetns(name: string): Promise<void> {
  let pids: number[];
  try {
    pids = netnsPids(name);
  } catch {
    return; // already gone
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited meanwhile */
    }
  }
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function listNetns(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}
