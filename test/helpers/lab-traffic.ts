// A lab of given node kinds with one pod per node, and pod-to-pod checks across it, every ordered
// pair and each address family asked for: first a wait until one ping is answered (routes reach a
// node by watching etcd; a fresh pod resolves its gateway), then `pings` echoes that must all come
// back and a TCP exchange whose bytes are checked by SHA-256. Every failure is collected, so one
// assertion shows the whole matrix.
import { Lab, type LabOptions } from '../../lab/lab.js';
import { addressOf, ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import type { NodeKind, PodRecord } from '../../lab/state.js';

/** A lab with a node of each of `kinds` (node1, node2, … in order), kernel peers synced, and one pod per node. */
export async function labWithPods(opts: LabOptions, kinds: readonly NodeKind[]): Promise<{ lab: Lab; pods: PodRecord[] }> {
  const lab = await Lab.create(opts);
  try {
    for (const kind of kinds) await lab.addNode(kind);
    await lab.syncKernelPeers();
    const pods: PodRecord[] = [];
    for (const n of lab.nodes) pods.push(await lab.addPod(n.name));
    return { lab, pods };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

export interface PairTrafficOptions {
  /** Echoes per pair and family after the first answered one (default 3). */
  pings?: number;
  /** TCP bytes per pair and family (default 1 MiB). */
  bytes?: number;
}

/** `from → to IPv<f>: what failed`, one line per failing pair and family; empty when all talk. */
export async function everyPairTalks(pods: readonly PodRecord[], families: readonly (4 | 6)[], opts: PairTrafficOptions = {}): Promise<string[]> {
  const pings = opts.pings ?? 3;
  const bytes = opts.bytes ?? 1 << 20;
  const failures: string[] = [];
  for (const from of pods) {
    for (const to of pods) {
      if (from === to) continue;
      for (const family of families) {
        const ip = addressOf(to, family);
        const what = `${from.name} → ${to.name} IPv${family} (${ip})`;
        try {
          await waitReachable(from.ns, ip);
          const r = await ping(from.ns, ip, { count: pings, intervalS: 0.05 });
          if (r.received !== pings) failures.push(`${what}: ${r.received} of ${pings} pings answered`);
          const tcp = await tcpExchange(from.ns, to.ns, ip, bytes);
          if (tcp.bytes !== bytes) failures.push(`${what}: TCP carried ${tcp.bytes} of ${bytes} bytes`);
        } catch (err) {
          failures.push(`${what}: ${(err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' | ')}`);
        }
      }
    }
  }
  return failures;
}
