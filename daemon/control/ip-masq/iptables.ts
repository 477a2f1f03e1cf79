// Runs Debian's `iptables` (legacy or nft backend) and `iptables-restore`, always with -w so that
// weft waits for the xtables lock instead of failing beside kube-proxy.
import { spawn } from 'node:child_process';
import { WeftError } from '../../errors.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How to reach iptables. `prefix` is prepended to every command, e.g.
 * `['ip', 'netns', 'exec', 'node1']` to work inside a namespace; empty for the daemon's own.
 */
export interface IptablesRunner {
  readonly prefix?: readonly string[];
}

export function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
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

export class Iptables {
  private readonly prefix: readonly string[];

  constructor(runner: IptablesRunner = {}) {
    this.prefix = runner.prefix ?? [];
  }

  /** `iptables -w -t <table> <args>`; the raw result, for callers that expect failures (-C, -S). */
  try(table: string, args: readonly string[]): Promise<CommandResult> {
    return runCommand([...this.prefix, 'iptables', '-w', '-t', table, ...args]);
  }

  /** Like try(), but a non-zero exit is a WEFT_ERR_IPTABLES error quoting iptables' message. */
  async run(table: string, args: readonly string[]): Promise<string> {
    const r = await this.try(table, args);
    if (r.code !== 0) throw failure(`iptables -t ${table} ${args.join(' ')}`, r);
    return r.stdout;
  }

  async restoreNoFlush(input: string): Promise<void> {
    const r = await runCommand([...this.prefix, 'iptables-restore', '-w', '--noflush'], input);
    if (r.code !== 0) throw failure(`iptables-restore --noflush of:\n${input}`, r);
  }
}

function failure(what: string, r: CommandResult): WeftError {
  return new WeftError(
    'WEFT_ERR_IPTABLES',
    `${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}; weftd needs CAP_NET_ADMIN and the kernel's iptables/nf_tables NAT support`,
  );
}
