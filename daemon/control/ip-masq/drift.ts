// What of weft's installed rules an `iptables-save` dump no longer shows: pure, so the comparison
// is unit-tested. A chain drifts when it is missing or its rules differ from the wanted ones in
// any way (missing, extra, reordered); it is then rewritten whole by iptables-restore. A hook
// drifts when the built-in chain has no jump into weft's chain. Rules are compared as argument
// vectors, so quoting differences between iptables versions do not count as drift.
import type { Hook, OwnedChain, RuleSet, Table } from './rules.js';

export type Drift =
  | { readonly kind: 'chain'; readonly table: Table; readonly chain: OwnedChain; readonly why: string }
  | { readonly kind: 'hook'; readonly table: Table; readonly hook: Hook; readonly why: string };

interface SavedTable {
  readonly chains: Set<string>;
  /** Rules per chain, in order, as argument vectors after `-A <chain>`. */
  readonly rules: Map<string, string[][]>;
}

/** Splits one iptables-save line into arguments, honouring double quotes and backslash escapes. */
export function saveArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inToken = true;
    } else if (c === '"') {
      quoted = !quoted;
      inToken = true;
    } else if (c === ' ' && !quoted) {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/** Tables of an iptables-save dump, by name. */
function parseSave(dump: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let table: SavedTable | undefined;
  for (const line of dump.split('\n')) {
    if (line.startsWith('*')) {
      table = { chains: new Set(), rules: new Map() };
      tables.set(line.slice(1).trim(), table);
    } else if (!table) {
      continue;
    } else if (line.startsWith(':')) {
      table.chains.add(line.slice(1).split(' ')[0]);
    } else if (line.startsWith('-A ')) {
      const [, chain, ...args] = saveArgs(line);
      const list = table.rules.get(chain) ?? [];
      list.push(args);
      table.rules.set(chain, list);
    }
  }
  return tables;
}

const key = (args: readonly string[]): string => args.join('\u0000');

/** Why `saved` differs from `wanted`, or undefined when they are the same. */
function ruleDifference(wanted: readonly (readonly string[])[], saved: readonly string[][]): string | undefined {
  const want = wanted.map(key);
  const have = saved.map(key);
  if (want.length === have.length && want.every((w, i) => w === have[i])) return undefined;
  const missing = want.filter((w) => !have.includes(w)).length;
  const extra = have.filter((h) => !want.includes(h)).length;
  const parts: string[] = [];
  if (missing > 0) parts.push(`${missing} of ${want.length} rules missing`);
  if (extra > 0) parts.push(`${extra} unexpected rule${extra === 1 ? '' : 's'}`);
  if (parts.length === 0) parts.push(have.length === want.length ? 'rules out of order' : 'duplicate rules');
  return parts.join(', ');
}

/** Everything of `wanted` that `dump` (one backend's iptables-save, all tables) lacks or has changed. */
export function findDrift(dump: string, wanted: RuleSet): Drift[] {
  const tables = parseSave(dump);
  const drift: Drift[] = [];
  for (const chain of wanted.chains) {
    const t = tables.get(chain.table);
    const label = `chain ${chain.table}/${chain.name}`;
    if (!t?.chains.has(chain.name)) {
      drift.push({ kind: 'chain', table: chain.table, chain, why: `${label} missing` });
      continue;
    }
    const why = ruleDifference(chain.rules, t.rules.get(chain.name) ?? []);
    if (why) drift.push({ kind: 'chain', table: chain.table, chain, why: `${label}: ${why}` });
  }
  for (const hook of wanted.hooks) {
    const rules = tables.get(hook.table)?.rules.get(hook.chain) ?? [];
    if (!rules.some((r) => key(r) === key(hook.spec))) {
      drift.push({ kind: 'hook', table: hook.table, hook, why: `hook ${hook.table}/${hook.chain} → ${hook.spec[hook.spec.length - 1]} missing` });
    }
  }
  return drift;
}
