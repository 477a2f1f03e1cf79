// The network config at `<prefix>/config`, parsed and checked exactly as Flannel does
// (pkg/subnet/config.go ParseConfig + CheckNetworkConfig, pkg/backend/vxlan VXLANConfig):
//   - keys match case-insensitively (Go's encoding/json);
//   - SubnetLen: explicit → ≤ 30 and ≥ Network prefix + 2; absent/0 → 24 if the prefix ≤ /22,
//     prefix + 2 up to /28, and a Network longer than /28 is rejected;
//   - SubnetMin/SubnetMax: absent/"0.0.0.0" → the second and the last subnet; explicit → inside
//     Network and aligned to SubnetLen;
//   - Backend absent → Flannel reads type "udp"; weft only speaks vxlan and says so;
//   - Backend.VNI default 1, Backend.Port default 0 = 8472, Backend.MTU optional;
//   - EnableIPv4 default true; EnableIPv6 default false. With EnableIPv6, IPv6Network is required
//     and IPv6SubnetLen/Min/Max follow the same scheme: IPv6SubnetLen explicit → ≤ 126 and ≥
//     prefix + 2; absent/0 → 64 if the prefix ≤ /62, prefix + 2 up to /124, longer refused;
//     IPv6SubnetMin/Max absent/"::" → the second and the last subnet, explicit → inside and aligned.
// checkNetworkConfig applies Flannel's rules (IPv6-only included); parseNetworkConfig is what weftd
// runs on and adds weft's refusal of non-vxlan backends, saying what to change. An IPv6-only config
// (EnableIPv4 false) keeps Flannel's zero IPv4 values (Network 0.0.0.0/0, SubnetLen 0, SubnetMin/Max
// 0.0.0.0) and says so with ipv6Only, so no IPv4 pool is ever taken from it.
import { DEFAULT_VNI, DEFAULT_VXLAN_PORT, OVERHEAD } from '../../dataplane/constants.js';
import { WeftError } from '../../errors.js';
import { goField as field, isJsonObject as isObject } from './go-json.js';
import { contains, formatCidr, formatIpv4, parseCidr, parseIpv4, prefixMask, subnetOf, subnetSize, type Subnet4 } from '../../net/ipv4.js';
import { contains6, formatCidr6, formatIpv6, isIpv4Mapped, parseCidr6, parseIpv6, prefixMask6, subnetOf6, subnetSize6, type Subnet6 } from '../../net/ipv6.js';

/** The IPv4 pool: Network split into /SubnetLen, leased from SubnetMin to SubnetMax. */
export interface Ipv4Pool {
  readonly network: Subnet4;
  readonly subnetLen: number;
  /** Base address of the lowest and highest subnet that may be leased (inclusive). */
  readonly subnetMin: number;
  readonly subnetMax: number;
}

/** The IPv6 pool (EnableIPv6): IPv6Network split into /IPv6SubnetLen, from IPv6SubnetMin to IPv6SubnetMax. */
export interface Ipv6Pool {
  readonly network: Subnet6;
  readonly subnetLen: number;
  readonly subnetMin: bigint;
  readonly subnetMax: bigint;
}

/** Flannel's config after its checks: either pool may be absent (EnableIPv4 false / EnableIPv6 false). */
export interface CheckedNetworkConfig {
  readonly ipv4: Ipv4Pool | undefined;
  readonly ipv6: Ipv6Pool | undefined;
  readonly backend: NetworkConfig['backend'];
}

/**
 * The config weftd runs on: the IPv4 pool (Flannel's zero pool when IPv6-only), the IPv6 pool with
 * EnableIPv6 (dual-stack or IPv6-only).
 */
export interface NetworkConfig extends Ipv4Pool {
  /** Absent unless EnableIPv6 (so an IPv4-only config is the same object as before dual-stack). */
  readonly ipv6?: Ipv6Pool | undefined;
  /** EnableIPv4 false: the IPv4 pool is Flannel's zero one and `ipv6` is set. Absent otherwise. */
  readonly ipv6Only?: true;
  readonly backend: {
    readonly type: 'vxlan';
    readonly vni: number;
    readonly port: number;
    /** Backend.MTU (underlay MTU override); undefined when not set. */
    readonly mtu: number | undefined;
  };
}

function invalid(message: string): WeftError {
  return new WeftError('WEFT_ERR_NETWORK_CONFIG_INVALID', `invalid network config: ${message}`);
}


function integerField(obj: Record<string, unknown>, name: string, label: string, min: number, max: number): number | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${label} is ${JSON.stringify(v)}; expected an integer between ${min} and ${max}`);
  }
  return v;
}

function boolField(obj: Record<string, unknown>, name: string): boolean | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${name} is ${JSON.stringify(v)}; expected true or false`);
  return v;
}

function subnetBound(obj: Record<string, unknown>, name: 'SubnetMin' | 'SubnetMax', network: Subnet4, subnetLen: number, dflt: number): number {
  const v = field(obj, name);
  if (v === undefined || v === null || v === '' || v === '0.0.0.0') return dflt;
  const ip = typeof v === 'string' ? parseIpv4(v) : null;
  if (ip === null) throw invalid(`${name} is ${JSON.stringify(v)}; expected an IPv4 address such as "10.244.1.0"`);
  if (!contains(network, ip)) throw invalid(`${name} ${v} is not in the range of the Network ${formatCidr(network)}`);
  if (((ip & prefixMask(subnetLen)) >>> 0) !== ip) {
    throw invalid(`${name} ${v} is not on a SubnetLen boundary (/${subnetLen}); use e.g. ${formatIpv4((ip & prefixMask(subnetLen)) >>> 0)}`);
  }
  return ip;
}

function parseJson(text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw invalid('expected a JSON object such as {"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
  return raw;
}

/** Flannel's SubnetLen rule, per family: names, the longest subnet, the longest network, the default. */
interface LenRule {
  readonly lenField: 'SubnetLen' | 'IPv6SubnetLen';
  readonly netField: 'Network' | 'IPv6Network';
  readonly bits: number;
  /** Longest SubnetLen allowed (a /31 or /127 leaves no room for a bridge and a tunnel address). */
  readonly maxLen: number;
  /** Longest Network without an explicit SubnetLen (four subnets of four addresses). */
  readonly maxNet: number;
  /** The default SubnetLen, for Networks at least two bits shorter than it. */
  readonly dflt: number;
}
const FAMILY4: LenRule = { lenField: 'SubnetLen', netField: 'Network', bits: 32, maxLen: 30, maxNet: 28, dflt: 24 };
const FAMILY6: LenRule = { lenField: 'IPv6SubnetLen', netField: 'IPv6Network', bits: 128, maxLen: 126, maxNet: 124, dflt: 64 };

/** Explicit → ≤ maxLen and ≥ prefix + 2; absent/0 → dflt when the prefix allows, prefix + 2 up to maxNet. */
function subnetLenOf(raw: Record<string, unknown>, r: LenRule, prefix: number, networkText: string): number {
  const given = integerField(raw, r.lenField, r.lenField, 0, r.bits) ?? 0;
  if (given > 0) {
    if (given > r.maxLen) throw invalid(`${r.lenField} is ${given}; ${r.lenField} must be less than /${r.maxLen + 1} (at most ${r.maxLen})`);
    if (given < prefix + 2) {
      throw invalid(`${r.lenField} is ${given}; the ${r.netField} ${networkText} must be able to accommodate at least four subnets, so ${r.lenField} must be at least ${prefix + 2}`);
    }
    return given;
  }
  if (prefix > r.maxNet) throw invalid(`${r.netField} ${networkText} is too small; the minimum useful ${r.bits === 32 ? '' : 'IPv6 '}network prefix is /${r.maxNet}`);
  return prefix <= r.dflt - 2 ? r.dflt : prefix + 2;
}

function ipv4Pool(raw: Record<string, unknown>): Ipv4Pool {
  const networkText = field(raw, 'Network');
  if (networkText === undefined || networkText === null || networkText === '') {
    throw invalid('Network is missing; please define a correct Network parameter, e.g. "Network":"10.244.0.0/16"');
  }
  const parsedNet = typeof networkText === 'string' ? parseCidr(networkText) : null;
  if (!parsedNet) throw invalid(`Network is ${JSON.stringify(networkText)}; expected an IPv4 CIDR such as "10.244.0.0/16"`);
  const network = subnetOf(parsedNet);

  const subnetLen = subnetLenOf(raw, FAMILY4, network.len, formatCidr(network));

  const size = subnetSize(subnetLen);
  const subnetMin = subnetBound(raw, 'SubnetMin', network, subnetLen, network.base + size);
  const subnetMax = subnetBound(raw, 'SubnetMax', network, subnetLen, network.base + subnetSize(network.len) - size);
  return { network, subnetLen, subnetMin, subnetMax };
}

function subnetBound6(obj: Record<string, unknown>, name: 'IPv6SubnetMin' | 'IPv6SubnetMax', network: Subnet6, subnetLen: number, dflt: bigint): bigint {
  const v = field(obj, name);
  if (v === undefined || v === null || v === '') return dflt;
  const ip = typeof v === 'string' ? parseIpv6(v) : null;
  if (ip === null || isIpv4Mapped(ip)) throw invalid(`${name} is ${JSON.stringify(v)}; expected an IPv6 address such as "fd00:10:244:1::"`);
  if (ip === 0n) return dflt;
  if (!contains6(network, ip)) throw invalid(`${name} ${v} is not in the range of the IPv6Network ${formatCidr6(network)}`);
  const aligned = ip & prefixMask6(subnetLen);
  if (aligned !== ip) throw invalid(`${name} ${v} is not on an IPv6SubnetLen boundary (/${subnetLen}); use e.g. ${formatIpv6(aligned)}`);
  return ip;
}

function ipv6Pool(raw: Record<string, unknown>): Ipv6Pool {
  const text = field(raw, 'IPv6Network');
  if (text === undefined || text === null || text === '') {
    throw invalid('EnableIPv6 is true but IPv6Network is missing; please define a correct IPv6Network parameter, e.g. "IPv6Network":"fd00:10:244::/56"');
  }
  const parsed = typeof text === 'string' ? parseCidr6(text) : null;
  if (!parsed || isIpv4Mapped(parsed.ip)) throw invalid(`IPv6Network is ${JSON.stringify(text)}; expected an IPv6 CIDR such as "fd00:10:244::/56"`);
  const network = subnetOf6(parsed);

  const subnetLen = subnetLenOf(raw, FAMILY6, network.len, formatCidr6(network));

  const size = subnetSize6(subnetLen);
  const subnetMin = subnetBound6(raw, 'IPv6SubnetMin', network, subnetLen, network.base + size);
  const subnetMax = subnetBound6(raw, 'IPv6SubnetMax', network, subnetLen, network.base + subnetSize6(network.len) - size);
  return { network, subnetLen, subnetMin, subnetMax };
}

/**
 * Flannel's ParseConfig + CheckNetworkConfig on the config JSON text, both families, IPv6-only
 * included. Throws WeftError WEFT_ERR_NETWORK_CONFIG_INVALID naming the field.
 */
export function checkNetworkConfig(text: string): CheckedNetworkConfig {
  const raw = parseJson(text);
  const enable4 = boolField(raw, 'EnableIPv4') ?? true;
  const enable6 = boolField(raw, 'EnableIPv6') ?? false;
  if (!enable4 && !enable6) throw invalid('EnableIPv4 and EnableIPv6 are both false; enable at least one address family');
  const ipv4 = enable4 ? Object.freeze(ipv4Pool(raw)) : undefined;
  const ipv6 = enable6 ? Object.freeze(ipv6Pool(raw)) : undefined;
  return { ipv4, ipv6, backend: Object.freeze(parseBackend(field(raw, 'Backend'))) };
}

/** Flannel's zero IPv4 values: the IPv4 pool of an IPv6-only config, from which nothing is leased. */
export const NO_IPV4_POOL: Ipv4Pool = Object.freeze({ network: Object.freeze({ base: 0, len: 0 }), subnetLen: 0, subnetMin: 0, subnetMax: 0 });

/** The config weftd runs on: Flannel's checks, then weft's refusals. Throws WeftError WEFT_ERR_NETWORK_CONFIG_INVALID. */
export function parseNetworkConfig(text: string): NetworkConfig {
  const c = checkNetworkConfig(text);
  if (!c.ipv4) return Object.freeze({ ...NO_IPV4_POOL, ipv6: c.ipv6, ipv6Only: true, backend: c.backend });
  return Object.freeze({ ...c.ipv4, ...(c.ipv6 ? { ipv6: c.ipv6 } : {}), backend: c.backend });
}

function parseBackend(v: unknown): NetworkConfig['backend'] {
  if (v === undefined || v === null) {
    throw invalid('Backend is missing, which Flannel reads as Backend.Type "udp"; weft implements only vxlan: add "Backend":{"Type":"vxlan"}');
  }
  if (!isObject(v)) throw invalid(`Backend is ${JSON.stringify(v)}; expected an object such as {"Type":"vxlan"}`);
  const type = field(v, 'Type');
  if (type !== 'vxlan') {
    throw invalid(`Backend.Type is ${JSON.stringify(type ?? null)}; weft implements only the "vxlan" backend (a Flannel node with the same config interoperates): set "Backend":{"Type":"vxlan"}`);
  }
  const vni = integerField(v, 'VNI', 'Backend.VNI', 0, 0xffffff) ?? DEFAULT_VNI;
  const port = integerField(v, 'Port', 'Backend.Port', 0, 65535) ?? 0;
  const mtu = integerField(v, 'MTU', 'Backend.MTU', 0, 65535);
  if (mtu !== undefined && mtu !== 0 && mtu < 68 + OVERHEAD) {
    throw invalid(`Backend.MTU is ${mtu}; it is the underlay MTU and must be at least ${68 + OVERHEAD} (inner MTU = Backend.MTU − ${OVERHEAD})`);
  }
  return { type: 'vxlan', vni, port: port === 0 ? DEFAULT_VXLAN_PORT : port, mtu: mtu === 0 ? undefined : mtu };
}

/** True when `s` may be leased under `cfg` (Flannel isSubnetConfigCompat); never under Flannel's zero pool. */
export function subnetFitsConfig(cfg: Ipv4Pool, s: Subnet4): boolean {
  return cfg.subnetLen > 0 && s.len === cfg.subnetLen && contains(cfg.network, s.base) && s.base >= cfg.subnetMin && s.base <= cfg.subnetMax;
}

/**
 * True when `s` is what a lease under `pool` must hold (Flannel isIPv6SubnetConfigCompat): none
 * without EnableIPv6, else a /IPv6SubnetLen between IPv6SubnetMin and IPv6SubnetMax.
 */
export function subnet6FitsConfig(pool: Ipv6Pool | undefined, s: Subnet6 | undefined): boolean {
  if (!pool) return s === undefined;
  return s !== undefined && s.len === pool.subnetLen && contains6(pool.network, s.base) && s.base >= pool.subnetMin && s.base <= pool.subnetMax;
}

/** The etcdctl command that creates a minimal valid config at `key`. */
export function exampleConfigCommand(key: string): string {
  return `etcdctl put ${key} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`;
}
