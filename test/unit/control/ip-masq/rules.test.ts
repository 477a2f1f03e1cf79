// The rules behind --ip-masq for each family (daemon/control/ip-masq/rules.ts): Flannel's masqRules
// and masqIP6Rules in weft's chains, as argument vectors and iptables-restore input.
import { describe, expect, it } from 'vitest';
import { findDrift } from '../../../../daemon/control/ip-masq/drift.js';
import { allOwned, masqRules, masqRules6, restoreInput } from '../../../../daemon/control/ip-masq/rules.js';

const C = ['-m', 'comment', '--comment', 'weft masq'];
const F = ['-m', 'comment', '--comment', 'weft forward'];
const MASQ = ['-j', 'MASQUERADE', '--random-fully'];

describe('masqRules6 (ip6tables)', () => {
  const v6 = masqRules6({ network: 'fd00:10:244::/56', subnet: 'fd00:10:244:1::1/64' });

  it("has Flannel's IPv6 rules in order, with ff00::/8 as multicast and the subnet's host bits cleared", () => {
    expect(v6.family).toBe(6);
    expect(v6.chains).toEqual([
      {
        table: 'nat',
        name: 'WEFT-POSTRTG',
        rules: [
          ['-m', 'mark', '--mark', '0x4000/0x4000', ...C, '-j', 'RETURN'],
          ['-s', 'fd00:10:244:1::/64', '-d', 'fd00:10:244::/56', ...C, '-j', 'RETURN'],
          ['-s', 'fd00:10:244::/56', '-d', 'fd00:10:244:1::/64', ...C, '-j', 'RETURN'],
          ['!', '-s', 'fd00:10:244::/56', '-d', 'fd00:10:244:1::/64', ...C, '-j', 'RETURN'],
          ['-s', 'fd00:10:244::/56', '!', '-d', 'ff00::/8', ...C, ...MASQ],
          ['!', '-s', 'fd00:10:244::/56', '-d', 'fd00:10:244::/56', ...C, ...MASQ],
        ],
      },
      {
        table: 'filter',
        name: 'WEFT-FWD',
        rules: [
          ['-s', 'fd00:10:244::/56', ...F, '-j', 'ACCEPT'],
          ['-d', 'fd00:10:244::/56', ...F, '-j', 'ACCEPT'],
        ],
      },
    ]);
    expect(v6.hooks).toEqual([
      { table: 'nat', chain: 'POSTROUTING', spec: [...C, '-j', 'WEFT-POSTRTG'] },
      { table: 'filter', chain: 'FORWARD', spec: [...F, '-j', 'WEFT-FWD'] },
    ]);
  });

  it('writes addresses as ip6tables-save prints them (RFC 5952), however they were given', () => {
    const loose = masqRules6({ network: 'FD00:0010:0244:0000::/56', subnet: 'fd00:10:244:1:0:0:0:1/64' });
    expect(loose.chains).toEqual(v6.chains);
  });

  it('honours the switches as the IPv4 rules do', () => {
    const r = masqRules6({ network: 'fd00:10:244::/56', subnet: 'fd00:10:244:1::/64', forwardRules: false, randomFully: false });
    expect(r.chains.map((c) => c.name)).toEqual(['WEFT-POSTRTG']);
    expect(r.chains[0].rules[4]).toEqual(['-s', 'fd00:10:244::/56', '!', '-d', 'ff00::/8', ...C, '-j', 'MASQUERADE']);
    expect(masqRules6({ network: 'fd00:10:244::/56', subnet: 'fd00:10:244:1::/64', masquerade: false }).chains.map((c) => c.name)).toEqual(['WEFT-FWD']);
  });

  it('refuses a CIDR of the other family, naming it', () => {
    expect(() => masqRules6({ network: '10.244.0.0/16', subnet: 'fd00:10:244:1::/64' })).toThrow(/ip-masq: IPv6 network "10.244.0.0\/16" is not an IPv6 CIDR such as fd00:10:244::\/56/);
    expect(() => masqRules6({ network: 'fd00:10:244::/56', subnet: 'fd00:10:244:1::/129' })).toThrow(/IPv6 subnet "fd00:10:244:1::\/129"/);
    expect(() => masqRules6({ network: '::ffff:10.244.0.0/112', subnet: 'fd00:10:244:1::/64' })).toThrow(/IPv6 network "::ffff:10.244.0.0\/112"/);
    expect(() => masqRules({ network: 'fd00:10:244::/56', subnet: '10.244.1.0/24' })).toThrow(/ip-masq: network "fd00:10:244::\/56" is not a CIDR such as 10.244.0.0\/16/);
  });

  it('restore input declares and fills both chains; an ip6tables-save of them shows no drift', () => {
    const input = restoreInput(v6.chains);
    expect(input).toContain('-A WEFT-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "weft masq" -j MASQUERADE --random-fully\n');
    const body = (table: string): string[] =>
      restoreInput(v6.chains.filter((c) => c.table === table))
        .split('\n')
        .filter((l) => l.startsWith(':') || l.startsWith('-A'));
    const dump = [
      '*nat',
      ':POSTROUTING ACCEPT [0:0]',
      ...body('nat'),
      '-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG',
      'COMMIT',
      '*filter',
      ':FORWARD ACCEPT [0:0]',
      ...body('filter'),
      '-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
      'COMMIT',
    ].join('\n');
    expect(findDrift(dump, v6)).toEqual([]);
  });
});

describe('masqRules (iptables) stays as before', () => {
  it('family 4, 224.0.0.0/4 as multicast', () => {
    const v4 = masqRules({ network: '10.244.0.0/16', subnet: '10.244.1.1/24' });
    expect(v4.family).toBe(4);
    expect(v4.chains[0].rules[4]).toEqual(['-s', '10.244.0.0/16', '!', '-d', '224.0.0.0/4', ...C, ...MASQ]);
    expect(v4.chains[0].rules[1]).toEqual(['-s', '10.244.1.0/24', '-d', '10.244.0.0/16', ...C, '-j', 'RETURN']);
  });

  it('allOwned covers the same chain and hook names in both families', () => {
    const names = (f: 4 | 6) => [allOwned(f).chains.map((c) => `${c.table}/${c.name}`), allOwned(f).hooks.map((h) => h.spec.join(' '))];
    expect(names(6)).toEqual(names(4));
    expect(allOwned().family).toBe(4);
  });
});
