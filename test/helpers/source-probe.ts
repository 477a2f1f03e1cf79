// Which source address a server sees: the observable behind the masquerade tests. A server in one
// namespace prints the peer address of every TCP connection and UDP datagram; a client in another
// sends one of each, tagged, so each probe's answer is told apart. Either family (by the address).
import type { Netns } from '../../lab/netns.js';
import type { TrackedChild } from '../../lab/processes.js';

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const [host, port] = process.argv.slice(1);
net.createServer((s) => { let d = ''; s.on('data', (c) => (d += c)); s.on('end', () => { console.log('tcp', d, s.remoteAddress); s.end(); }); })
  .listen(+port, host, () => {
    const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    u.on('message', (m, r) => console.log('udp', String(m), r.address));
    u.bind(+port, host, () => console.log('listening'));
  });
`;
const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [host, port, tag] = process.argv.slice(1);
const s = net.connect(+port, host, () => s.end(tag));
s.setTimeout(5000, () => { console.error('tcp timeout'); process.exit(1); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.on('close', () => { const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4'); u.send(tag, +port, host, () => u.close()); });
`;

export const PROBE_PORT = '7000';

export interface SourceServer {
  readonly host: string;
  readonly proc: TrackedChild;
}

/** Starts a server on `host` in `ns` and waits until it listens. */
export async function startSourceServer(ns: Netns, host: string): Promise<SourceServer> {
  const proc = ns.spawn(process.execPath, ['-e', SERVER, host, PROBE_PORT]);
  await proc.waitForOutput(/listening/);
  return { host, proc };
}

let probes = 0;

/** Source address (TCP and UDP) that `server` sees for a fresh connection from `client`. */
export async function sourceSeenBy(client: Netns, server: SourceServer): Promise<{ tcp: string; udp: string }> {
  const tag = `probe${++probes}`;
  await client.exec(process.execPath, ['-e', CLIENT, server.host, PROBE_PORT, tag]);
  const tcp = await server.proc.waitForOutput(new RegExp(`tcp ${tag} (\\S+)`), 5_000);
  const udp = await server.proc.waitForOutput(new RegExp(`udp ${tag} (\\S+)`), 5_000);
  return { tcp: tcp[1], udp: udp[1] };
}
