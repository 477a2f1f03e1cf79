// Saved delegate configs, one file per attachment (containerID, ifname):
//   <dataDir>/attachments/<containerID>@<ifname>   mode 0600, directory 0700
// '@' cannot appear in a container ID, so the name is unambiguous; temp files start with '.'. Writes are atomic (temp file,
// fsync, link), so a crash leaves either no state or the whole of it, never half of one.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
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

function stateDir(dataDir: string): string {
  return join(dataDir, 'attachments');
}

function stateFile(dataDir: string, a: Attachment): string {
  return join(stateDir(dataDir), `${a.containerID}@${a.ifname}`);
}

/**
 * Saves the state only if the attachment has none yet: the claim an ADD makes before it delegates.
 * The file is written in full under a temp name, then link()ed into place, which fails with EEXIST
 * when the attachment has state: of two ADDs for one attachment, even concurrent ones, exactly one
 * wins. Throws CniError InvalidEnv (the runtime repeated CNI_CONTAINERID/CNI_IFNAME) in that case.
 */
export function claimState(dataDir: string, s: SavedState): void {
  const dir = stateDir(dataDir);
  const file = stateFile(dataDir, s);
  const tmp = join(dir, `.${s.containerID}@${s.ifname}.tmp-${process.pid}`);
  let linked: NodeJS.ErrnoException | undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(s));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      linked = err as NodeJS.ErrnoException;
    }
  } catch (err) {
    throw new CniError(ErrCode.IoFailure, `cannot save attachment state in ${dir}: ${(err as Error).message}; check that dataDir is writable by the runtime`);
  } finally {
    rmSync(tmp, { force: true });
  }
  if (linked) {
    throw new CniError(
      ErrCode.InvalidEnv,
      `container ${s.containerID} already has ${s.ifname} attached by weft-cni (state ${file}); this second ADD was refused and the existing attachment left as it is. ` +
        'A runtime must not ADD twice for one container and interface: run DEL first, or use another CNI_IFNAME',
    );
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
