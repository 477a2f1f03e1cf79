// Runs a delegate plugin as the runtime ran us (CNI SPEC §4 Delegation): binary found in CNI_PATH,
// the same CNI_* environment (with the given overrides), the config on stdin, its stderr passed
// through to ours. Its stdout is a result or a CNI error, which becomes a CniError here.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrCode } from './errors.js';
import { isObject, type JsonObject } from './netconf.js';

export function findPlugin(type: string, path: readonly string[]): string {
  if (type === '' || type.includes('/')) throw new CniError(ErrCode.InvalidNetconf, `plugin type ${JSON.stringify(type)} is not a plugin name`);
  for (const dir of path) {
    const file = join(dir, type);
    try {
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      /* not here */
    }
  }
  throw new CniError(
    ErrCode.InvalidEnv,
    `plugin "${type}" not found in CNI_PATH (searched ${path.length > 0 ? path.join(', ') : 'nothing: CNI_PATH is empty'}): install containernetworking-plugins there, or fix CNI_PATH / delegate.type`,
  );
}

export interface ExecOptions {
  command: string;
  /** CNI_* overrides on top of our own environment (GC's per-attachment DEL sets other IDs). */
  env?: Record<string, string>;
}

/** Runs `binary` and returns its parsed stdout ({} when it printed nothing, as DEL may). */
export function execPlugin(binary: string, config: JsonObject, opts: ExecOptions): JsonObject {
  const env = { ...process.env, ...opts.env, CNI_COMMAND: opts.command };
  const res = spawnSync(binary, [], { input: JSON.stringify(config), env, stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  const name = binary.slice(binary.lastIndexOf('/') + 1);
  // EPIPE: the plugin exited without reading stdin (Go's skel skips it for VERSION); its exit
  // status and output still tell what happened.
  if (res.error && !((res.error as NodeJS.ErrnoException).code === 'EPIPE' && res.status !== null)) {
    throw new CniError(ErrCode.IoFailure, `could not run ${binary}: ${res.error.message}`);
  }
  const out = res.stdout.toString('utf8').trim();
  let parsed: unknown = {};
  if (out !== '') {
    try {
      parsed = JSON.parse(out);
    } catch {
      parsed = undefined;
    }
  }
  if (res.status !== 0) {
    if (isObject(parsed) && typeof parsed.code === 'number') {
      const details = typeof parsed.details === 'string' ? parsed.details : '';
      throw new CniError(parsed.code, `${name} ${opts.command} failed: ${String(parsed.msg ?? '')}`, details);
    }
    throw new CniError(ErrCode.Internal, `${name} ${opts.command} failed (exit ${res.status ?? res.signal}) without a CNI error`, out.slice(0, 500));
  }
  if (!isObject(parsed)) throw new CniError(ErrCode.DecodeFailure, `${name} ${opts.command} printed something that is not a JSON object`, out.slice(0, 500));
  return parsed;
}
