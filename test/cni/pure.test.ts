// Pure parts of weft-cni: subnet.env parsing (Flannel's exact file), result conversion between
// spec versions, version choice for a delegate, delegate rendering. No root, no processes.
import { describe, expect, it } from 'vitest';
import { buildDelegateConfig } from '../../cni-shim/delegate-config.js';
import { parseNetConf, type JsonObject } from '../../cni-shim/netconf.js';
import { convertResult } from '../../cni-shim/result.js';
import { parseSubnetEnv } from '../../cni-shim/subnet-env.js';
import { pickCompatible } from '../../cni-shim/version.js';

// As flanneld's WriteSubnetFile writes it (pkg/subnet/subnet.go), IPv4 only and dual-stack.
const FLANNELD_V4 = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.12.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const FLANNELD_DUAL =
  'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.12.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:c::1/64\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=false\n';

describe('subnet.env', () => {
  it("reads flanneld's file", () => {
    const ipv4 = { network: '10.244.0.0/16', subnet: '10.244.12.0/24', gateway: '10.244.12.1' };
    expect(parseSubnetEnv(FLANNELD_V4, 'f')).toEqual({ ipv4, ipv6: undefined, mtu: 1450, ipMasq: true, ipv6Masq: undefined });
    expect(parseSubnetEnv(FLANNELD_DUAL, 'f')).toEqual({
      ipv4,
      ipv6: { network: 'fd00:10:244::/56', subnet: 'fd00:10:244:c::/64', gateway: 'fd00:10:244:c::1' },
      mtu: 1400,
      ipMasq: false,
      ipv6Masq: undefined,
    });
  });

  it('lists every missing key at once', () => {
    expect(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\n', '/run/weft/subnet.env')).toThrow(
      /^subnet file \/run\/weft\/subnet.env is missing FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ: /,
    );
    expect(() => parseSubnetEnv('', 'f')).toThrow(/is missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ/);
    expect(() => parseSubnetEnv(FLANNELD_V4.replace('1450', '9x'), 'f')).toThrow(/has FLANNEL_MTU=9x, not an integer/);
  });

  it("refuses what weftd refuses: daemon/net's IPv4 rules", () => {
    expect(() => parseSubnetEnv(FLANNELD_V4.replace('10.244.12.1/24', '010.244.12.1/24'), 'f')).toThrow(/has FLANNEL_SUBNET=010.244.12.1\/24, not an IPv4 CIDR/);
    expect(() => parseSubnetEnv(FLANNELD_V4.replace('10.244.0.0/16', '0x0a.244.0.0/16'), 'f')).toThrow(/has FLANNEL_NETWORK=0x0a.244.0.0\/16, not an IPv4 CIDR/);
    expect(() => parseSubnetEnv(FLANNELD_V4.replace('10.244.12.1/24', '10.244.12.1/33'), 'f')).toThrow(/has FLANNEL_SUBNET=10.244.12.1\/33, not an IPv4 CIDR/);
    expect(() => parseSubnetEnv(FLANNELD_V4.replace('10.244.12.1/24', '10.245.12.1/24'), 'f')).toThrow(/outside FLANNEL_NETWORK/);
  });
});

describe('result conversion', () => {
  const v100: JsonObject = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'cni0', mac: 'aa:bb:cc:dd:ee:ff' }, { name: 'eth0', mac: '11:22:33:44:55:66', sandbox: '/run/netns/p' }],
    ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 1 }],
    routes: [{ dst: '10.244.0.0/16', gw: '10.244.1.1' }],
    dns: {},
  };

  it('adds ips[].version for 0.3.x and 0.4.0 and removes it again for 1.x', () => {
    const old = convertResult(v100, '0.4.0');
    expect(old.cniVersion).toBe('0.4.0');
    expect(old.ips).toEqual([{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 1, version: '4' }]);
    expect(convertResult(old, '1.1.0')).toEqual({ ...v100, cniVersion: '1.1.0' });
    expect((convertResult({ ips: [{ address: 'fd00::2/64' }] }, '0.3.1').ips as any[])[0].version).toBe('6');
  });

  it('drops 1.1.0-only route and interface fields for older versions', () => {
    const v110: JsonObject = { ...v100, cniVersion: '1.1.0', routes: [{ dst: '10.244.0.0/16', gw: '10.244.1.1', mtu: 1400, priority: 5 }], interfaces: [{ name: 'eth0', mac: 'x', mtu: 1450, socketPath: '/s' }] };
    const down = convertResult(v110, '1.0.0');
    expect(down.routes).toEqual([{ dst: '10.244.0.0/16', gw: '10.244.1.1' }]);
    expect(down.interfaces).toEqual([{ name: 'eth0', mac: 'x' }]);
  });
});

describe('delegate version', () => {
  it("speaks 1.0.0 to Debian's 1.1.1 plugins for a 1.1.0 request", () => {
    expect(pickCompatible('1.1.0', ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'])).toBe('1.0.0');
    expect(pickCompatible('1.1.0', ['0.3.1', '0.4.0'])).toBeUndefined();
  });
});

describe('delegate config', () => {
  const env = parseSubnetEnv(FLANNELD_V4, 'f');
  it("renders Flannel's bridge + host-local config with weft's defaults", () => {
    const conf = parseNetConf(JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft', dataDir: '/d', runtimeConfig: { portMappings: [] } }));
    expect(buildDelegateConfig(conf, env, '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      name: 'weft',
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      hairpinMode: true,
      ipMasq: false,
      mtu: 1450,
      ipam: { type: 'host-local', dataDir: '/d/ipam', ranges: [[{ subnet: '10.244.12.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.12.1' }] },
      runtimeConfig: { portMappings: [] },
    });
  });

  it('lets delegate override defaults and ipam add settings, but keeps name, ranges and the cluster route', () => {
    const conf = parseNetConf(
      JSON.stringify({
        cniVersion: '1.1.0',
        name: 'weft',
        delegate: { bridge: 'br-pods', isDefaultGateway: true, mtu: 1400, ipMasq: true },
        ipam: { dataDir: '/var/lib/other', routes: [{ dst: '192.0.2.0/24' }] },
      }),
    );
    const d = buildDelegateConfig(conf, env, '1.1.0');
    expect(d).toMatchObject({ bridge: 'br-pods', isDefaultGateway: true, mtu: 1400, ipMasq: true, name: 'weft' });
    expect(d.ipam).toEqual({
      type: 'host-local',
      dataDir: '/var/lib/other',
      ranges: [[{ subnet: '10.244.12.0/24' }]],
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.244.0.0/16', gw: '10.244.12.1' }],
    });
  });
});
