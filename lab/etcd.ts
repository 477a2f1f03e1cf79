// The lab's etcd: Debian's etcd in its own namespace on the underlay switch (198.18.0.254, or
// fd00:198:18::fe in an IPv6-only lab), and etcdctl run in that namespace against its loopback
// listener (the root namespace has no route to the lab, by design).
import { join } from 'node:path';
import { LabError } from './errors.js';
import { nsRun, runs, startDetached, waitFor } from './exec.js';
import { parseLease, type Lease } from './flannel-format.js';
import type { ProcessRecord } from './state.js';

export const ETCD_IP = '198.18.0.254';
export const ETCD_ENDPOINT = `http://${ETCD_IP}:2379`;
/** etcd's underlay address in an IPv6-only lab (node 254's, as ETCD_IP). */
export const ETCD_IP6 = 'fd00:198:18::fe';
/** etcd's own namespace also serves on loopback: etcdctl's endpoint, whatever the underlay's family. */
const LOCAL_ENDPOINT = 'http://127.0.0.1:2379';

/** `http://<ip>:<port>`, the IPv6 address in brackets. */
export function etcdUrl(ip: string, port = 2379): string {
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/**
 * The command line of a one-member etcd `name` serving `clientUrl` (and `localUrl`, not advertised,
 * when given), with peer URL `peerUrl` and its data in `dataDir`; short heartbeat and election
 * timeouts, so it leads within milliseconds.
 */
export function etcdArgs(name: string, dataDir: string, clientUrl: string, peerUrl: string, localUrl?: string): string[] {
  return [
    '--name', name,
    '--data-dir', dataDir,
    '--listen-client-urls', localUrl === undefined ? clientUrl : `${clientUrl},${localUrl}`,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${name}=${peerUrl}`,
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
}

/** Starts the lab's etcd in `ns`, serving on `ip` (the underlay address of its namespace) and loopback. */
export function startEtcd(ns: string, stateDir: string, ip = ETCD_IP): ProcessRecord {
  const dataDir = join(stateDir, 'etcd');
  const log = join(stateDir, 'etcd.log');
  const pid = startDetached(ns, 'etcd', etcdArgs('weft-lab', dataDir, etcdUrl(ip), etcdUrl(ip, 2380), LOCAL_ENDPOINT), log);
  return { pid, role: 'etcd', ns, marker: dataDir, log };
}

/** etcdctl (API v3) against the lab's etcd, run in its namespace `ns`. */
export function etcdctl(ns: string, args: readonly string[], input?: string): Promise<string> {
  const env = { ...process.env, ETCDCTL_API: '3' };
  return nsRun(ns, 'etcdctl', ['--endpoints', LOCAL_ENDPOINT, '--command-timeout=3s', ...args], input === undefined ? { env } : { env, input });
}

export async function waitEtcdHealthy(ns: string, proc: ProcessRecord, timeoutMs = 15_000): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      if (!runs(proc.pid, proc.marker)) throw new LabError(`etcd exited during start-up; see ${proc.log}`);
      try {
        await etcdctl(ns, ['--dial-timeout=500ms', '--command-timeout=500ms', 'endpoint', 'health']);
        return true;
      } catch (err) {
        last = String(err);
        return undefined;
      }
    },
    timeoutMs,
    () => new LabError(`etcd did not become healthy in ${timeoutMs} ms (${last}); see ${proc.log}`),
  );
}

/** Every subnet lease under `<etcdPrefix>/subnets/` (IPv4, dual-stack and IPv6-only). */
export async function listLeases(ns: string, etcdPrefix: string): Promise<Lease[]> {
  const out = await etcdctl(ns, ['get', '--prefix', `${etcdPrefix}/subnets/`, '-w', 'json']);
  const body = JSON.parse(out) as { kvs?: { key: string; value: string }[] };
  const leases: Lease[] = [];
  for (const kv of body.kvs ?? []) {
    const lease = parseLease(Buffer.from(kv.key, 'base64').toString('utf8'), Buffer.from(kv.value, 'base64').toString('utf8'));
    if (lease) leases.push(lease);
  }
  return leases;
}

/**
 * Creates `key` = `value` under a new etcd lease of `ttlSeconds`, only if the key is absent (the
 * transaction flanneld uses). Returns false when another holder got there first.
 */
export async function createUnderLease(ns: string, key: string, value: string, ttlSeconds: number): Promise<boolean> {
  const grant = await etcdctl(ns, ['lease', 'grant', String(ttlSeconds)]);
  const id = /lease ([0-9a-f]+) granted/.exec(grant)?.[1];
  if (!id) throw new LabError(`unexpected output from etcdctl lease grant: ${grant}`);
  const quoted = `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const txn = `create("${key}") = "0"\n\nput --lease=${id} ${key} ${quoted}\n\n\n`;
  const out = await etcdctl(ns, ['txn'], txn);
  if (out.startsWith('SUCCESS')) return true;
  await etcdctl(ns, ['lease', 'revoke', id]).catch(() => undefined);
  return false;
}
