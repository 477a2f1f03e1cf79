// Runs iptables and iptables-restore, always with -w so that weft waits for the xtables lock
// instead of failing beside kube-proxy.
//
// Which iptables: a host's rules live either in the nf_tables backend or in the legacy one, and
// rules added through the other backend still run but sit beside, not among, kube-proxy's (the
// mixing hazard kubernetes-sigs/iptables-wrappers exists for). With backend 'auto' weft does what
// those wrappers do: the backend holding kubelet's KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chain,
// else the one with more rules, nft on a tie; when the iptables-nft/-legacy commands are not
// installed, plain `iptables`. IPv6 rules go through the ip6tables commands of the same names,
// with the backend detected from ip6tables' own rules.
import { spawn } from 'node:child_process';
import { WeftError } from '../../errors.js';
import type { Family } from './rules.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type IptablesBackend = 'nft' | 'legacy' | 'system';

/**
 * How to reach iptables. `prefix` is prepended to every command, e.g.
 * `['ip', 'netns', 'exec', 'node1']` to work inside a namespace; empty for the daemon's own.
 * `backend` (default 'auto', see above) picks iptables-nft, iptables-legacy or plain iptables.
 */
export interface IptablesRunner {
  readonly prefix?: readonly string[];
  readonly backend?: IptablesBackend | 'auto';
}

function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    proc.once('error', (err) =>
      reject(new WeftError('WEFT_ERR_IPTABLES', `cannot run ${argv.join(' ')}: ${err.message}; install the iptables package`, { cause: err })),
    );
    proc.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    proc.stdin.on('error', () => undefined); // EPIPE when the command exits without reading: its exit code tells
    proc.stdin.end(input ?? '');
  });
}

const KUBELET_HINT = /KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY/;

/** `iptables`, `ip6tables-nft`, …: the command for a family and backend. */
function command(family: Family, backend: IptablesBackend): string {
  const base = family === 6 ? 'ip6tables' : 'iptables';
  return backend === 'system' ? base : `${base}-${backend}`;
}

/** `iptables-<backend>-save` (ip6tables-… for family 6) output, or undefined when that command is not installed or fails. */
export async function saveOf(prefix: readonly string[], backend: IptablesBackend, family: Family = 4): Promise<string | undefined> {
  const cmd = `${command(family, backend)}-save`;
  try {
    const r = await runCommand([...prefix, cmd]);
    return r.code === 0 ? r.stdout : undefined;
  } catch {
    return undefined;
  }
}

async function detectBackend(prefix: readonly string[], family: Family): Promise<IptablesBackend> {
  const nft = await saveOf(prefix, 'nft', family);
  const legacy = await saveOf(prefix, 'legacy', family);
  if (nft === undefined || legacy === undefined) return 'system';
  if (KUBELET_HINT.test(nft)) return 'nft';
  if (KUBELET_HINT.test(legacy)) return 'legacy';
  const rules = (dump: string): number => dump.split('\n').filter((l) => l.startsWith('-')).length;
  return rules(legacy) > rules(nft) ? 'legacy' : 'nft';
}

export class Iptables {
  private readonly iptables: string;
  private readonly restore: string;

  constructor(
    readonly backend: IptablesBackend,
    private readonly prefix: readonly string[] = [],
    readonly family: Family = 4,
  ) {
    this.iptables = command(family, backend);
    this.restore = `${this.iptables}-restore`;
  }

  /** An Iptables (ip6tables for family 6) for `runner`, detecting the backend when it is 'auto' (the default). */
  static async open(runner: IptablesRunner = {}, family: Family = 4): Promise<Iptables> {
    const prefix = runner.prefix ?? [];
    const backend = runner.backend === undefined || runner.backend === 'auto' ? await detectBackend(prefix, family) : runner.backend;
    return new Iptables(backend, prefix, family);
  }

  /** `iptables -w -t <table> <args>` (or ip6tables); the raw result, for callers that expect failures (-C, -S). */
  try(table: string, args: readonly string[]): Promise<CommandResult> {
    return runCommand([...this.prefix, this.iptables, '-w', '-t', table, ...args]);
  }

  /** Like try(), but a non-zero exit is a WEFT_ERR_IPTABLES error quoting iptables' message. */
  async run(table: string, args: readonly string[]): Promise<string> {
    const r = await this.try(table, args);
    if (r.code !== 0) throw failure(`${this.iptables} -t ${table} ${args.join(' ')}`, r);
    return r.stdout;
  }

  async restoreNoFlush(input: string): Promise<void> {
    const r = await runCommand([...this.prefix, this.restore, '-w', '--noflush'], input);
    if (r.code !== 0) throw failure(`${this.restore} --noflush of:\n${input}`, r);
  }
}

function failure(what: string, r: CommandResult): WeftError {
  return new WeftError(
    'WEFT_ERR_IPTABLES',
    `${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}; weftd needs CAP_NET_ADMIN and the kernel's iptables/nf_tables NAT support (IPv6 as well for an IPv6 network)`,
  );
}
