// subnet.env as Flannel's WriteSubnetFile writes it, for IPv4, dual-stack and IPv6-only (no IPv4
// lines then, and no FLANNEL_IPV6_MASQ ever), and the previous run's subnets read back for reuse.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSubnetEnv, readPreviousSubnet, writeSubnetFile } from '../../../../daemon/control/lease/subnet-file.js';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../../../daemon/net/ipv6.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-subnet-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const network = parseSubnet('10.244.0.0/16')!;
const subnet = parseSubnet('10.244.1.0/24')!;
const ipv6 = { network: parseSubnet6('fd00:10:244::/56')!, subnet: parseSubnet6('fd00:10:244:1::/64')! };

describe('subnet.env', () => {
  it('IPv4: unchanged', () => {
    expect(formatSubnetEnv({ network, subnet, mtu: 1450, ipMasq: false })).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  });

  it('dual-stack: the IPv6 lines after the IPv4 ones, before MTU and IPMASQ', () => {
    expect(formatSubnetEnv({ network, subnet, ipv6, mtu: 1450, ipMasq: true })).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });

  it('IPv6-only: no IPv4 lines at all', () => {
    expect(formatSubnetEnv({ network: undefined, subnet: undefined, ipv6, mtu: 1430, ipMasq: false })).toBe('FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
  });

  it('writes the file 0644 and reads both previous subnets back', async () => {
    const file = join(dir, 'run', 'subnet.env');
    await writeSubnetFile(file, { network, subnet, ipv6, mtu: 1450, ipMasq: false });
    expect(readFileSync(file, 'utf8')).toContain('FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n');
    expect(readPreviousSubnet(file)).toEqual({ subnet, network, subnet6: ipv6.subnet });
  });

  it('ignores an unusable FLANNEL_IPV6_SUBNET and keeps the IPv4 subnet reusable', () => {
    const file = join(dir, 'bad6.env');
    writeFileSync(file, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_SUBNET=fd00::zz/64\n');
    expect(readPreviousSubnet(file)).toEqual({ subnet, network });
  });
});
