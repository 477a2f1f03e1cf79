// Runs iproute2's `ip` in this process's network namespace.
import { execFile } from 'node:child_process';
import { WeftError } from '../../errors.js';

export interface IpResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ip <args>`; a non-zero exit is returned, not thrown. Throws WEFT_ERR_TUN when `ip` cannot run. */
export function ip(args: readonly string[]): Promise<IpResult> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new WeftError('WEFT_ERR_TUN', `cannot run ip ${args.join(' ')}: ${err.message}; install the iproute2 package`, { cause: err }));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr: stderr.trim() });
    });
  });
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
