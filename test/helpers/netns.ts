// Network namespaces for tests. Every name starts with ownPrefix() (unique to this process), so
// cleanup and the leak check only ever touch namespaces this test file created. Nothing here adds
// an address, route or link to the root namespace.
import { execFileSync, type SpawnOptions } from 'node:child_process';
import { run, spawnTracked, type TrackedChild } from './processes.js';
import { requireRoot } from './root.js';

/** Every test namespace name begins with this; the leftover sweep in global-setup relies on it. */
export const TEST_NETNS_PREFIX = 'wt';

export function ownPrefix(pid = process.pid): string {
  return `${TEST_NETNS_PREFIX}${pid}-`;
}

let counter = 0;
const created = new Set<string>();

export class Netns {
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace to completion; rejects with its output on failure. */
  exec(cmd: string, args: readonly string[], opts: SpawnOptions & { input?: string } = {}): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** `ip <args>` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** Starts a long-running process inside the namespace (`ip netns exec` execs, so the PID is the command's). */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): TrackedChild {
    return spawnTracked('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** PIDs of every process whose network namespace is this one. */
  pids(): number[] {
    const out = execFileSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map(Number);
  }

  async destroy(): Promise<void> {
    await destroyNetns(this.name);
    created.delete(this.name);
  }
}

/** Creates `<prefix><label>-<n>` with loopback up. */
export async function createNetns(label: string): Promise<Netns> {
  requireRoot();
  const name = `${ownPrefix()}${label}${++counter}`.slice(0, 60);
  await run('ip', ['netns', 'add', name]);
  created.add(name);
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

/** Kills the processes still inside the namespace (they are ours: the namespace is), then deletes it. */
export async function destroyNetns(name: string): Promise<void> {
  let pids: number[] = [];
  try {
    pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
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

/** Namespaces created by this process that still exist. */
export function ownNetns(): string[] {
  return listNetns().filter((n) => n.startsWith(ownPrefix()));
}

export async function destroyAllOwnNetns(): Promise<void> {
  for (const n of ownNetns()) await destroyNetns(n);
  created.clear();
}
