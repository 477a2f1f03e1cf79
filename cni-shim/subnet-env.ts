// Reader for the subnet file weftd (or flanneld) writes: plain KEY=VALUE lines, Flannel's format.
//   FLANNEL_NETWORK=10.244.0.0/16   FLANNEL_SUBNET=10.244.1.1/24   FLANNEL_MTU=1450   FLANNEL_IPMASQ=true
// IPv6 keys (FLANNEL_IPV6_*) are accepted and ignored: weft's overlay is IPv4.
import { readFileSync } from 'node:fs';
import { CHECK_WEFTD, CniError, ErrCode } from './errors.js';
import { formatCidr, formatIpv4, parseCidr, subnetOf, within } from '../daemon/net/ipv4.js';

export interface SubnetEnv {
  /** Cluster network, e.g. "10.244.0.0/16". */
  readonly network: string;
  /** This node's pod subnet as a network, e.g. "10.244.1.0/24". */
  readonly subnet: string;
  /** The node's gateway on cni0, e.g. "10.244.1.1". */
  readonly gateway: string;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

const REQUIRED = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ'] as const;

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
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    vars.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const problems: string[] = [];
  const missing = REQUIRED.filter((k) => !vars.get(k));
  if (missing.length > 0) problems.push(`is missing ${missing.join(', ')}`);

  const netText = (vars.get('FLANNEL_NETWORK') ?? '').split(',')[0];
  const net = netText ? parseCidr(netText) : null;
  if (netText && !net) problems.push(`has FLANNEL_NETWORK=${vars.get('FLANNEL_NETWORK')}, not an IPv4 CIDR`);
  const subText = vars.get('FLANNEL_SUBNET');
  const sub = subText ? parseCidr(subText) : null;
  if (subText && !sub) problems.push(`has FLANNEL_SUBNET=${subText}, not an IPv4 CIDR`);
  if (net && sub && !within(subnetOf(sub), subnetOf(net))) problems.push(`has FLANNEL_SUBNET=${subText} outside FLANNEL_NETWORK=${netText}`);
  if (sub && sub.len > 30) problems.push(`has FLANNEL_SUBNET=${subText}, too small for pods (prefix > 30)`);
  const mtuText = vars.get('FLANNEL_MTU');
  const mtu = Number(mtuText);
  if (mtuText && !(Number.isInteger(mtu) && mtu >= 576 && mtu <= 65535)) problems.push(`has FLANNEL_MTU=${mtuText}, not an integer in 576..65535`);
  const masqText = vars.get('FLANNEL_IPMASQ');
  if (masqText && masqText !== 'true' && masqText !== 'false') problems.push(`has FLANNEL_IPMASQ=${masqText}, not true or false`);

  if (problems.length > 0 || !net || !sub) {
    throw new CniError(
      unavailableCode === ErrCode.TryAgainLater ? ErrCode.DecodeFailure : unavailableCode,
      `subnet file ${path} ${problems.join('; ')}: it should hold FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU and FLANNEL_IPMASQ as weftd writes them; ${CHECK_WEFTD}`,
    );
  }
  return {
    network: formatCidr(subnetOf(net)),
    subnet: formatCidr(subnetOf(sub)),
    gateway: formatIpv4(subnetOf(sub).base + 1),
    mtu,
    ipMasq: masqText === 'true',
  };
}
