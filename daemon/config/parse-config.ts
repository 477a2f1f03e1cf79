// argv + env → one frozen Config. Precedence: flags > WEFTD_* env > FLANNELD_* env > defaults. Pure: the caller
// passes argv (without node and script), env and the hostname. Every flag of the table (flags.ts)
// is read and parsed in one loop, then the checks that span several flags run once. Any bad flag
// or value throws WeftError WEFT_ERR_CONFIG with one line naming the flag (or env var) and what it
// expects; main prints it and exits 2.
import { dirname } from 'node:path';
import type { Config, ParseResult } from './config.js';
import { formatDuration } from './duration.js';
import { fail, type Raw } from './flag-values.js';
import { FLAGS, envName, findFlag, flannelEnvName, type FlagSpec } from './flags.js';
import { helpText } from './help.js';

/** Reads argv into name → raw value; `help`/`version` are returned as actions. */
function readArgv(argv: readonly string[]): Map<string, Raw> | 'help' | 'version' {
  const out = new Map<string, Raw>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    if (!arg.startsWith('--') || arg.length === 2) fail(`unexpected argument "${arg}"; weftd takes only --flags (see weftd --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = findFlag(name);
    if (!spec) fail(`unknown flag --${name} (see weftd --help for the list)`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      if (i + 1 >= argv.length) fail(`--${name} needs a value: --${name} <value> or --${name}=<value>`);
      value = argv[++i];
    }
    const values = spec.repeatable ? [...(out.get(name)?.values ?? []), value] : undefined;
    out.set(name, { value, source: `--${name}`, values });
  }
  return out;
}

/** The flag's raw value: given as a flag, else its non-empty WEFTD_* then FLANNELD_* env twin, else its default; undefined = unset. */
function rawOf(f: FlagSpec, argv: ReadonlyMap<string, Raw>, env: Readonly<Record<string, string | undefined>>, hostname: string): Raw | undefined {
  const given = argv.get(f.name);
  if (given) return given;
  for (const key of [envName(f.name), flannelEnvName(f.name)]) {
    const v = env[key];
    if (v !== undefined && v !== '') return { value: v, source: key };
  }
  if (f.unset) return f.unset({ hostname });
  return f.def === undefined ? undefined : { value: f.def, source: `--${f.name}` };
}

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, sys: { hostname: string; version: string }): ParseResult {
  const fromArgv = readArgv(argv);
  if (fromArgv === 'help') return { action: 'help', text: helpText(sys.version) };
  if (fromArgv === 'version') return { action: 'version', text: `weftd ${sys.version}` };

  const raws = new Map<keyof Config, Raw>();
  const values: Record<string, unknown> = {};
  for (const f of FLAGS) {
    const raw = rawOf(f, fromArgv, env, sys.hostname);
    if (raw) raws.set(f.key, raw);
    values[f.key] = raw === undefined ? undefined : f.parse(raw);
  }
  const c = values as { -readonly [K in keyof Config]: Config[K] };

  if ((c.etcdCertfile === undefined) !== (c.etcdKeyfile === undefined)) fail('--etcd-certfile and --etcd-keyfile must be given together');
  if ((c.etcdUsername === undefined) !== (c.etcdPassword === undefined)) fail('--etcd-username and --etcd-password must be given together');
  c.stateDir ??= dirname(c.subnetFile);
  // A plain TUN cannot take partial checksums.
  c.csumElision &&= c.tunOffloads;
  if (c.subnetLeaseRenewMarginMs >= c.subnetLeaseTtlMs) {
    const margin = raws.get('subnetLeaseRenewMarginMs');
    fail(`${margin?.source}: ${margin?.value} min must be less than --subnet-lease-ttl (${formatDuration(c.subnetLeaseTtlMs)})`);
  }
  return { action: 'run', config: Object.freeze(c) };
}

/** Env vars that look like weftd's but match no flag (likely typos), for a start-up warning. */
export function unknownEnvNames(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(FLAGS.map((f) => envName(f.name)));
  known.add('WEFTD_TRACE');
  return Object.keys(env).filter((k) => k.startsWith('WEFTD_') && !known.has(k));
}

/** FLANNELD_* variables set in `env` that name no weftd flag: Flannel options weft ignores, for a start-up warning. */
export function ignoredFlannelEnvNames(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(FLAGS.map((f) => flannelEnvName(f.name)));
  return Object.keys(env).filter((k) => k.startsWith('FLANNELD_') && !known.has(k)).sort();
}
