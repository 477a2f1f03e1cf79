// Reader for the subnet file weftd (or flanneld) writes: plain KEY=VALUE lines, Flannel's format.
//   FLANNEL_NETWORK=10.244.0.0/16              FLANNEL_SUBNET=10.244.1.1/24           (IPv4)
//   FLANNEL_IPV6_NETWORK=fd00:10:244::/56      FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64 (IPv6)
//   FLANNEL_MTU=1450   FLANNEL_IPMASQ=true     FLANNEL_IPV6_MASQ=true (optional)
// Either family's pair, or both (dual-stack). Addresses follow daemon/net's rules; a bad value, a
// line that is not KEY=VALUE or a repeated key is refused with its line number. Other keys are
// ignored. A comma-separated FLANNEL_*NETWORK (Flannel's Networks list) counts by its first entry.
import { readFileSync } from 'node:fs';
import { CHECK_WEFTD, CniError, ErrCode } from './errors.js';
import { formatCidr, formatIpv4, parseCidr, subnetOf, within, type Cidr4, type Subnet4 } from '../daemon/net/ipv4.js';
import { contains6, formatCidr6, formatIpv6, isIpv4Mapped, parseCidr6, subnetOf6, type Cidr6, type Subnet6 } from '../daemon/net/ipv6.js';

/** One family's pod network on this node. */
export interface PodNetwork {
  /** Cluster network, e.g. "10.244.0.0/16" or "fd00:10:244::/56". */
  readonly network: string;
  /** This node's pod subnet as a network, e.g. "10.244.1.0/24" or "fd00:10:244:1::/64". */
  readonly subnet: string;
  /** The node's gateway on cni0, the subnet's first address: "10.244.1.1", "fd00:10:244:1::1". */
  readonly gateway: string;
}

export interface SubnetEnv {
  readonly ipv4: PodNetwork | undefined;
  readonly ipv6: PodNetwork | undefined;
  readonly mtu: number;
  readonly ipMasq: boolean;
  /** FLANNEL_IPV6_MASQ when the file has it. Informational: bridge's ipMasq is one switch for both families. */
  readonly ipv6Masq: boolean | undefined;
}

/** The node's pod networks, IPv4 first: what ranges and routes are built from. */
export function podNetworks(env: SubnetEnv): PodNetwork[] {
  return [env.ipv4, env.ipv6].filter((n): n is PodNetwork => n !== undefined);
}

const KEYS = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ', 'FLANNEL_IPV6_MASQ'] as const;
type Key = (typeof KEYS)[number];
const isKey = (k: string): k is Key => (KEYS as readonly string[]).includes(k);

interface Value {
  readonly text: string;
  readonly line: number;
}

const HINT =
  'it should hold FLANNEL_NETWORK and FLANNEL_SUBNET (IPv4), FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET (IPv6) or both, ' +
  'FLANNEL_MTU and FLANNEL_IPMASQ, as weftd writes them; weftd rewrites the file when it starts, so restart it rather than edit the file';

/** Reads and validates the subnet file; `unavailableCode` is the CNI code for "missing or unusable". */
export function readSubnetEnv(path: string, unavailableCode: number = ErrCode.TryAgainLater): SubnetEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new CniError(
        unavailableCode,
        `subnet file ${path} does not exist yet: weftd writes it once this node holds a subnet lease; ${CHECK_WEFTD}`,
        'retry once weftd is ready (GET /readyz on its health port answers 200)',
      );
    }
    throw new CniError(unavailableCode === ErrCode.TryAgainLater ? ErrCode.IoFailure : unavailableCode, `cannot read subnet file ${path}: ${e.message}`);
  }
  return parseSubnetEnv(text, path, unavailableCode);
}

export function parseSubnetEnv(text: string, path: string, unavailableCode: number = ErrCode.TryAgainLater): SubnetEnv {
  const problems: string[] = [];
  const vars = new Map<Key, Value>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`line ${i + 1} is not KEY=VALUE: ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    const key = line.slice(0, eq).trim();
    if (!isKey(key)) return;
    const first = vars.get(key);
    if (first) problems.push(`line ${i + 1} sets ${key} again (first on line ${first.line})`);
    else vars.set(key, { text: line.slice(eq + 1).trim(), line: i + 1 });
  });
  const has = (k: Key): boolean => (vars.get(k)?.text ?? '') !== '';

  const v4 = has('FLANNEL_NETWORK') || has('FLANNEL_SUBNET');
  const v6 = has('FLANNEL_IPV6_NETWORK') || has('FLANNEL_IPV6_SUBNET');
  const required: Key[] = [];
  if (v4 || !v6) required.push('FLANNEL_NETWORK', 'FLANNEL_SUBNET');
  if (v6) required.push('FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET');
  required.push('FLANNEL_MTU', 'FLANNEL_IPMASQ');
  const missing = required.filter((k) => !has(k));
  if (missing.length > 0) problems.unshift(`is missing ${missing.join(', ')}`);

  const bad = (k: Key, why: string): void => {
    const v = vars.get(k)!;
    problems.push(`line ${v.line} has ${k}=${v.text}${why.startsWith('outside') ? ' ' : ', '}${why}`);
  };
  const ipv4 = v4 ? podNetwork(IPV4, vars, bad) : undefined;
  const ipv6 = v6 ? podNetwork(IPV6, vars, bad) : undefined;

  const mtuText = vars.get('FLANNEL_MTU')?.text;
  const mtu = Number(mtuText);
  if (mtuText && !(Number.isInteger(mtu) && mtu >= 576 && mtu <= 65535)) bad('FLANNEL_MTU', 'not an integer in 576..65535');
  const masq = (k: Key): boolean | undefined => {
    const t = vars.get(k)?.text;
    if (t && t !== 'true' && t !== 'false') bad(k, 'not true or false');
    return t === undefined || t === '' ? undefined : t === 'true';
  };
  const ipMasq = masq('FLANNEL_IPMASQ');
  const ipv6Masq = masq('FLANNEL_IPV6_MASQ');

  if (problems.length > 0 || (v4 && !ipv4) || (v6 && !ipv6)) {
    throw new CniError(
      unavailableCode === ErrCode.TryAgainLater ? ErrCode.DecodeFailure : unavailableCode,
      `subnet file ${path} ${problems.join('; ')}: ${HINT}; ${CHECK_WEFTD}`,
    );
  }
  return { ipv4, ipv6, mtu, ipMasq: ipMasq === true, ipv6Masq };
}

type Bad = (k: Key, why: string) => void;

/** What differs between the families: keys, parser, arithmetic, and the words for errors. */
interface Family<C, S> {
  readonly networkKey: Key;
  readonly subnetKey: Key;
  readonly parse: (s: string) => C | null;
  readonly subnetOf: (c: C) => S;
  readonly within: (inner: S, outer: S) => boolean;
  readonly format: (s: S) => string;
  readonly gateway: (s: S) => string;
  /** Longest prefix that still leaves the network address, the gateway and one pod. */
  readonly maxLen: number;
  readonly notCidr: { readonly network: string; readonly subnet: string };
}

const IPV4: Family<Cidr4, Subnet4> = {
  networkKey: 'FLANNEL_NETWORK',
  subnetKey: 'FLANNEL_SUBNET',
  parse: parseCidr,
  subnetOf,
  within,
  format: formatCidr,
  gateway: (s) => formatIpv4(s.base + 1),
  maxLen: 30,
  notCidr: { network: 'not an IPv4 CIDR', subnet: 'not an IPv4 CIDR' },
};

const IPV6: Family<Cidr6, Subnet6> = {
  networkKey: 'FLANNEL_IPV6_NETWORK',
  subnetKey: 'FLANNEL_IPV6_SUBNET',
  // An IPv4-mapped prefix (::ffff:a.b.c.d) is IPv4 in disguise, never an IPv6 pod network.
  parse: (s) => {
    const c = parseCidr6(s);
    return c && !isIpv4Mapped(c.ip) ? c : null;
  },
  subnetOf: subnetOf6,
  within: (inner, outer) => inner.len >= outer.len && contains6(outer, inner.base),
  format: formatCidr6,
  gateway: (s) => formatIpv6(s.base + 1n),
  maxLen: 126,
  notCidr: { network: 'not an IPv6 CIDR (expected e.g. fd00:10:244::/56)', subnet: 'not an IPv6 CIDR (expected e.g. fd00:10:244:1::1/64)' },
};

function podNetwork<C extends { readonly len: number }, S>(f: Family<C, S>, vars: Map<Key, Value>, bad: Bad): PodNetwork | undefined {
  const netText = vars.get(f.networkKey)?.text.split(',')[0];
  const net = netText ? f.parse(netText) : null;
  if (netText && !net) bad(f.networkKey, f.notCidr.network);
  const subText = vars.get(f.subnetKey)?.text;
  const sub = subText ? f.parse(subText) : null;
  if (subText && !sub) bad(f.subnetKey, f.notCidr.subnet);
  if (!net || !sub) return undefined;
  const network = f.subnetOf(net);
  const subnet = f.subnetOf(sub);
  if (!f.within(subnet, network)) bad(f.subnetKey, `outside ${f.networkKey}=${netText}`);
  else if (sub.len > f.maxLen) bad(f.subnetKey, `too small for pods (prefix > ${f.maxLen})`);
  else return { network: f.format(network), subnet: f.format(subnet), gateway: f.gateway(subnet) };
  return undefined;
}
