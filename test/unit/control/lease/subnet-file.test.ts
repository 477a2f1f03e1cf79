// subnet.env as Flannel's WriteSubnetFile writes it, for IPv4, dual-stack and IPv6-only (no IPv4
// lines then, and no FLANNEL_IPV6_MASQ ever). Files on disk: test/integration/lease-dual-stack.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSubnetEnv, readPreviousSubnet } from '../../../../daemon/control/lease/subnet-file.js';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../../../daemon/net/ipv6.js';

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

  it('IPv6-only: read back as the IPv6 subnet alone, for reuse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-subnet-env-'));
    try {
      const file = join(dir, 'subnet.env');
      writeFileSync(file, formatSubnetEnv({ network: undefined, subnet: undefined, ipv6, mtu: 1430, ipMasq: false }));
      expect(readPreviousSubnet(file)).toEqual({ subnet6: ipv6.subnet });
      writeFileSync(file, 'FLANNEL_MTU=1430\n');
      expect(readPreviousSubnet(file)).toEqual({ problem: `${file} has no FLANNEL_SUBNET line` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
