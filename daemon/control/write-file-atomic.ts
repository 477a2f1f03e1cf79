// The one way weftd replaces a file (subnet.env, the state cache, the cached gossip key): readers
// see the old content or the new, never a torn file, and the new content survives a crash or power
// loss once this returns. Temp file in the same folder → write → fchmod → fsync → rename over the
// target → fsync the folder (so the rename itself is durable).
//
// Synchronous on purpose: the files are small (under a few KiB), written off the packet path (the
// data plane has its own thread), and StateCache.save's callers expect it done when it returns.
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** The file's permissions, whatever the umask. */
  readonly mode: number;
  /** Permissions of folders created on the way, whatever the umask (default 0o755). */
  readonly dirMode?: number;
}

/** Throws the fs error (ENOENT, EACCES, ENOTDIR …) unwrapped; the temp file is removed on failure. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteFileAtomicOptions): void {
  const dir = dirname(path);
  const dirMode = opts.dirMode ?? 0o755;
  const created = mkdirSync(dir, { recursive: true, mode: dirMode });
  if (created) for (let d = dir; d.length >= created.length; d = dirname(d)) chmodSync(d, dirMode);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', opts.mode);
    writeFileSync(fd, data);
    fchmodSync(fd, opts.mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
