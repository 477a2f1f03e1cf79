// Saved delegate configs, one file per attachment (containerID, ifname):
//   <dataDir>/attachments/<containerID>@<ifname>   mode 0600, directory 0700
// '@' cannot appear in a container ID, so the name is unambiguous; temp files start with '.'. Writes are atomic (temp file,
// fsync, rename), so a crash leaves either the old state or the new one, never half of one.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrCode } from './errors.js';
import { isObject, type Attachment, type JsonObject } from './netconf.js';

export interface SavedState {
  readonly containerID: string;
  readonly ifname: string;
  /** CNI_NETNS at ADD, so GC can clean the pod side while the namespace still exists. */
  readonly netns: string;
  readonly delegate: JsonObject;
}

export function stateDir(dataDir: string): string {
  return join(dataDir, 'attachments');
}

function stateFile(dataDir: string, a: Attachment): string {
  return join(stateDir(dataDir), `${a.containerID}@${a.ifname}`);
}

export function saveState(dataDir: string, s: SavedState): void {
  const dir = stateDir(dataDir);
  const file = stateFile(dataDir, s);
  const tmp = join(dir, `.${s.containerID}@${s.ifname}.tmp-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(s));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CniError(ErrCode.IoFailure, `cannot save attachment state in ${dir}: ${(err as Error).message}; check that dataDir is writable by the runtime`);
  }
}

/** The saved state, undefined when there is none; 'corrupt' when the file cannot be parsed. */
export function loadState(dataDir: string, a: Attachment): SavedState | 'corrupt' | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(dataDir, a), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(ErrCode.IoFailure, `cannot read attachment state ${stateFile(dataDir, a)}: ${(err as Error).message}`);
  }
  try {
    const s: unknown = JSON.parse(text);
    if (isObject(s) && isObject(s.delegate) && typeof s.netns === 'string') {
      return { containerID: a.containerID, ifname: a.ifname, netns: s.netns, delegate: s.delegate };
    }
  } catch {
    /* fall through */
  }
  return 'corrupt';
}

export function removeState(dataDir: string, a: Attachment): void {
  rmSync(stateFile(dataDir, a), { force: true });
}

/** Every attachment with a state file (temp files from interrupted writes are left out). */
export function listStates(dataDir: string): Attachment[] {
  let names: string[];
  try {
    names = readdirSync(stateDir(dataDir));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const at = n.indexOf('@');
    if (at <= 0 || n.startsWith('.')) return [];
    return [{ containerID: n.slice(0, at), ifname: n.slice(at + 1) }];
  });
}
