// The network config at `<prefix>/config`, parsed and checked exactly as Flannel does
// (pkg/subnet/config.go ParseConfig + CheckNetworkConfig, pkg/backend/vxlan VXLANConfig):
//   - keys match case-insensitively (Go's encoding/json);
//   - SubnetLen: explicit → ≤ 30 and ≥ Network prefix + 2; absent/0 → 24 if the prefix ≤ /22,
//     prefix + 2 up to /28, and a Network longer than /28 is rejected;
//   - SubnetMin/SubnetMax: absent/"0.0.0.0" → the second and the last subnet; explicit → inside
//     Network and aligned to SubnetLen;
//   - Backend absent → Flannel reads type "udp"; weft only speaks vxlan and says so;
//   - Backend.VNI default 1, Backend.Port default 0 = 8472, Backend.MTU optional.
// Weft-specific refusals (IPv6, non-vxlan) say what to change.
import { DEFAULT_VNI, DEFAULT_VXLAN_PORT, OVERHEAD } from '../../dataplane/constants.js';
import { WeftError } from '../../errors.js';
import { goField as field, isJsonObject as isObject } from './go-json.js';
import { contains, formatCidr, formatIpv4, parseCidr, parseIpv4, prefixMask, subnetOf, subnetSize, type Subnet4 } from '../../net/ipv4.js';


export interface NetworkConfig {
  readonly network: Subnet4;
  readonly subnetLen: number;
  /** Base address of the lowest and highest subnet that may be leased (inclusive). */
  readonly subnetMin: number;
  readonly subnetMax: number;
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

/** Parses and validates the config JSON text. Throws WeftError WEFT_ERR_NETWORK_CONFIG_INVALID. */
export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw invalid('expected a JSON object such as {"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');

  if (boolField(raw, 'EnableIPv4') === false) throw invalid('EnableIPv4 is false; weft needs an IPv4 Network (remove EnableIPv4 or set it to true)');
  if (boolField(raw, 'EnableIPv6') === true) throw invalid('EnableIPv6 is true; weft supports IPv4 only (remove EnableIPv6 or set it to false)');

  const networkText = field(raw, 'Network');
  if (networkText === undefined || networkText === null || networkText === '') {
    throw invalid('Network is missing; please define a correct Network parameter, e.g. "Network":"10.244.0.0/16"');
  }
  const parsedNet = typeof networkText === 'string' ? parseCidr(networkText) : null;
  if (!parsedNet) throw invalid(`Network is ${JSON.stringify(networkText)}; expected an IPv4 CIDR such as "10.244.0.0/16"`);
  const network = subnetOf(parsedNet);

  let subnetLen = integerField(raw, 'SubnetLen', 'SubnetLen', 0, 32) ?? 0;
  if (subnetLen > 0) {
    if (subnetLen > 30) throw invalid(`SubnetLen is ${subnetLen}; SubnetLen must be less than /31 (at most 30)`);
    if (subnetLen < network.len + 2) {
      throw invalid(`SubnetLen is ${subnetLen}; the Network ${formatCidr(network)} must be able to accommodate at least four subnets, so SubnetLen must be at least ${network.len + 2}`);
    }
  } else if (network.len > 28) {
    throw invalid(`Network ${formatCidr(network)} is too small; the minimum useful network prefix is /28`);
  } else {
    subnetLen = network.len <= 22 ? 24 : network.len + 2;
  }

  const size = subnetSize(subnetLen);
  const subnetMin = subnetBound(raw, 'SubnetMin', network, subnetLen, network.base + size);
  const subnetMax = subnetBound(raw, 'SubnetMax', network, subnetLen, network.base + subnetSize(network.len) - size);

  return Object.freeze({ network, subnetLen, subnetMin, subnetMax, backend: Object.freeze(parseBackend(field(raw, 'Backend'))) });
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

/** True when `s` may be leased under `cfg` (Flannel isSubnetConfigCompat). */
export function subnetFitsConfig(cfg: NetworkConfig, s: Subnet4): boolean {
  return s.len === cfg.subnetLen && contains(cfg.network, s.base) && s.base >= cfg.subnetMin && s.base <= cfg.subnetMax;
}

/** The etcdctl command that creates a minimal valid config at `key`. */
export function exampleConfigCommand(key: string): string {
  return `etcdctl put ${key} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`;
}
