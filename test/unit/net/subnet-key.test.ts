// Lease key names for both families, as Flannel's MakeSubnetKey writes them and ParseSubnetKey reads
// them: IPv4, dual-stack (`&`), and IPv6-only (Flannel's empty IPv4 half `0.0.0.0-0`).
import { describe, expect, it } from 'vitest';
import { parseSubnet } from '../../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../../daemon/net/ipv6.js';
import { NO_SUBNET4, leaseKeyName, parseLeaseKeyName } from '../../../daemon/net/subnet-key.js';

const v4 = parseSubnet('10.244.1.0/24')!;
const v6 = parseSubnet6('fd00:10:244:1::/64')!;

describe('lease key names', () => {
  it('writes IPv4, dual-stack and IPv6-only names byte for byte as Flannel', () => {
    expect(leaseKeyName({ subnet: v4 })).toBe('10.244.1.0-24');
    expect(leaseKeyName({ subnet: v4, subnet6: v6 })).toBe('10.244.1.0-24&fd00:10:244:1::-64');
    expect(leaseKeyName({ subnet: NO_SUBNET4, subnet6: v6 })).toBe('0.0.0.0-0&fd00:10:244:1::-64');
    expect(leaseKeyName({ subnet: v4, subnet6: parseSubnet6('fd00:10:244::/64')! })).toBe('10.244.1.0-24&fd00:10:244::-64');
  });

  it('parses what Flannel writes, from a full key or the name alone', () => {
    expect(parseLeaseKeyName('/coreos.com/network/subnets/10.244.1.0-24')).toEqual({ subnet: v4, subnet6: undefined });
    expect(parseLeaseKeyName('/coreos.com/network/subnets/10.244.1.0-24&fd00:10:244:1::-64')).toEqual({ subnet: v4, subnet6: v6 });
    expect(parseLeaseKeyName('0.0.0.0-0&fd00:10:244:1::-64')).toEqual({ subnet: NO_SUBNET4, subnet6: v6 });
  });

  it('refuses names either half of which breaks its rules, and names Flannel never writes', () => {
    for (const bad of [
      '10.244.1.0-24&',
      '10.244.1.0-24&fd00:10:244:1::',
      '10.244.1.0-24&FD00:10:244:1::-64',
      '10.244.1.0-24&fd00:10:244:1::1-64',
      '10.244.1.0-24&fd00:10:244:1::-129',
      '010.244.1.0-24&fd00:10:244:1::-64',
      'fd00:10:244:1::-64',
      '0.0.0.0-0',
      '10.244.1.0-24&fd00::-64&fd01::-64',
    ]) {
      expect(parseLeaseKeyName(bad), bad).toBeNull();
    }
  });
});
