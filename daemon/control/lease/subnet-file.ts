// subnet.env, exactly as Flannel writes it (pkg/subnet WriteSubnetFile): plain KEY=VALUE lines
// in this order, directory 0755, file 0644, replaced atomically (temp file + rename), so a CNI
// plugin never reads half a file:
//   FLANNEL_NETWORK=10.244.0.0/16
//   FLANNEL_SUBNET=10.244.1.1/24      (first host of the leased subnet / SubnetLen)
//   FLANNEL_MTU=1450                  (underlay or Backend.MTU − 50)
//   FLANNEL_IPMASQ=false
import { readFileSync } from 'node:fs';
import { WeftError } from '../../errors.js';
import { formatCidr, formatIpv4, parseCidr, subnetOf, type Subnet4 } from '../../net/ipv4.js';
import { writeFileAtomic } from '../write-file-atomic.js';

export interface SubnetEnv {
  readonly network: Subnet4;
  readonly subnet: Subnet4;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

function formatSubnetEnv(e: SubnetEnv): string {
  return (
    `FLANNEL_NETWORK=${formatCidr(e.network)}\n` +
    `FLANNEL_SUBNET=${formatIpv4(e.subnet.base + 1)}/${e.subnet.len}\n` +
    `FLANNEL_MTU=${e.mtu}\n` +
    `FLANNEL_IPMASQ=${e.ipMasq}\n`
  );
}

export async function writeSubnetFile(path: string, e: SubnetEnv): Promise<void> {
  try {
    writeFileAtomic(path, formatSubnetEnv(e), { mode: 0o644, dirMode: 0o755 });
  } catch (err) {
    throw new WeftError('WEFT_ERR_SUBNET_FILE', `cannot write ${path}: ${(err as Error).message}; check that its folder is writable (--subnet-file)`, { cause: err });
  }
}

/**
 * The subnet recorded by a previous run (FLANNEL_SUBNET's network), for reuse, and the network it
 * was in (FLANNEL_NETWORK, when readable). A missing file gives neither; an unreadable or corrupt
 * one gives `problem` and no subnet.
 */
export function readPreviousSubnet(path: string): { subnet?: Subnet4; network?: Subnet4; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read ${path}: ${(err as Error).message}` };
  }
  const line = text.split('\n').find((l) => l.startsWith('FLANNEL_SUBNET='));
  if (!line) return { problem: `${path} has no FLANNEL_SUBNET line` };
  const value = line.slice('FLANNEL_SUBNET='.length).trim();
  const cidr = parseCidr(value);
  if (!cidr || cidr.len > 30) return { problem: `${path}: FLANNEL_SUBNET=${value} is not an IPv4 subnet` };
  const network = parseCidr(text.split('\n').find((l) => l.startsWith('FLANNEL_NETWORK='))?.slice('FLANNEL_NETWORK='.length).trim() ?? '');
  return { subnet: subnetOf(cidr), ...(network ? { network: subnetOf(network) } : {}) };
}
