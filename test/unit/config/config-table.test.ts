// The flag table (daemon/config/flags.ts) is the one description of weftd's flags: every Config
// field is set by exactly one flag, every flag's default parses, each flag is read the same way
// from argv and from its WEFTD_* and FLANNELD_* env twins, every boolean the same way, and --help lists the table in order.
import { describe, expect, it } from 'vitest';
import { FLAGS, envName, flannelEnvName } from '../../../daemon/config/flags.js';
import { parseConfig, unknownEnvNames } from '../../../daemon/config/parse-config.js';
import type { Config } from '../../../daemon/config/config.js';
import { isWeftError } from '../../../daemon/errors.js';

const sys = { hostname: 'host-a', version: '9.9.9' };

function run(argv: string[], env: Record<string, string> = {}): Readonly<Config> {
  const r = parseConfig(argv, env, sys);
  if (r.action !== 'run') throw new Error(`expected run, got ${r.action}`);
  return r.config;
}

function errorOf(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseConfig(argv, env, sys);
  } catch (err) {
    expect(isWeftError(err, 'WEFT_ERR_CONFIG')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected a config error for ${argv.join(' ')}`);
}

/** A valid value for each flag that differs from its default. */
const SAMPLE: Record<string, string> = {
  'etcd-endpoints': 'https://10.0.0.9:2379',
  'etcd-prefix': '/weft/net',
  'etcd-cafile': '/ca.pem',
  'etcd-certfile': '/c.pem',
  'etcd-keyfile': '/k.pem',
  'etcd-username': 'u',
  'etcd-password': 'p',
  iface: 'eth1',
  'iface-regex': '^198\\.18\\.',
  'iface-can-reach': '198.18.5.5',
  'public-ip': '198.18.0.7',
  'subnet-file': '/a/subnet.env',
  'state-dir': '/s',
  'ip-masq': 'true',
  'iptables-forward-rules': 'false',
  'iptables-resync': '7',
  'healthz-ip': '127.0.0.1',
  'healthz-port': '9000',
  'gossip-port': '9001',
  'gossip-key-file': '/key',
  'gossip-probe-interval': '1.5',
  peers: 'h:1',
  'tun-name': 'wt9',
  'tun-offloads': 'false',
  'udp-offloads': 'false',
  'checksum-elision': 'false',
  'metrics-per-peer': 'true',
  'dataplane-priority': '5',
  'busy-poll': '50',
  'dataplane-warm-up': 'false',
  'decision-cache': 'false',
  'remove-tun-on-exit': 'true',
  'link-resync': '3',
  'node-name': 'n9',
  'subnet-lease-ttl': '48h',
  'subnet-lease-renew-margin': '5',
  'log-level': 'debug',
  'public-ipv6': 'fd00:198:18::9',
};

describe('the flag table', () => {
  it('sets every Config field from exactly one flag, with distinct names and env twins', () => {
    const keys = FLAGS.map((f) => f.key);
    expect(new Set(keys).size).toBe(FLAGS.length);
    expect(new Set(FLAGS.map((f) => f.name)).size).toBe(FLAGS.length);
    expect(new Set(FLAGS.map((f) => envName(f.name))).size).toBe(FLAGS.length);
    expect(Object.keys(run([])).sort()).toEqual([...keys].sort());
    expect(Object.keys(SAMPLE).sort()).toEqual(FLAGS.map((f) => f.name).sort());
  });

  it('parses each flag given on the command line into its own field, and the same from its env twin', () => {
    const defaults = run([]);
    for (const f of FLAGS) {
      const other = f.name === 'etcd-certfile' ? 'etcd-keyfile' : f.name === 'etcd-keyfile' ? 'etcd-certfile' : f.name === 'etcd-username' ? 'etcd-password' : f.name === 'etcd-password' ? 'etcd-username' : undefined;
      const companion = other ? [`--${other}=${SAMPLE[other]}`] : [];
      const fromFlag = run([`--${f.name}=${SAMPLE[f.name]}`, ...companion]);
      expect(fromFlag[f.key], f.name).not.toEqual(defaults[f.key]);
      const fromEnv = run(companion, { [envName(f.name)]: SAMPLE[f.name] });
      expect(fromEnv[f.key], envName(f.name)).toEqual(fromFlag[f.key]);
      expect(run(companion, { [flannelEnvName(f.name)]: SAMPLE[f.name] })[f.key], flannelEnvName(f.name)).toEqual(fromFlag[f.key]);
    }
  });

  it('gives the same Config for a default spelt out as for the flag left out', () => {
    const defaults = run([]);
    for (const f of FLAGS) {
      if (f.def === undefined || f.unset) continue;
      expect(run([`--${f.name}=${f.def}`]), f.name).toEqual(defaults);
    }
  });

  it('reads every boolean flag the same way: bare, true/false, 1/0, yes/no, and nothing else', () => {
    for (const f of FLAGS.filter((x) => x.kind === 'bool')) {
      expect(run([`--${f.name}`])[f.key], f.name).toBe(true);
      for (const [text, want] of [['true', true], ['1', true], ['YES', true], ['false', false], ['0', false], ['no', false]] as const) {
        expect(run([`--${f.name}=${text}`])[f.key], `${f.name}=${text}`).toBe(want);
        expect(run([], { [envName(f.name)]: text })[f.key], `${envName(f.name)}=${text}`).toBe(want);
      }
      expect(errorOf([`--${f.name}=off`])).toBe(`--${f.name}: "off" is not a boolean; expected true or false`);
      expect(errorOf([], { [envName(f.name)]: 'on' })).toBe(`${envName(f.name)}: "on" is not a boolean; expected true or false`);
    }
  });

  it('checks fields together once every flag is read', () => {
    expect(run(['--checksum-elision=true', '--tun-offloads=false'])).toMatchObject({ csumElision: false, tunOffloads: false });
    expect(run(['--subnet-file=/x/y/subnet.env']).stateDir).toBe('/x/y');
    expect(run(['--subnet-file=/x/y/subnet.env', '--state-dir=/z']).stateDir).toBe('/z');
    expect(errorOf([], { WEFTD_SUBNET_LEASE_TTL: '2m', WEFTD_SUBNET_LEASE_RENEW_MARGIN: '2' })).toBe('WEFTD_SUBNET_LEASE_RENEW_MARGIN: 2 min must be less than --subnet-lease-ttl (2m)');
    expect(errorOf(['--etcd-keyfile=/k.pem'])).toBe('--etcd-certfile and --etcd-keyfile must be given together');
    expect(errorOf([], { WEFTD_ETCD_PASSWORD: 'p' })).toBe('--etcd-username and --etcd-password must be given together');
  });

  it('prints --help from the table, in its order, with a value placeholder for all but booleans', () => {
    const r = parseConfig(['--help'], {}, sys);
    const text = r.action === 'help' ? r.text : '';
    const flagLines = text.split('\n').filter((l) => /^ {2}--/.test(l)).map((l) => l.trim());
    expect(flagLines).toEqual([...FLAGS.map((f) => `--${f.name}${f.kind === 'bool' ? '' : ' value'}`), '--help       print this help and exit', '--version    print the version and exit']);
    for (const f of FLAGS) expect(text).toContain(`      ${f.help}\n      env ${envName(f.name)}`);
  });

  it('names WEFTD_* variables that match no flag', () => {
    expect(unknownEnvNames({ WEFTD_NODE_NAME: 'a', WEFTD_NODENAME: 'b', WEFTD_TRACE: '1', HOME: '/root' })).toEqual(['WEFTD_NODENAME']);
  });
});
