// A real etcd (Debian's etcd-server, on the lab's command line) for one test file: started on free
// loopback ports (or inside a namespace on a given address), with its own temporary data dir,
// stoppable and restartable on the same ports and data to simulate an outage, and always removed
// by close().
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdArgs } from '../../lab/etcd.js';
import type { Netns } from '../../lab/netns.js';
import { run, spawnTracked, type TrackedChild } from '../../lab/processes.js';

export interface EtcdOptions {
  /** Run inside this namespace, listening on `host` (default: root namespace on 127.0.0.1). */
  netns?: Netns;
  host?: string;
}

export class EtcdServer {
  private child: TrackedChild | undefined;
  readonly endpoint: string;

  private constructor(
    private readonly dataDir: string,
    private readonly host: string,
    clientPort: number,
    private readonly peerPort: number,
    private readonly netns: Netns | undefined,
  ) {
    this.endpoint = `http://${host}:${clientPort}`;
  }

  static async start(opts: EtcdOptions = {}): Promise<EtcdServer> {
    const host = opts.host ?? '127.0.0.1';
    const [clientPort, peerPort] = opts.netns ? [2379, 2380] : await freePorts(2);
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-etcd-'));
    const server = new EtcdServer(dataDir, host, clientPort, peerPort, opts.netns);
    await server.resume();
    return server;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts etcd again on the same ports and data (after stop()). */
  async resume(): Promise<void> {
    if (this.child) return;
    const args = etcdArgs('weft-test', this.dataDir, this.endpoint, `http://${this.host}:${this.peerPort}`);
    this.child = this.netns ? this.netns.spawn('etcd', args) : spawnTracked('etcd', args);
    try {
      await this.waitHealthy();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops etcd (SIGTERM, then SIGKILL), keeping its data for resume(). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await child.stop(signal, 3_000);
  }

  /** Stops etcd and deletes its data. Safe to call twice. */
  async close(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** etcdctl against this server (run inside its namespace when it has one). */
  etcdctl(...args: string[]): Promise<string> {
    const full = ['--endpoints', this.endpoint, ...args];
    return this.netns ? this.netns.exec('etcdctl', full, { env: { ...process.env, ETCDCTL_API: '3' } }) : run('etcdctl', full, { env: { ...process.env, ETCDCTL_API: '3' } });
  }

  private async waitHealthy(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error('etcd exited during start-up');
      try {
        if (this.netns) {
          await this.etcdctl('--command-timeout=500ms', 'endpoint', 'health');
          return;
        }
        const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(500) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
        last = JSON.stringify(body);
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`etcd did not become healthy in ${timeoutMs} ms (${last}):\n${this.child?.output() ?? ''}`);
  }
}

/** Ports that were free on 127.0.0.1 a moment ago (bound to port 0, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
