// The value parsers of the flag table (flags.ts): each reads one raw value, from a flag, its env
// twin or the default, and returns the typed Config value or throws WEFT_ERR_CONFIG with one line
// naming where the value came from and what was expected.
import { WeftError } from '../errors.js';
import { parseIpv4 } from '../net/ipv4.js';
import { formatIpv6, isIpv4Mapped, parseIpv6 } from '../net/ipv6.js';
import type { LogLevel } from './config.js';
import { parseDuration } from './duration.js';

/** One raw value and where it came from. */
export interface Raw {
  readonly value: string;
  /** `--name`, `WEFTD_NAME`, `FLANNELD_NAME` or another origin (the hostname), for messages. */
  readonly source: string;
  /** A repeatable flag given on the command line: every value, in order (`value` is the last). */
  readonly values?: readonly string[];
}

export type Parse<T> = (raw: Raw) => T;

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MINUTES_MS = 60_000;
const MAX_MARGIN_MIN = 1439;
const MAX_RESYNC_S = 3600;

export function fail(message: string): never {
  throw new WeftError('WEFT_ERR_CONFIG', message);
}

/** The one way a boolean is read, from a bare flag ('true'), `--flag=value` or env. */
export const bool: Parse<boolean> = ({ value, source }) => {
  const t = value.toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  return fail(`${source}: "${value}" is not a boolean; expected true or false`);
};

export const text: Parse<string> = ({ value }) => value;

export const ipv4: Parse<string> = ({ value, source }) => {
  if (parseIpv4(value) === null) fail(`${source}: "${value}" is not an IPv4 address; expected e.g. 198.18.0.1`);
  return value;
};

/** An IPv6 address (net/ipv6.ts rules, not IPv4-mapped), returned in Go's net.IP.String() form, as leases carry it. */
export const ipv6: Parse<string> = ({ value, source }) => {
  const v = parseIpv6(value);
  if (v === null || isIpv4Mapped(v)) fail(`${source}: "${value}" is not an IPv6 address; expected e.g. fd00:198:18::1 (no brackets, zone or IPv4-mapped form)`);
  return formatIpv6(v);
};

export function port(allowZero: boolean): Parse<number> {
  return ({ value, source }) => {
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) fail(`${source}: "${value}" is not a port; expected an integer ${allowZero ? 0 : 1}..65535${allowZero ? ' (0 disables)' : ''}`);
    return n;
  };
}

/** Whole seconds 0..3600 as milliseconds; 0 = never. */
export const periodMs: Parse<number> = ({ value, source }) => {
  if (!/^\d{1,4}$/.test(value) || Number(value) > MAX_RESYNC_S) fail(`${source}: "${value}" is not a period; expected whole seconds 0..${MAX_RESYNC_S} (0: never)`);
  return Number(value) * 1_000;
};

/** Bounds of --gossip-probe-interval, seconds: above the 150 ms probe timeout, below a sleepy 10 s. */
const MIN_PROBE_INTERVAL_S = 0.2;
const MAX_PROBE_INTERVAL_S = 10;

/** Seconds (fractions allowed) between MIN_ and MAX_PROBE_INTERVAL_S, as milliseconds. */
export const probeIntervalMs: Parse<number> = ({ value, source }) => {
  const s = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(s >= MIN_PROBE_INTERVAL_S && s <= MAX_PROBE_INTERVAL_S)) {
    fail(`${source}: "${value}" is not a probe interval; expected seconds from ${MIN_PROBE_INTERVAL_S} to ${MAX_PROBE_INTERVAL_S} (fractions allowed, e.g. 0.5 or 1)`);
  }
  return Math.round(s * 1_000);
};

/** Comma-separated, blanks dropped, each item checked by `item`. */
export function list(item: (entry: string, source: string) => void): Parse<readonly string[]> {
  return ({ value, source }) => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) item(i, source);
    return Object.freeze(items);
  };
}

export function etcdUrl(url: string, source: string): void {
  let ok = false;
  try {
    const u = new URL(url);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) fail(`${source}: "${url}" is not an etcd URL; expected e.g. http://127.0.0.1:2379`);
}

export function hostPort(peer: string, source: string): void {
  if (!/^[^\s:]+:\d{1,5}$/.test(peer)) fail(`${source}: "${peer}" is not host:port`);
}

/** Without trailing slashes. */
export const keyPrefix: Parse<string> = ({ value, source }) => {
  const prefix = value.replace(/\/+$/, '');
  if (!prefix.startsWith('/')) fail(`${source}: "${value}" must be an absolute key path such as /coreos.com/network`);
  return prefix;
};

const ifaceOrIp: Parse<string> = ({ value, source }) => {
  if (parseIpv4(value) === null && parseIpv6(value) === null && !IFNAME_RE.test(value)) fail(`${source}: "${value}" is neither an interface name nor an IPv4 or IPv6 address`);
  return value;
};

/** --iface: every value given, each a comma-separated list (the env form), in order. */
export const ifaceList: Parse<readonly string[]> = (raw) =>
  Object.freeze((raw.values ?? [raw.value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map((value) => ifaceOrIp({ value, source: raw.source })));

/** --iface-regex: every value given, in order, each one regular expression (commas are part of it). */
export const regexList: Parse<readonly string[]> = (raw) => {
  const all = (raw.values ?? [raw.value]).filter((v) => v !== '');
  for (const r of all) {
    try {
      new RegExp(r);
    } catch (err) {
      fail(`${raw.source}: "${r}" is not a regular expression (${(err as Error).message})`);
    }
  }
  return Object.freeze(all);
};

export const ifname: Parse<string> = ({ value, source }) => {
  if (!IFNAME_RE.test(value)) fail(`${source}: "${value}" is not a valid interface name; expected 1-15 letters, digits, "_", "-" or "."`);
  return value;
};

export const filePath: Parse<string> = ({ value }) => {
  if (value === '' || value.endsWith('/')) fail(`--subnet-file: "${value}" must be a file path such as /run/weft/subnet.env`);
  return value;
};

export const nodeName: Parse<string> = ({ value, source }) => {
  if (!NODE_NAME_RE.test(value)) fail(`${source}: "${value}" is not a valid node name; expected letters, digits, ".", "_" or "-" (at most 253)`);
  return value;
};

export const priority: Parse<number> = ({ value, source }) => {
  const n = /^\d{1,2}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 99)) fail(`${source}: "${value}" is not a priority; expected an integer 0..99 (0 = normal scheduling)`);
  return n;
};

/** Microseconds 0..1000, returned in ns. */
export const busyPollNs: Parse<number> = ({ value, source }) => {
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 1000)) fail(`${source}: "${value}" is not a busy-poll window; expected whole microseconds 0..1000 (0: off)`);
  return n * 1_000;
};

export const leaseTtlMs: Parse<number> = ({ value, source }) => {
  const ms = parseDuration(value);
  if (ms === null || ms < 2_000 || ms % 1_000 !== 0) fail(`${source}: "${value}" is not a lease TTL; expected a whole number of seconds of at least 2s, e.g. 30s or 24h`);
  return ms;
};

/** Minutes, fractions allowed, as milliseconds. */
export const marginMs: Parse<number> = ({ value, source }) => {
  const min = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(min > 0 && min <= MAX_MARGIN_MIN)) fail(`${source}: "${value}" is not a renew margin; expected minutes, more than 0 and at most ${MAX_MARGIN_MIN} (fractions allowed)`);
  return Math.round(min * MINUTES_MS);
};

export const logLevel: Parse<LogLevel> = ({ value, source }) => {
  if (!LOG_LEVELS.includes(value as LogLevel)) fail(`${source}: "${value}" is not a log level; expected one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
};
