// Pure parts of weft-cni for IPv6: the v6 lines of subnet.env (dual-stack and IPv6-only, strict,
// errors naming file, line and fix) and the dual-stack delegate rendering. No root, no processes.
import { describe, expect, it } from 'vitest';
import { buildDelegateConfig } from '../../cni-shim/delegate-config.js';
import { parseNetConf } from '../../cni-shim/netconf.js';
import { parseSubnetEnv } from '../../cni-shim/subnet-env.js';

// As flanneld's WriteSubnetFile orders the keys (pkg/subnet/subnet.go).
const DUAL =
  'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.12.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:c::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const V6_ONLY = 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:c::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
const V6 = { network: 'fd00:10:244::/56', subnet: 'fd00:10:244:c::/64', gateway: 'fd00:10:244:c::1' };

const fails = (text: string): string => {
  try {
    parseSubnetEnv(text, '/run/weft/subnet.env');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('parsed');
};

describe('subnet.env, IPv6 lines', () => {
  it('reads an IPv6-only file (no FLANNEL_NETWORK/FLANNEL_SUBNET)', () => {
    expect(parseSubnetEnv(V6_ONLY, 'f')).toEqual({ ipv4: undefined, ipv6: V6, mtu: 1450, ipMasq: false, ipv6Masq: undefined });
  });

  it('normalizes to the RFC 5952 form host-local prints, and reads FLANNEL_IPV6_MASQ', () => {
    const env = parseSubnetEnv(DUAL.replace('fd00:10:244::/56', 'FD00:0010:0244:0000::/56').replace('fd00:10:244:c::1/64', 'fd00:10:244:c:0:0:0:9/64') + 'FLANNEL_IPV6_MASQ=true\n', 'f');
    expect(env.ipv6).toEqual(V6);
    expect(env.ipv6Masq).toBe(true);
    expect(parseSubnetEnv(DUAL.replace('fd00:10:244::/56', 'fd00:10:244::/56,fd00:99::/56'), 'f').ipv6?.network).toBe('fd00:10:244::/56');
  });

  it('a corrupt IPv6 line is named by file, line, key and value, with the fix', () => {
    const msg = fails(DUAL.replace('fd00:10:244:c::1/64', 'fd00:10:244:c::g/64'));
    expect(msg).toMatch(/^subnet file \/run\/weft\/subnet.env line 4 has FLANNEL_IPV6_SUBNET=fd00:10:244:c::g\/64, not an IPv6 CIDR \(expected e.g. fd00:10:244:1::1\/64\): /);
    expect(msg).toContain('restart it rather than edit the file');
    expect(fails(DUAL.replace('fd00:10:244::/56', 'fd00:10:244::'))).toContain('line 3 has FLANNEL_IPV6_NETWORK=fd00:10:244::, not an IPv6 CIDR');
    expect(fails(DUAL.replace('fd00:10:244::/56', '10.244.0.0/16'))).toContain('line 3 has FLANNEL_IPV6_NETWORK=10.244.0.0/16, not an IPv6 CIDR');
    expect(fails(DUAL.replace('fd00:10:244::/56', '::ffff:10.244.0.0/112'))).toContain('line 3 has FLANNEL_IPV6_NETWORK=::ffff:10.244.0.0/112, not an IPv6 CIDR');
    expect(fails(DUAL.replace('fd00:10:244:c::1/64', 'fd00:10:245:c::1/64'))).toContain('line 4 has FLANNEL_IPV6_SUBNET=fd00:10:245:c::1/64 outside FLANNEL_IPV6_NETWORK=fd00:10:244::/56');
    expect(fails(DUAL.replace('fd00:10:244:c::1/64', 'fd00:10:244:c::1/127'))).toContain('line 4 has FLANNEL_IPV6_SUBNET=fd00:10:244:c::1/127, too small for pods (prefix > 126)');
    expect(fails(`${DUAL}FLANNEL_IPV6_MASQ=yes\n`)).toContain('line 7 has FLANNEL_IPV6_MASQ=yes, not true or false');
  });

  it('refuses half a family, a line that is not KEY=VALUE and a repeated key', () => {
    expect(fails(DUAL.replace(/FLANNEL_IPV6_SUBNET=.*\n/, ''))).toMatch(/ is missing FLANNEL_IPV6_SUBNET: /);
    expect(fails(V6_ONLY.replace(/FLANNEL_IPV6_NETWORK=.*\n/, ''))).toMatch(/ is missing FLANNEL_IPV6_NETWORK: /);
    expect(fails(V6_ONLY.replace('FLANNEL_MTU=1450\n', 'FLANNEL_SUBNET=10.244.1.1/24\n'))).toMatch(/ is missing FLANNEL_NETWORK, FLANNEL_MTU: /);
    expect(fails(DUAL.replace('FLANNEL_MTU=1450\n', 'FLANNEL_MTU=1450\nfd00:10:244:c::1/64\n'))).toContain('line 6 is not KEY=VALUE: "fd00:10:244:c::1/64"');
    expect(fails(`${DUAL}FLANNEL_IPV6_SUBNET=fd00:10:244:d::1/64\n`)).toContain('line 7 sets FLANNEL_IPV6_SUBNET again (first on line 4)');
  });

  it('an empty file still asks for the IPv4 keys first, naming the IPv6 alternative in the hint', () => {
    expect(fails('')).toMatch(/ is missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ: it should hold .*FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET \(IPv6\)/);
  });
});

describe('delegate config, dual-stack and IPv6-only', () => {
  const conf = parseNetConf(JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft', dataDir: '/d', ipam: { routes: [{ dst: '192.0.2.0/24' }] } }));

  it('dual-stack: two range sets (IPv4 first) and a route per cluster network via its gateway', () => {
    expect(buildDelegateConfig(conf, parseSubnetEnv(DUAL, 'f'), '1.0.0').ipam).toEqual({
      type: 'host-local',
      dataDir: '/d/ipam',
      ranges: [[{ subnet: '10.244.12.0/24' }], [{ subnet: 'fd00:10:244:c::/64' }]],
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.244.0.0/16', gw: '10.244.12.1' }, { dst: 'fd00:10:244::/56', gw: 'fd00:10:244:c::1' }],
    });
  });

  it('IPv6-only: one range set and one route', () => {
    const d = buildDelegateConfig(conf, parseSubnetEnv(V6_ONLY, 'f'), '1.0.0');
    expect(d).toMatchObject({ type: 'bridge', ipMasq: true, mtu: 1450, isGateway: true });
    expect(d.ipam).toMatchObject({ ranges: [[{ subnet: 'fd00:10:244:c::/64' }]], routes: [{ dst: '192.0.2.0/24' }, { dst: 'fd00:10:244::/56', gw: 'fd00:10:244:c::1' }] });
  });

  it("an IPv4 file renders byte for byte as before IPv6 support", () => {
    const v4 = DUAL.replace(/FLANNEL_IPV6_.*\n/g, '');
    const before =
      '{"cniVersion":"1.0.0","name":"weft","type":"bridge","ipMasq":false,"mtu":1450,"bridge":"cni0","isGateway":true,"hairpinMode":true,' +
      '"ipam":{"routes":[{"dst":"192.0.2.0/24"},{"dst":"10.244.0.0/16","gw":"10.244.12.1"}],"type":"host-local","dataDir":"/d/ipam","ranges":[[{"subnet":"10.244.12.0/24"}]]}}';
    expect(JSON.stringify(buildDelegateConfig(conf, parseSubnetEnv(v4, 'f'), '1.0.0'))).toBe(before);
  });
});
