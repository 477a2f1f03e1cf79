// Child processes in the foreground: run() to completion, or spawnTracked() with its output kept.
// Every tracked child is known by PID, so the test leak check can prove that a test file ends none
// of them running, and so cleanup only ever signals what this process started.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrackedChild {
  readonly pid: number;
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Output collected so far (stdout and stderr interleaved), for failure messages. */
  output(): string;
  /** Resolves once `pattern` has appeared in the output; rejects if the child exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
}

const live = new Set<TrackedChild>();
const OUTPUT_LIMIT = 1 << 20;

export function spawnTracked(cmd: string, args: readonly string[], opts: SpawnOptions = {}): TrackedChild {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(out.length - OUTPUT_LIMIT);
    for (const l of listeners) l();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let done = false;
  const exited: Promise<Exit> = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      live.delete(child);
      for (const l of listeners) l();
      resolve({ code, signal });
    });
  });
  const child: TrackedChild = {
    pid: proc.pid,
    proc,
    exited,
    output: () => out,
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.match(pattern);
          if (m) return finish(() => resolve(m));
          if (done) return finish(() => reject(new Error(`${cmd} exited before printing ${pattern}:\n${out}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern} from ${cmd}:\n${out}`))), timeoutMs);
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5_000) {
      if (done) return exited;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  live.add(child);
  return child;
}

/** Tracked children of this process that have not exited yet. */
export function liveChildren(): TrackedChild[] {
  return [...live];
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGKILL')));
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
export async function run(cmd: string, args: readonly string[], opts: SpawnOptions & { input?: string } = {}): Promise<string> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  // A command that exits without reading its stdin makes this write fail with EPIPE: not an error.
  proc.stdin?.on('error', () => undefined);
  proc.stdin?.end(opts.input ?? '');
  const [code, signal] = (await once(proc, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${stderr}${stdout}`);
  }
  return stdout;
}
