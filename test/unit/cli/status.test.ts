// `weftd status`: the table rendered from a /status document, and the CLI against a real HTTP
// server on 127.0.0.1 (flags, --json, and the message when weftd is not there).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStatus } from '../../../daemon/cli/status-render.js';
import { parseStatusArgs, runStatus } from '../../../daemon/cli/status.js';
import type { WeftStatus } from '../../../daemon/observability/status-types.js';

const NOW = new Date('2026-11-21T10:00:00Z');

const STATUS: WeftStatus = {
  version: 1,
  generatedAt: '2026-11-21T10:00:00Z',
  node: {
    name: 'node-a',
    subnet: '10.244.1.0/24',
    network: '10.244.0.0/16',
    publicIP: '198.18.0.1',
    vtepMAC: '0e:5f:3a:00:00:01',
    leaseExpiry: '2026-11-22T09:58:30.500Z',
    mtu: 1450,
    ipMasq: true,
    ready: true,
    notReady: [],
    etcdUp: true,
  },
  peers: [
    {
      name: 'node-b',
      publicIP: '198.18.0.2',
      subnet: '10.244.2.0/24',
      vtepMAC: '0e:5f:3a:00:00:02',
      state: 'alive',
      lastSeen: '2026-11-21T09:59:58Z',
      packetsIn: 1234567,
      packetsOut: 1180022,
      bytesIn: 1,
      bytesOut: 2,
      drops: 0,
    },
    {
      name: 'node-c',
      publicIP: '198.18.0.3',
      subnet: '10.244.3.0/24',
      vtepMAC: '0e:5f:3a:00:00:03',
      state: 'suspect',
      lastSeen: '2026-11-21T09:58:45Z',
      packetsIn: 52,
      packetsOut: 60,
      bytesIn: 1,
      bytesOut: 2,
      drops: 3,
    },
    {
      name: null,
      publicIP: '198.18.0.9',
      subnet: '10.244.9.0/24',
      vtepMAC: '0e:5f:3a:00:00:09',
      state: 'lease-only',
      lastSeen: null,
      packetsIn: 0,
      packetsOut: 7,
      bytesIn: 0,
      bytesOut: 2,
      drops: 0,
    },
  ],
  drops: { noRoute: 2, spoofedSource: 3, badFlags: 0 },
};

const EXPECTED = `node node-a: ready
  subnet      10.244.1.0/24 in 10.244.0.0/16
  public IP   198.18.0.1
  VtepMAC     0e:5f:3a:00:00:01
  lease       expires 2026-11-22T09:58:30Z (in 23h58m)
  MTU         1450
  ip-masq     on
  etcd        up

peers: 3
NODE    PUBLIC IP   SUBNET         STATE       LAST SEEN  PKTS IN  PKTS OUT  DROPS
node-b  198.18.0.2  10.244.2.0/24  alive       2s ago     1234567   1180022      0
node-c  198.18.0.3  10.244.3.0/24  suspect     1m15s ago       52        60      3
-       198.18.0.9  10.244.9.0/24  lease-only  -                0         7      0

drops: noRoute=2 spoofedSource=3
`;

describe('renderStatus', () => {
  it('prints this node and a row per peer', () => {
    expect(renderStatus(STATUS, NOW)).toBe(EXPECTED);
  });

  it('says what a node without a lease is waiting for, and that it has no peers', () => {
    const text = renderStatus(
      {
        ...STATUS,
        node: { ...STATUS.node, subnet: null, network: null, leaseExpiry: null, mtu: null, ready: false, notReady: ['lease', 'tun'], etcdUp: false },
        peers: [],
        drops: {},
      },
      NOW,
    );
    expect(text).toBe(`node node-a: NOT READY (waiting for lease, tun)
  subnet      - (no lease yet)
  public IP   198.18.0.1
  VtepMAC     0e:5f:3a:00:00:01
  lease       -
  MTU         -
  ip-masq     on
  etcd        DOWN

peers: 0

drops: none
`);
  });
});

describe('parseStatusArgs', () => {
  it('defaults to the local health server on 8471', () => {
    expect(parseStatusArgs([], {})).toEqual({ url: 'http://127.0.0.1:8471/status', json: false, help: false });
  });

  it('takes flags over WEFTD_* env, in both --flag value and --flag=value forms', () => {
    const env = { WEFTD_HEALTHZ_IP: '0.0.0.0', WEFTD_HEALTHZ_PORT: '9000' };
    expect(parseStatusArgs([], env).url).toBe('http://127.0.0.1:9000/status');
    expect(parseStatusArgs(['--healthz-port', '9100', '--json'], env)).toEqual({ url: 'http://127.0.0.1:9100/status', json: true, help: false });
    expect(parseStatusArgs(['--healthz-ip=::1', '--healthz-port=9200'], env).url).toBe('http://[::1]:9200/status');
  });

  it('rejects unknown flags and bad ports, naming them', () => {
    expect(() => parseStatusArgs(['--peers'], {})).toThrow(/unknown flag --peers for weftd status/);
    expect(() => parseStatusArgs(['--healthz-port=http'], {})).toThrow(/--healthz-port must be a port number from 1 to 65535, not "http"/);
    expect(() => parseStatusArgs(['--healthz-ip'], {})).toThrow(/--healthz-ip needs a value/);
  });
});

describe('runStatus against an HTTP server', () => {
  let server: Server;
  let port: number;
  let answer: { code: number; body: string } = { code: 200, body: JSON.stringify(STATUS) };

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/status' ? answer.code : 404, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runStatus(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), now: () => NOW, env: {} });
    return { code, out, err };
  }

  it('prints the table read from /status', async () => {
    answer = { code: 200, body: JSON.stringify(STATUS) };
    expect(await cli(['--healthz-port', String(port)])).toEqual({ code: 0, out: EXPECTED, err: '' });
  });

  it('prints the document with --json', async () => {
    const r = await cli([`--healthz-port=${port}`, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(STATUS);
  });

  it('explains an answer that is not a /status document', async () => {
    answer = { code: 200, body: '{"version":7}' };
    const r = await cli([`--healthz-port=${port}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unexpected \/status document \(version 7, expected 1\)/);
    answer = { code: 503, body: 'not ready: lease' };
    expect((await cli([`--healthz-port=${port}`])).err).toMatch(/answered HTTP 503: not ready: lease/);
  });

  it('says weftd is not reachable when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await cli(['--healthz-port', String(free)]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^weftd status: cannot reach weftd at http://127\\.0\\.0\\.1:${free}/status: is it running\\? \\(ECONNREFUSED\\)`));
    expect(r.err).toMatch(/--healthz-ip\/--healthz-port/);
  });

  it('exits 2 on a bad flag, 0 on --help', async () => {
    const bad = await cli(['--jsn']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown flag --jsn/);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: weftd status/);
  });
});
