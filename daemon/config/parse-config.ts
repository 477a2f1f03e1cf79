// argv + env → one frozen Config. Precedence: flags > WEFTD_* env > defaults. Pure: the caller
// passes argv (without node and script), env and the hostname. Any bad flag or value throws
// WeftError WEFT_ERR_CONFIG with one line naming the flag (or env var) and what it expects;
// main prints it and exits 2.
import { dirname } from 'node:path';
import { DEFAULT_CSUM_ELISION, DEFAULT_TUN_OFFLOADS, DEFAULT_UDP_OFFLOADS } from '../dataplane/constants.js';
import { WeftError } from '../errors.js';
import { parseIpv4 } from '../net/ipv4.js';
import type { Config, LogLevel, ParseResult } from './config.js';
import { formatDuration, parseDuration } from './duration.js';
import { FLAGS, envName, findFlag } from './flags.js';
import { helpText } from './help.js';

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MINUTES_MS = 60_000;
const MAX_MARGIN_MIN = 1439;
const MAX_RESYNC_S = 3600;

interface Raw {
  readonly value: string;
  /** `--name` or `WEFTD_NAME`, for messages. */
  readonly source: string;
}

function fail(message: string): never {
  throw new WeftError('WEFT_ERR_CONFIG', message);
}

function parseBool(text: string, source: string): boolean {
  const t = text.toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  return fail(`${source}: "${text}" is not a boolean; expected true or false`);
}

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
    out.set(name, { value, source: `--${name}` });
  }
  return out;
}

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, sys: { hostname: string; version: string }): ParseResult {
  const fromArgv = readArgv(argv);
  if (fromArgv === 'help') return { action: 'help', text: helpText(sys.version) };
  if (fromArgv === 'version') return { action: 'version', text: `weftd ${sys.version}` };

  const get = (name: string): Raw | undefined => {
    const flag = fromArgv.get(name);
    if (flag) return flag;
    const key = envName(name);
    const v = env[key];
    if (v !== undefined && v !== '') return { value: v, source: key };
    return undefined;
  };
  const str = (name: string): string | undefined => get(name)?.value;
  const withDefault = (name: string): Raw => get(name) ?? { value: findFlag(name)?.def ?? '', source: `--${name}` };

  const port = (name: string, allowZero: boolean): number => {
    const { value, source } = withDefault(name);
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) fail(`${source}: "${value}" is not a port; expected an integer ${allowZero ? 0 : 1}..65535${allowZero ? ' (0 disables)' : ''}`);
    return n;
  };
  const ipv4 = (raw: Raw | undefined): string | undefined => {
    if (!raw) return undefined;
    if (parseIpv4(raw.value) === null) fail(`${raw.source}: "${raw.value}" is not an IPv4 address; expected e.g. 198.18.0.1`);
    return raw.value;
  };
  const list = (name: string): string[] => (str(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  const endpoints = list('etcd-endpoints');
  if (endpoints.length === 0) endpoints.push(findFlag('etcd-endpoints')?.def ?? '');
  for (const e of endpoints) {
    let ok = false;
    try {
      const u = new URL(e);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      ok = false;
    }
    if (!ok) fail(`${withDefault('etcd-endpoints').source}: "${e}" is not an etcd URL; expected e.g. http://127.0.0.1:2379`);
  }

  const prefixRaw = withDefault('etcd-prefix');
  const prefix = prefixRaw.value.replace(/\/+$/, '');
  if (!prefix.startsWith('/')) fail(`${prefixRaw.source}: "${prefixRaw.value}" must be an absolute key path such as /coreos.com/network`);

  const tls = ['etcd-cafile', 'etcd-certfile', 'etcd-keyfile'].map(str);
  if ((tls[1] === undefined) !== (tls[2] === undefined)) fail('--etcd-certfile and --etcd-keyfile must be given together');
  const [user, pass] = [str('etcd-username'), str('etcd-password')];
  if ((user === undefined) !== (pass === undefined)) fail('--etcd-username and --etcd-password must be given together');

  const ifaceRaw = get('iface');
  if (ifaceRaw && parseIpv4(ifaceRaw.value) === null && !IFNAME_RE.test(ifaceRaw.value)) {
    fail(`${ifaceRaw.source}: "${ifaceRaw.value}" is neither an interface name nor an IPv4 address`);
  }

  const subnetFile = withDefault('subnet-file').value;
  if (subnetFile === '' || subnetFile.endsWith('/')) fail(`--subnet-file: "${subnetFile}" must be a file path such as /run/weft/subnet.env`);
  const stateDir = str('state-dir') ?? dirname(subnetFile);

  const ipMasqRaw = get('ip-masq');
  const ipMasq = ipMasqRaw ? parseBool(ipMasqRaw.value, ipMasqRaw.source) : false;

  const flag = (name: string, def: boolean): boolean => {
    const raw = get(name);
    return raw ? parseBool(raw.value, raw.source) : def;
  };
  const tunOffloads = flag('tun-offloads', DEFAULT_TUN_OFFLOADS);
  const udpOffloads = flag('udp-offloads', DEFAULT_UDP_OFFLOADS);
  const csumElision = flag('checksum-elision', DEFAULT_CSUM_ELISION) && tunOffloads;
  const metricsPerPeer = flag('metrics-per-peer', false);
  const prioRaw = withDefault('dataplane-priority');
  const dataplanePriority = /^\d{1,2}$/.test(prioRaw.value) ? Number(prioRaw.value) : NaN;
  if (!(dataplanePriority >= 0 && dataplanePriority <= 99)) fail(`${prioRaw.source}: "${prioRaw.value}" is not a priority; expected an integer 0..99 (0 = normal scheduling)`);

  const removeTunRaw = get('remove-tun-on-exit');
  const removeTunOnExit = removeTunRaw ? parseBool(removeTunRaw.value, removeTunRaw.source) : false;

  const seconds = (name: string): number => {
    const { value, source } = withDefault(name);
    if (!/^\d{1,4}$/.test(value) || Number(value) > MAX_RESYNC_S) fail(`${source}: "${value}" is not a period; expected whole seconds 0..${MAX_RESYNC_S} (0: never)`);
    return Number(value) * 1_000;
  };

  const healthzIp = ipv4(withDefault('healthz-ip')) ?? '0.0.0.0';

  const tunRaw = withDefault('tun-name');
  if (!IFNAME_RE.test(tunRaw.value)) fail(`${tunRaw.source}: "${tunRaw.value}" is not a valid interface name; expected 1-15 letters, digits, "_", "-" or "."`);

  const nodeRaw = get('node-name') ?? { value: sys.hostname, source: 'hostname (use --node-name)' };
  if (!NODE_NAME_RE.test(nodeRaw.value)) fail(`${nodeRaw.source}: "${nodeRaw.value}" is not a valid node name; expected letters, digits, ".", "_" or "-" (at most 253)`);

  const peers = list('peers');
  for (const p of peers) if (!/^[^\s:]+:\d{1,5}$/.test(p)) fail(`${withDefault('peers').source}: "${p}" is not host:port`);

  const ttlRaw = withDefault('subnet-lease-ttl');
  const ttlMs = parseDuration(ttlRaw.value);
  if (ttlMs === null || ttlMs < 2_000 || ttlMs % 1_000 !== 0) fail(`${ttlRaw.source}: "${ttlRaw.value}" is not a lease TTL; expected a whole number of seconds of at least 2s, e.g. 30s or 24h`);

  const marginRaw = withDefault('subnet-lease-renew-margin');
  const marginMin = /^\d+(\.\d+)?$/.test(marginRaw.value) ? Number(marginRaw.value) : NaN;
  if (!(marginMin > 0 && marginMin <= MAX_MARGIN_MIN)) fail(`${marginRaw.source}: "${marginRaw.value}" is not a renew margin; expected minutes, more than 0 and at most ${MAX_MARGIN_MIN} (fractions allowed)`);
  const marginMs = Math.round(marginMin * MINUTES_MS);
  if (marginMs >= ttlMs) fail(`${marginRaw.source}: ${marginRaw.value} min must be less than --subnet-lease-ttl (${formatDuration(ttlMs)})`);

  const levelRaw = withDefault('log-level');
  if (!LOG_LEVELS.includes(levelRaw.value as LogLevel)) fail(`${levelRaw.source}: "${levelRaw.value}" is not a log level; expected one of ${LOG_LEVELS.join(', ')}`);

  const config: Config = {
    etcdEndpoints: Object.freeze(endpoints),
    etcdPrefix: prefix,
    etcdCafile: tls[0],
    etcdCertfile: tls[1],
    etcdKeyfile: tls[2],
    etcdUsername: user,
    etcdPassword: pass,
    iface: ifaceRaw?.value,
    publicIp: ipv4(get('public-ip')),
    subnetFile,
    stateDir,
    ipMasq,
    iptablesResyncMs: seconds('iptables-resync'),
    linkResyncMs: seconds('link-resync'),
    healthzIp,
    healthzPort: port('healthz-port', true),
    gossipPort: port('gossip-port', false),
    gossipKeyFile: str('gossip-key-file'),
    peers: Object.freeze(peers),
    tunName: tunRaw.value,
    removeTunOnExit,
    dataplanePriority,
    metricsPerPeer,
    tunOffloads,
    udpOffloads,
    csumElision,
    nodeName: nodeRaw.value,
    subnetLeaseTtlMs: ttlMs,
    subnetLeaseRenewMarginMs: marginMs,
    logLevel: levelRaw.value as LogLevel,
  };
  return { action: 'run', config: Object.freeze(config) };
}

/** Env vars that look like weftd's but match no flag (likely typos), for a start-up warning. */
export function unknownEnvNames(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(FLAGS.map((f) => envName(f.name)));
  known.add('WEFTD_TRACE');
  return Object.keys(env).filter((k) => k.startsWith('WEFTD_') && !known.has(k));
}
