// A bucketed digest of a member's state, for anti-entropy that sends only the differences.
//
// Every record (name, incarnation, state; the accuser and info excluded) hashes to 32 bits; its
// bucket comes from its name alone, so a record stays in its bucket as its incarnation changes.
// A bucket's hash is the XOR of its records' hashes, kept up to date record by record over
// LEAF_BUCKETS leaves. A digest of B buckets (a power of two ≤ LEAF_BUCKETS) folds the leaves
// whose index is congruent modulo B. Two members with the same records have the same digest at
// every B; a bucket that differs names the few records worth sending. Hashes only find
// differences between authenticated members: they are not a security boundary.
import type { MemberRecord, MemberState } from './types.js';
import { STATE_RANK } from './types.js';

/** Leaves kept per member; also the most buckets a digest may have. */
export const LEAF_BUCKETS = 4_096;
/** Records per bucket a digest aims at: a differing bucket costs about this many records. */
export const RECORDS_PER_BUCKET = 8;

/** FNV-1a over the UTF-16 code units of `s` (names are ASCII). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The leaf of a member name, in [0, LEAF_BUCKETS). */
export function leafOf(name: string): number {
  return fmix(fnv1a(name) ^ 0x5bd1e995) & (LEAF_BUCKETS - 1);
}

/** The bucket of a member name in a digest of `buckets` buckets. */
export function bucketOf(name: string, buckets: number): number {
  return leafOf(name) & (buckets - 1);
}

/** 32-bit hash of what makes two records about one member the same. */
export function recordHash(r: Pick<MemberRecord, 'name' | 'incarnation' | 'state'>): number {
  const lo = r.incarnation % 2 ** 32;
  const hi = Math.floor(r.incarnation / 2 ** 32);
  let h = fmix(fnv1a(r.name) ^ lo);
  h = fmix(h ^ Math.imul(hi + 1, 0x9e3779b1));
  return fmix(h ^ (STATE_RANK[r.state as MemberState] + 1));
}

/** Buckets of a digest for a state of `records` records: about RECORDS_PER_BUCKET each. */
export function bucketsFor(records: number): number {
  let b = 1;
  while (b < LEAF_BUCKETS && b * RECORDS_PER_BUCKET < records) b *= 2;
  return b;
}

/** True when `b` is a valid bucket count: a power of two in [1, LEAF_BUCKETS]. */
export function validBuckets(b: number): boolean {
  return Number.isInteger(b) && b >= 1 && b <= LEAF_BUCKETS && (b & (b - 1)) === 0;
}

export class StateDigest {
  private readonly leaves = new Uint32Array(LEAF_BUCKETS);

  /** Adds `r` to the state (or removes it: XOR is its own inverse). */
  toggle(r: Pick<MemberRecord, 'name' | 'incarnation' | 'state'>): void {
    this.leaves[leafOf(r.name)] ^= recordHash(r);
  }

  /** `before` replaced by `after` (same name). */
  replace(before: Pick<MemberRecord, 'name' | 'incarnation' | 'state'>, after: Pick<MemberRecord, 'name' | 'incarnation' | 'state'>): void {
    if (before.incarnation === after.incarnation && before.state === after.state) return;
    this.leaves[leafOf(before.name)] ^= recordHash(before) ^ recordHash(after);
  }

  /** The digest at `buckets` buckets (validBuckets). */
  fold(buckets: number): number[] {
    const out = new Array<number>(buckets).fill(0);
    for (let i = 0; i < LEAF_BUCKETS; i++) out[i & (buckets - 1)] ^= this.leaves[i];
    return out.map((h) => h >>> 0);
  }

  /** Indices of the buckets where `other` (a digest of other.length buckets) differs from this state. */
  differing(other: readonly number[]): number[] {
    const mine = this.fold(other.length);
    const out: number[] = [];
    for (let i = 0; i < mine.length; i++) if (mine[i] !== other[i] >>> 0) out.push(i);
    return out;
  }
}
