// weft-cni entry: one CNI invocation per process. Reads CNI_* and the netconf on stdin, prints
// the result (ADD, VERSION) or a CNI error on stdout and exits 1 on failure; logs go to stderr.
// Imports are node builtins and this folder only, and each command loads only its own modules:
// start-up time is most of an ADD.
import { readFileSync, writeSync } from 'node:fs';
import { readCniEnv, type CniEnv } from './cni-env.js';
import { CniError, ErrCode } from './errors.js';
import { parseNetConf, peekVersion, type JsonObject } from './netconf.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, isSupported } from './version.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

async function dispatch(env: CniEnv, stdin: string): Promise<JsonObject | undefined> {
  if (env.command === 'VERSION') return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
  const conf = parseNetConf(stdin);
  switch (env.command) {
    case 'ADD':
      return (await import('./cmd-add.js')).cmdAdd(env, conf);
    case 'DEL':
      (await import('./cmd-del.js')).cmdDel(env, conf);
      return undefined;
    case 'CHECK':
      (await import('./cmd-check.js')).cmdCheck(env, conf);
      return undefined;
    case 'GC':
      (await import('./cmd-gc.js')).cmdGc(env, conf);
      return undefined;
    case 'STATUS':
      await (await import('./cmd-status.js')).cmdStatus(env, conf);
      return undefined;
  }
}

async function main(): Promise<number> {
  let stdin = '';
  try {
    const env = readCniEnv(process.env);
    stdin = env.command === 'VERSION' && process.stdin.isTTY ? '' : readStdin();
    const out = await dispatch(env, stdin);
    if (out) writeSync(1, `${JSON.stringify(out)}\n`);
    return 0;
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(ErrCode.Internal, `internal error: ${(err as Error)?.message ?? String(err)}`, (err as Error)?.stack ?? '');
    const v = peekVersion(stdin);
    writeSync(1, `${JSON.stringify(e.toJSON(v && isSupported(v) ? v : CURRENT_VERSION))}\n`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
