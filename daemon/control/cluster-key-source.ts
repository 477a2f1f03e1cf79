// Where this daemon's gossip cluster keys come from: --gossip-key-file, else <prefix>/gossip-key
// in etcd (created if absent), cached in the state dir (0600) so that a restart while etcd is away
// can still join through --peers or the peers it knew.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { encodeKeys, loadOrCreateClusterKey, readKeyFile } from './gossip/index.js';
import { writeFileAtomic } from './write-file-atomic.js';

const CACHED_KEY_FILE = 'gossip.key';

/** `cachedFirst`: use the cached copy without asking etcd (weftd started from its state cache). */
export async function resolveClusterKey(o: { keyFile: string | undefined; etcd: Etcd3; prefix: string; stateDir: string; log: Logger; cachedFirst?: boolean }): Promise<Buffer[]> {
  if (o.keyFile) return readKeyFile(o.keyFile);
  const cached = join(o.stateDir, CACHED_KEY_FILE);
  if (o.cachedFirst && existsSync(cached)) return readKeyFile(cached);
  try {
    const key = await loadOrCreateClusterKey(o.etcd, o.prefix);
    writeFileAtomic(cached, encodeKeys(key), { mode: 0o600 });
    return key;
  } catch (err) {
    try {
      const key = readKeyFile(cached);
      o.log.warn({ file: cached }, `gossip key not readable from etcd (${errorMessage(err)}); using the cached copy`);
      return key;
    } catch {
      throw err;
    }
  }
}
