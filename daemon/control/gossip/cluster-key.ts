// The gossip cluster key: 32 random bytes, base64, at <prefix>/gossip-key in etcd (created by the
// first daemon that finds it absent, in a create-if-absent transaction, so racing daemons agree),
// or read from --gossip-key-file (the same base64 text:
// `etcdctl get --print-value-only <prefix>/gossip-key > key`).
// During a key rotation the text holds several keys, one per line: the first signs, every one
// verifies (README, "Rotating the cluster key").
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { WeftError, errorMessage } from '../../errors.js';

export const CLUSTER_KEY_SIZE = 32;
/** Shorter keys are refused. */
export const MIN_CLUSTER_KEY_SIZE = 16;
/** Keys held at once: the current one and those of a rotation in progress. */
export const MAX_CLUSTER_KEYS = 4;

export function gossipKeyPath(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/gossip-key`;
}

/** The keys in `text`, one base64 key per line (blank lines ignored); the first signs. */
function decodeKeys(text: string, where: string): Buffer[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length > MAX_CLUSTER_KEYS) throw new WeftError('WEFT_ERR_GOSSIP', `gossip key in ${where} holds ${lines.length} keys; at most ${MAX_CLUSTER_KEYS} (the current one first) are allowed`);
  if (lines.length === 0) lines.push('');
  return lines.map((t) => {
    const key = Buffer.from(t, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || key.length < MIN_CLUSTER_KEY_SIZE) {
      throw new WeftError(
        'WEFT_ERR_GOSSIP',
        `gossip key in ${where} is not base64 of at least ${MIN_CLUSTER_KEY_SIZE} bytes; create one with \`head -c ${CLUSTER_KEY_SIZE} /dev/urandom | base64\``,
      );
    }
    return key;
  });
}

/** The text of a key file or etcd value holding `keys` (the inverse of decodeKeys). */
export function encodeKeys(keys: readonly Buffer[]): string {
  return keys.map((k) => `${k.toString('base64')}\n`).join('');
}

/** Reads the cluster keys from `<prefix>/gossip-key`, creating one if absent. */
export async function loadOrCreateClusterKey(client: Etcd3, prefix: string): Promise<Buffer[]> {
  const path = gossipKeyPath(prefix);
  const fresh = randomBytes(CLUSTER_KEY_SIZE).toString('base64');
  let stored: string | undefined;
  try {
    const res = await client.if(path, 'Version', '==', 0).then(client.put(path).value(fresh)).else(client.get(path)).commit();
    stored = res.succeeded ? fresh : res.responses[0]?.response_range?.kvs[0]?.value.toString('utf8');
  } catch (err) {
    throw new WeftError('WEFT_ERR_ETCD_UNAVAILABLE', `cannot read or create the gossip key ${path} in etcd: ${errorMessage(err)}. Check --etcd-endpoints, or pass --gossip-key-file.`, { cause: err });
  }
  if (stored === undefined) throw new WeftError('WEFT_ERR_GOSSIP', `gossip key ${path} vanished while being read; retry`);
  return decodeKeys(stored, `etcd ${path}`);
}

/** Reads a --gossip-key-file. */
export function readKeyFile(path: string): Buffer[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WeftError('WEFT_ERR_GOSSIP', `cannot read --gossip-key-file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return decodeKeys(text, `--gossip-key-file ${path}`);
}
