// subnet.env, exactly as Flannel writes it (pkg/subnet WriteSubnetFile): plain KEY=VALUE lines
// in this order, directory 0755, file 0644, replaced atomically (temp file + rename), so a CNI
// plugin never reads half a file:
//   FLANNEL_NETWORK=10.244.0.0/16          (IPv4 enabled)
//   FLANNEL_SUBNET=10.244.1.1/24           (first host of the leased subnet / SubnetLen)
//   FLANNEL_IPV6_NETWORK=fd00:10:244::/56  (EnableIPv6; formatIpv6, as Go prints it)
//   FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64
//   FLANNEL_MTU=1450                       (underlay or Backend.MTU − 50)
//   FLANNEL_IPMASQ=false
// IPv6-only (EnableIPv4 false): the two IPv4 lines are left out, nothing stands in their place.
// Flannel writes no FLANNEL_IPV6_MASQ: FLANNEL_IPMASQ (--ip-masq) speaks for both families.
import { readFileSync } from 'node:fs';
import { WeftError } from '../../errors.js';
import { formatCidr, formatIpv4, parseCidr, subnetOf, type Subnet4 } from '../../net/ipv4.js';
import { formatCidr6, formatIpv6, parseCidr6, subnetOf6, type Subnet6 } from '../../net/ipv6.js';
import { writeFileAtomic } from '../write-file-atomic.js';

export interface SubnetEnv {
  /** The IPv4 network and leased subnet; undefined for IPv6-only. */
  readonly network: Subnet4 | undefined;
  readonly subnet: Subnet4 | undefined;
  /** The IPv6 network and leased subnet (EnableIPv6). */
  readonly ipv6?: { readonly network: Subnet6; readonly subnet: Subnet6 } | undefined;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

export function formatSubnetEnv(e: SubnetEnv): string {
  let text = '';
  if (e.network && e.subnet) text += `FLANNEL_NETWORK=${formatCidr(e.network)}\nFLANNEL_SUBNET=${formatIpv4(e.subnet.base + 1)}/${e.subnet.len}\n`;
  if (e.ipv6) text += `FLANNEL_IPV6_NETWORK=${formatCidr6(e.ipv6.network)}\nFLANNEL_IPV6_SUBNET=${formatIpv6(e.ipv6.subnet.base + 1n)}/${e.ipv6.subnet.len}\n`;
  return `${text}FLANNEL_MTU=${e.mtu}\nFLANNEL_IPMASQ=${e.ipMasq}\n`;
}

export async function writeSubnetFile(path: string, e: SubnetEnv): Promise<void> {
  try {
    writeFileAtomic(path, formatSubnetEnv(e), { mode: 0o644, dirMode: 0o755 });
  } catch (err) {
    throw new WeftError('WEFT_ERR_SUBNET_FILE', `cannot write ${path}: ${(err as Error).message}; check that its folder is writable (--subnet-file)`, { cause: err });
  }
}

export interface PreviousSubnets {
  readonly subnet?: Subnet4;
  readonly network?: Subnet4;
  /** FLANNEL_IPV6_SUBNET's network, when the file has a valid one. */
  readonly subnet6?: Subnet6;
  readonly problem?: string;
}

function valueOf(text: string, key: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1).trim();
}

/**
 * The subnets recorded by a previous run (FLANNEL_SUBNET's and FLANNEL_IPV6_SUBNET's networks), for
 * reuse, and the network FLANNEL_SUBNET was in (FLANNEL_NETWORK, when readable). A missing file gives
 * none; an unreadable or corrupt one gives `problem` and no subnet. An unusable FLANNEL_IPV6_SUBNET
 * is ignored (as Flannel does), leaving the IPv4 subnet reusable. An IPv6-only file (no
 * FLANNEL_SUBNET, a valid FLANNEL_IPV6_SUBNET) gives the IPv6 subnet alone.
 */
export function readPreviousSubnet(path: string): PreviousSubnets {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read ${path}: ${(err as Error).message}` };
  }
  const value = valueOf(text, 'FLANNEL_SUBNET');
  const cidr6 = parseCidr6(valueOf(text, 'FLANNEL_IPV6_SUBNET') ?? '');
  if (value === undefined && cidr6 && cidr6.len <= 126) return { subnet6: subnetOf6(cidr6) }; // IPv6-only
  if (value === undefined) return { problem: `${path} has no FLANNEL_SUBNET line` };
  const cidr = parseCidr(value);
  if (!cidr || cidr.len > 30) return { problem: `${path}: FLANNEL_SUBNET=${value} is not an IPv4 subnet` };
  const network = parseCidr(valueOf(text, 'FLANNEL_NETWORK') ?? '');
  return { subnet: subnetOf(cidr), ...(network ? { network: subnetOf(network) } : {}), ...(cidr6 && cidr6.len <= 126 ? { subnet6: subnetOf6(cidr6) } : {}) };
}
