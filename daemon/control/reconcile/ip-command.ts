// Runs iproute2's `ip` in this process's network namespace.
import { execFile } from 'node:child_process';
import { WeftError } from '../../errors.js';

export interface IpResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ip <args>` (with `input` on stdin); a non-zero exit is returned, not thrown. Throws WEFT_ERR_TUN when `ip` cannot run. */
export function ip(args: readonly string[], input = ''): Promise<IpResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new WeftError('WEFT_ERR_TUN', `cannot run ip ${args.join(' ')}: ${err.message}; install the iproute2 package`, { cause: err }));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr: stderr.trim() });
    });
    child.stdin?.on('error', () => undefined); // EPIPE when ip exits early: its exit code tells
    child.stdin?.end(input);
  });
}

/**
 * Several `ip -j` commands in one process (`ip -j -batch -`), each result parsed; undefined when
 * an object does not exist (ip stops at the first failing command).
 * `options` go before `-batch` (e.g. ['-6']).
 */
export async function ipJsonBatch(commands: readonly (readonly string[])[], options: readonly string[] = []): Promise<unknown[][] | undefined> {
  const r = await ip([...options, '-j', '-batch', '-'], commands.map((c) => `${c.join(' ')}\n`).join(''));
  if (r.code !== 0) {
    if (/does not exist|Cannot find device/.test(r.stderr)) return undefined;
    throw new WeftError('WEFT_ERR_TUN', `ip -j -batch failed: ${r.stderr}`);
  }
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== commands.length) throw new WeftError('WEFT_ERR_TUN', `ip -j -batch printed ${lines.length} results for ${commands.length} commands`);
  return lines.map((l) => JSON.parse(l) as unknown[]);
}

/** `ip -j <args>` parsed; [] when the object does not exist (exit 1). */
export async function ipJson<T>(args: readonly string[]): Promise<T[]> {
  const r = await ip(['-j', ...args]);
  if (r.code !== 0) {
    if (/does not exist|Cannot find device/.test(r.stderr)) return [];
    throw new WeftError('WEFT_ERR_TUN', `ip -j ${args.join(' ')} failed: ${r.stderr}`);
  }
  const text = r.stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as T[]);
}

/** `ip <args>`, throwing WEFT_ERR_TUN with ip's message on failure, unless it matches `tolerate`. */
export async function ipRun(args: readonly string[], tolerate?: RegExp): Promise<void> {
  const r = await ip(args);
  if (r.code !== 0 && !(tolerate && tolerate.test(r.stderr))) throw new WeftError('WEFT_ERR_TUN', `ip ${args.join(' ')} failed: ${r.stderr}`);
}
