// A weft node: `weftd` started inside the node namespace with the lab's etcd, waited for until it has
// written subnet.env and answers /readyz 200 on its health port. Fails with the log's tail when it
// cannot start.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { nsRun, runs, startDetached, waitFor } from './exec.js';
import { parseAnySubnetEnv, type SubnetEnv } from './flannel-format.js';
import { DIST, REPO_ROOT } from './paths.js';
import type { NodeRecord, ProcessRecord } from './state.js';

export const HEALTHZ_PORT = 8471;

const WEFTD = join(REPO_ROOT, 'bin', 'weftd.js');

export interface WeftdFlags {
  readonly etcdEndpoint: string;
  readonly etcdPrefix: string;
  readonly nodeName: string;
  readonly subnetFile: string;
  readonly healthzPort: number;
}

/** The flags of a weftd in a node namespace: underlay `eth0`, health server on 127.0.0.1 there. */
export function weftdFlags(f: WeftdFlags): string[] {
  return [
    '--etcd-endpoints', f.etcdEndpoint,
    '--etcd-prefix', f.etcdPrefix,
    '--iface', 'eth0',
    '--node-name', f.nodeName,
    '--subnet-file', f.subnetFile,
    '--healthz-ip', '127.0.0.1',
    '--healthz-port', String(f.healthzPort),
  ];
}

/** weftd's command line on `node`: weftdFlags, `--public-ipv6` on its IPv6 underlay address when it has one, then `extra`. */
export function weftdArgs(node: NodeRecord, etcdEndpoint: string, etcdPrefix: string, extra: readonly string[]): string[] {
  const v6 = node.underlayIp6 !== undefined ? ['--public-ipv6', node.underlayIp6] : [];
  return [WEFTD, ...weftdFlags({ etcdEndpoint, etcdPrefix, nodeName: node.name, subnetFile: node.subnetFile, healthzPort: HEALTHZ_PORT }), ...v6, ...extra];
}

export function startWeftd(node: NodeRecord, etcdEndpoint: string, etcdPrefix: string, extra: readonly string[]): ProcessRecord {
  if (!existsSync(join(DIST, 'daemon', 'main.js'))) {
    throw new LabError(`weftd is not built (${join(DIST, 'daemon', 'main.js')} is missing): run \`npm run build\` first, or use --kind kernel`);
  }
  const log = join(node.dir, 'weftd.log');
  const pid = startDetached(node.ns, process.execPath, weftdArgs(node, etcdEndpoint, etcdPrefix, extra), log);
  return { pid, role: `weftd ${node.name}`, ns: node.ns, marker: node.subnetFile, log };
}

/** Waits until weftd has written subnet.env and /readyz answers 200; returns subnet.env. */
export async function waitWeftdReady(node: NodeRecord, proc: ProcessRecord, timeoutMs = 20_000): Promise<SubnetEnv> {
  let env: SubnetEnv | undefined;
  return waitFor(
    async () => {
      if (!runs(proc.pid, proc.marker)) {
        throw new LabError(`weftd on ${node.name} exited before becoming ready; last lines of ${proc.log}:\n${logTail(proc.log, 20)}`);
      }
      env ??= readSubnetEnv(node.subnetFile);
      if (!env) return undefined;
      return (await healthz(node.ns, '/readyz')) === undefined ? undefined : env;
    },
    timeoutMs,
    () =>
      new LabError(
        `weftd on ${node.name} was not ready within ${timeoutMs} ms (${env ? '/readyz not 200' : `no subnet file at ${node.subnetFile}`}); last lines of ${proc.log}:\n${logTail(proc.log, 20)}`,
      ),
    100,
  );
}

/** GET http://127.0.0.1:8471<path> inside the node namespace; the body, or undefined unless 200. */
export async function healthz(ns: string, path: string): Promise<string | undefined> {
  try {
    return await nsRun(ns, 'curl', ['-sf', '--max-time', '1', `http://127.0.0.1:${HEALTHZ_PORT}${path}`]);
  } catch {
    return undefined;
  }
}

/** A node's subnet.env (any family), or undefined while it is missing or incomplete. */
export function readSubnetEnv(file: string): SubnetEnv | undefined {
  try {
    return parseAnySubnetEnv(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
