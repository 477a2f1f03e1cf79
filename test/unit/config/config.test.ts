// parseConfig: flags > env > defaults, both flag forms, booleans, durations, margins, and one-line
// errors naming the flag for every kind of bad input.
import { describe, expect, it } from 'vitest';
import { ignoredFlannelEnvNames, parseConfig } from '../../../daemon/config/parse-config.js';
import { FLAGS, envName, flannelEnvName } from '../../../daemon/config/flags.js';
import type { Config } from '../../../daemon/config/config.js';
import { isWeftError } from '../../../daemon/errors.js';

const sys = { hostname: 'host-a', version: '9.9.9' };

function config(argv: string[], env: Record<string, string> = {}): Readonly<Config> {
  const r = parseConfig(argv, env, sys);
  if (r.action !== 'run') throw new Error(`expected run, got ${r.action}`);
  return r.config;
}

function configError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseConfig(argv, env, sys);
  } catch (err) {
    expect(isWeftError(err, 'WEFT_ERR_CONFIG')).toBe(true);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected a config error for ${argv.join(' ')}`);
}

describe('parseConfig', () => {
  it('keeps every --iface and --iface-regex in order; the env form of --iface is a comma-separated list', () => {
    expect(config(['--iface', 'eth9', '--iface=198.18.0.1', '--iface', 'eth0']).iface).toEqual(['eth9', '198.18.0.1', 'eth0']);
    expect(config([], { WEFTD_IFACE: 'eth9, eth0' }).iface).toEqual(['eth9', 'eth0']);
    expect(config(['--iface', 'eth1'], { WEFTD_IFACE: 'eth9,eth0' }).iface).toEqual(['eth1']);
    expect(config(['--iface-regex', '^198\\.18\\.1\\.[0-9]{1,3}$', '--iface-regex=^en']).ifaceRegex).toEqual(['^198\\.18\\.1\\.[0-9]{1,3}$', '^en']);
    expect(config([], { FLANNELD_IFACE_REGEX: 'a{1,2}' }).ifaceRegex).toEqual(['a{1,2}']);
    expect(config(['--iface-can-reach', '198.18.5.5']).ifaceCanReach).toBe('198.18.5.5');
    expect(configError(['--iface', 'eth0', '--iface', 'eth 1'])).toBe('--iface: "eth 1" is neither an interface name nor an IPv4 or IPv6 address');
    expect(configError(['--iface-regex', '(eth'])).toMatch(/^--iface-regex: "\(eth" is not a regular expression/);
    expect(configError(['--iface-can-reach', 'router'])).toBe('--iface-can-reach: "router" is not an IPv4 address; expected e.g. 198.18.0.1');
  });

  it('installs forward rules by default, independent of --ip-masq', () => {
    expect(config(['--iptables-forward-rules=false'])).toMatchObject({ iptablesForwardRules: false, ipMasq: false });
    expect(config(['--ip-masq'], { FLANNELD_IPTABLES_FORWARD_RULES: 'false' })).toMatchObject({ iptablesForwardRules: false, ipMasq: true });
  });

  it('reads FLANNELD_* as aliases of WEFTD_*, the WEFTD_* name and flags winning, and names the FLANNELD_* ones it ignores', () => {
    for (const f of FLAGS) expect(flannelEnvName(f.name)).toBe(envName(f.name).replace(/^WEFTD_/, 'FLANNELD_'));
    const env = { FLANNELD_ETCD_ENDPOINTS: 'http://10.0.0.9:2379', FLANNELD_ETCD_PREFIX: '/flannel/net', FLANNELD_IP_MASQ: 'true', FLANNELD_PUBLIC_IP: '198.18.0.9', FLANNELD_SUBNET_FILE: '/run/flannel/subnet.env', FLANNELD_IPTABLES_RESYNC: '7', FLANNELD_IFACE: 'eth9,eth0' };
    expect(config([], env)).toMatchObject({ etcdEndpoints: ['http://10.0.0.9:2379'], etcdPrefix: '/flannel/net', ipMasq: true, publicIp: '198.18.0.9', subnetFile: '/run/flannel/subnet.env', iptablesResyncMs: 7_000, iface: ['eth9', 'eth0'] });
    expect(config([], { ...env, WEFTD_ETCD_PREFIX: '/weft/net', WEFTD_IP_MASQ: 'false' })).toMatchObject({ etcdPrefix: '/weft/net', ipMasq: false });
    expect(config(['--public-ip', '198.18.0.1'], env).publicIp).toBe('198.18.0.1');
    expect(configError([], { FLANNELD_IP_MASQ: 'sure' })).toBe('FLANNELD_IP_MASQ: "sure" is not a boolean; expected true or false');
    expect(ignoredFlannelEnvNames({ ...env, FLANNELD_KUBE_SUBNET_MGR: 'true', FLANNELD_IP_MASQ_FULLY_RANDOM_DISABLE: 'true', WEFTD_X: '1', PATH: '/bin' })).toEqual(['FLANNELD_IP_MASQ_FULLY_RANDOM_DISABLE', 'FLANNELD_KUBE_SUBNET_MGR']);
  });

  it('has Flannel-compatible defaults', () => {
    const c = config([]);
    expect(c).toMatchObject({
      etcdEndpoints: ['http://127.0.0.1:2379'],
      etcdPrefix: '/coreos.com/network',
      subnetFile: '/run/weft/subnet.env',
      stateDir: '/run/weft',
      ipMasq: false,
      iptablesForwardRules: true,
      healthzIp: '0.0.0.0',
      healthzPort: 8471,
      gossipPort: 8473,
      peers: [],
      tunName: 'weft0',
      nodeName: 'host-a',
      subnetLeaseTtlMs: 24 * 3600_000,
      subnetLeaseRenewMarginMs: 60 * 60_000,
      logLevel: 'info',
      iface: [],
      ifaceRegex: [],
      ifaceCanReach: undefined,
      publicIp: undefined,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('accepts --flag value and --flag=value', () => {
    const c = config(['--etcd-endpoints', 'http://10.0.0.1:2379,https://10.0.0.2:2379', '--etcd-prefix=/weft/net/', '--public-ip=198.18.0.7', '--iface', 'eth1', '--node-name', 'n7']);
    expect(c.etcdEndpoints).toEqual(['http://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(c.etcdPrefix).toBe('/weft/net');
    expect(c.publicIp).toBe('198.18.0.7');
    expect(c.iface).toEqual(['eth1']);
    expect(c.nodeName).toBe('n7');
  });

  it('reads booleans bare or with a value', () => {
    expect(config(['--ip-masq']).ipMasq).toBe(true);
    expect(config(['--ip-masq=false']).ipMasq).toBe(false);
    expect(config(['--ip-masq=true', '--node-name', 'x']).ipMasq).toBe(true);
    expect(config([], { WEFTD_IP_MASQ: 'true' }).ipMasq).toBe(true);
    expect(configError(['--ip-masq=maybe'])).toBe('--ip-masq: "maybe" is not a boolean; expected true or false');
  });

  it('re-asserts iptables every 5 s and the TUN every 10 s by default; whole seconds, 0 for never', () => {
    expect(config([])).toMatchObject({ iptablesResyncMs: 5_000, linkResyncMs: 10_000 });
    expect(config(['--iptables-resync', '30', '--link-resync=0'])).toMatchObject({ iptablesResyncMs: 30_000, linkResyncMs: 0 });
    expect(config([], { WEFTD_IPTABLES_RESYNC: '2', WEFTD_LINK_RESYNC: '3' })).toMatchObject({ iptablesResyncMs: 2_000, linkResyncMs: 3_000 });
    expect(configError(['--iptables-resync=5s'])).toBe('--iptables-resync: "5s" is not a period; expected whole seconds 0..3600 (0: never)');
    expect(configError([], { WEFTD_LINK_RESYNC: '3601' })).toBe('WEFTD_LINK_RESYNC: "3601" is not a period; expected whole seconds 0..3600 (0: never)');
  });

  it('probes gossip members every 0.5 s by default; seconds from 0.2 to 10, fractions allowed', () => {
    expect(config([]).gossipProbeIntervalMs).toBe(500);
    expect(config(['--gossip-probe-interval', '1']).gossipProbeIntervalMs).toBe(1_000);
    expect(config([], { WEFTD_GOSSIP_PROBE_INTERVAL: '0.25' }).gossipProbeIntervalMs).toBe(250);
    expect(configError(['--gossip-probe-interval=0.1'])).toBe('--gossip-probe-interval: "0.1" is not a probe interval; expected seconds from 0.2 to 10 (fractions allowed, e.g. 0.5 or 1)');
    expect(configError([], { WEFTD_GOSSIP_PROBE_INTERVAL: '1s' })).toBe('WEFTD_GOSSIP_PROBE_INTERVAL: "1s" is not a probe interval; expected seconds from 0.2 to 10 (fractions allowed, e.g. 0.5 or 1)');
  });

  it('turns offloads on by default, each off by flag or env', () => {
    expect(config([])).toMatchObject({ tunOffloads: true, udpOffloads: true });
    expect(config(['--tun-offloads=false'])).toMatchObject({ tunOffloads: false, udpOffloads: true });
    expect(config([], { WEFTD_UDP_OFFLOADS: 'false' })).toMatchObject({ tunOffloads: true, udpOffloads: false });
    expect(config([])).toMatchObject({ csumElision: true });
    expect(config(['--checksum-elision=false'])).toMatchObject({ csumElision: false });
    expect(config(['--tun-offloads=false'])).toMatchObject({ csumElision: false });
    expect(config([])).toMatchObject({ dataplanePriority: 1, metricsPerPeer: false });
    expect(config(['--metrics-per-peer'])).toMatchObject({ metricsPerPeer: true });
    expect(config(['--dataplane-priority=0'])).toMatchObject({ dataplanePriority: 0 });
    expect(config([])).toMatchObject({ busyPollNs: 200_000 });
    expect(config(['--busy-poll=0'])).toMatchObject({ busyPollNs: 0 });
    expect(config([])).toMatchObject({ dataplaneWarmUp: true });
    expect(config(['--dataplane-warm-up=false'])).toMatchObject({ dataplaneWarmUp: false });
    expect(config([])).toMatchObject({ decisionCache: true });
    expect(config(['--decision-cache=false'])).toMatchObject({ decisionCache: false });
    expect(configError(['--busy-poll=1001'])).toBe('--busy-poll: "1001" is not a busy-poll window; expected whole microseconds 0..1000 (0: off)');
    expect(configError(['--dataplane-priority=100'])).toBe('--dataplane-priority: "100" is not a priority; expected an integer 0..99 (0 = normal scheduling)');
    expect(configError(['--udp-offloads=off'])).toBe('--udp-offloads: "off" is not a boolean; expected true or false');
  });

  it('takes every flag from WEFTD_* env, and flags win over env', () => {
    for (const f of FLAGS) expect(envName(f.name)).toBe(`WEFTD_${f.name.toUpperCase().replace(/-/g, '_')}`);
    const env = { WEFTD_HEALTHZ_PORT: '9000', WEFTD_NODE_NAME: 'from-env', WEFTD_SUBNET_FILE: '/tmp/x/subnet.env', WEFTD_SUBNET_LEASE_RENEW_MARGIN: '30' };
    const c = config(['--node-name', 'from-flag'], env);
    expect(c.healthzPort).toBe(9000);
    expect(c.nodeName).toBe('from-flag');
    expect(c.subnetFile).toBe('/tmp/x/subnet.env');
    expect(c.stateDir).toBe('/tmp/x');
    expect(c.subnetLeaseRenewMarginMs).toBe(30 * 60_000);
  });

  it('puts state under --state-dir when given', () => {
    expect(config(['--subnet-file', '/a/b/subnet.env', '--state-dir', '/c']).stateDir).toBe('/c');
  });

  it('parses lease TTLs as durations and margins as (fractional) minutes below the TTL', () => {
    const c = config(['--subnet-lease-ttl', '6s', '--subnet-lease-renew-margin', '0.05']);
    expect(c.subnetLeaseTtlMs).toBe(6_000);
    expect(c.subnetLeaseRenewMarginMs).toBe(3_000);
    expect(config(['--subnet-lease-ttl=1h30m']).subnetLeaseTtlMs).toBe(5_400_000);
    expect(configError(['--subnet-lease-ttl', '6s'])).toBe('--subnet-lease-renew-margin: 60 min must be less than --subnet-lease-ttl (6s)');
    expect(configError(['--subnet-lease-ttl', 'forever'])).toMatch(/^--subnet-lease-ttl: "forever" is not a lease TTL; expected/);
    expect(configError(['--subnet-lease-ttl', '1500ms'])).toMatch(/^--subnet-lease-ttl: /);
    expect(configError(['--subnet-lease-renew-margin', '0'])).toMatch(/^--subnet-lease-renew-margin: "0" is not a renew margin; expected minutes, more than 0 and at most 1439/);
    expect(configError(['--subnet-lease-renew-margin', '1440'])).toMatch(/at most 1439/);
    expect(configError([], { WEFTD_SUBNET_LEASE_RENEW_MARGIN: 'abc' })).toMatch(/^WEFTD_SUBNET_LEASE_RENEW_MARGIN: "abc"/);
  });

  it('names the flag and what it expects for each bad value', () => {
    expect(configError(['--bogus'])).toBe('unknown flag --bogus (see weftd --help for the list)');
    expect(configError(['stray'])).toMatch(/^unexpected argument "stray"/);
    expect(configError(['--node-name'])).toBe('--node-name needs a value: --node-name <value> or --node-name=<value>');
    expect(configError(['--healthz-port', '70000'])).toBe('--healthz-port: "70000" is not a port; expected an integer 0..65535 (0 disables)');
    expect(configError(['--gossip-port', '0'])).toMatch(/^--gossip-port: "0" is not a port; expected an integer 1..65535/);
    expect(configError(['--public-ip', '198.18.0'])).toBe('--public-ip: "198.18.0" is not an IPv4 address; expected e.g. 198.18.0.1');
    expect(configError(['--healthz-ip', 'localhost'])).toMatch(/^--healthz-ip: "localhost" is not an IPv4 address/);
    for (const bad of ['010.18.0.1', '0x0a.1.1.1', '198.18.0.256', '198.18.0.1/32']) expect(configError(['--public-ip', bad])).toMatch(/^--public-ip: ".*" is not an IPv4 address/);
    expect(configError(['--etcd-endpoints', '127.0.0.1:2379'])).toMatch(/^--etcd-endpoints: "127.0.0.1:2379" is not an etcd URL; expected e.g. http:\/\/127.0.0.1:2379/);
    expect(configError(['--etcd-prefix', 'coreos.com'])).toMatch(/^--etcd-prefix: "coreos.com" must be an absolute key path/);
    expect(configError(['--etcd-certfile', '/c.pem'])).toBe('--etcd-certfile and --etcd-keyfile must be given together');
    expect(configError(['--etcd-username', 'u'])).toBe('--etcd-username and --etcd-password must be given together');
    expect(configError(['--tun-name', 'a-very-long-tun-name'])).toMatch(/^--tun-name: "a-very-long-tun-name" is not a valid interface name/);
    expect(configError(['--node-name', 'bad name'])).toMatch(/^--node-name: "bad name" is not a valid node name/);
    expect(configError(['--iface', 'eth 0'])).toMatch(/^--iface: "eth 0" is neither an interface name nor an IPv4 or IPv6 address/);
    expect(configError(['--peers', '10.0.0.1'])).toBe('--peers: "10.0.0.1" is not host:port');
    expect(configError(['--log-level', 'loud'])).toMatch(/^--log-level: "loud" is not a log level; expected one of trace, debug/);
    expect(configError(['--subnet-file', '/run/weft/'])).toMatch(/^--subnet-file: /);
  });

  it('refuses a hostname that cannot be a node name, pointing to --node-name', () => {
    expect(() => parseConfig([], {}, { hostname: 'bad host', version: '1' })).toThrow(/hostname \(use --node-name\): "bad host" is not a valid node name/);
  });

  it('answers --help with every flag, its env name and default, and --version', () => {
    const help = parseConfig(['--node-name', 'x', '--help'], {}, sys);
    expect(help.action).toBe('help');
    const text = help.action === 'help' ? help.text : '';
    for (const f of FLAGS) {
      expect(text).toContain(`--${f.name}`);
      expect(text).toContain(envName(f.name));
      if (f.def !== undefined) expect(text).toContain(`default ${f.def}`);
    }
    expect(parseConfig(['--version'], {}, sys)).toEqual({ action: 'version', text: 'weftd 9.9.9' });
  });
});
