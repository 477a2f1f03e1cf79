// Runs weft-cni exactly as a container runtime does: CNI_* in the environment, the netconf on
// stdin, `node bin/weft-cni.js` (the compiled plugin), optionally inside a node namespace.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from './netns.js';
import { requireRoot } from './root.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PLUGIN = join(ROOT, 'bin/weft-cni.js');
export const CNI_PATH = '/usr/lib/cni';

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
  conf: object | string;
  containerId?: string;
  ifname?: string;
  /** Pod namespace (its /run/netns path becomes CNI_NETNS). */
  pod?: Netns;
  /** Namespace the plugin runs in (where cni0 lives); the root namespace when absent. */
  node?: Netns;
  /** Replaces the CNI_* environment entirely when given (to test missing variables). */
  env?: Record<string, string>;
}

export interface CniOutcome {
  exit: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, undefined when empty. */
  json: any;
}

export function cniEnv(call: CniCall): Record<string, string> {
  if (call.env) return call.env;
  const env: Record<string, string> = { CNI_COMMAND: call.command, CNI_PATH };
  if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
  if (call.command !== 'VERSION' && call.command !== 'GC' && call.command !== 'STATUS') env.CNI_IFNAME = call.ifname ?? 'eth0';
  if (call.pod) env.CNI_NETNS = `/run/netns/${call.pod.name}`;
  return env;
}

export async function cni(call: CniCall): Promise<CniOutcome> {
  const cmd = call.node ? 'ip' : process.execPath;
  const args = call.node ? ['netns', 'exec', call.node.name, process.execPath, PLUGIN] : [PLUGIN];
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...cniEnv(call) };
  const proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  proc.stdin.end(typeof call.conf === 'string' ? call.conf : JSON.stringify(call.conf));
  const [code] = (await once(proc, 'close')) as [number | null];
  return { exit: code ?? -1, stdout, stderr, json: stdout.trim() ? JSON.parse(stdout) : undefined };
}

/** Like cni() but fails the test with the plugin's own output unless it exited 0. */
export async function cniOk(call: CniCall): Promise<any> {
  const r = await cni(call);
  if (r.exit !== 0) throw new Error(`weft-cni ${call.command} failed (exit ${r.exit}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.json;
}

/** A fresh veth (and a fresh IPv6 address, after DAD) takes a moment to carry traffic: the first pings may be lost. */
export async function waitPing(from: Netns, ip: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await from.exec('ping', ['-c', '1', '-W', '1', ip]);
      return;
    } catch (err) {
      if (i >= 20) throw err;
    }
  }
}

export interface SubnetFileValues {
  network?: string;
  subnet?: string;
  /** false leaves FLANNEL_NETWORK and FLANNEL_SUBNET out (an IPv6-only node). */
  ipv4?: boolean;
  /** FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET, written after the IPv4 pair when given. */
  ipv6Network?: string;
  ipv6Subnet?: string;
  mtu?: number;
  ipMasq?: boolean;
}

/** A temp dir with subnet.env (Flannel's exact format) and a dataDir; remove() deletes it all. */
export class CniSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-cni-'));
  readonly subnetFile = join(this.dir, 'subnet.env');
  readonly dataDir = join(this.dir, 'data');

  writeSubnetEnv(v: SubnetFileValues = {}): void {
    const v4 = v.ipv4 === false ? '' : `FLANNEL_NETWORK=${v.network ?? '10.244.0.0/16'}\nFLANNEL_SUBNET=${v.subnet ?? '10.244.1.1/24'}\n`;
    const v6 = v.ipv6Network ? `FLANNEL_IPV6_NETWORK=${v.ipv6Network}\nFLANNEL_IPV6_SUBNET=${v.ipv6Subnet}\n` : '';
    writeFileSync(this.subnetFile, `${v4}${v6}FLANNEL_MTU=${v.mtu ?? 1450}\nFLANNEL_IPMASQ=${v.ipMasq ?? true}\n`);
  }

  conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cniVersion: '1.1.0', name: 'weft', type: 'weft', subnetFile: this.subnetFile, dataDir: this.dataDir, readyzURL: '', ...extra };
  }

  /** host-local's lease directory for network "weft". */
  get leaseDir(): string {
    return join(this.dataDir, 'ipam', 'weft');
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A node namespace (where cni0 goes) and a sandbox, for a test file's beforeAll. */
export async function startNode(): Promise<{ node: Netns; box: CniSandbox }> {
  requireRoot();
  return { node: await createNetns('node'), box: new CniSandbox() };
}

export async function stopNode(node: Netns | undefined, box: CniSandbox | undefined): Promise<void> {
  await node?.destroy();
  box?.remove();
}
