// Messages between the gossip bench coordinator (run.ts) and its member-hosting processes (worker.ts).
import type { MemberState } from '../../daemon/control/gossip/types.js';

export type WorkerRequest =
  | { op: 'start'; ids: number[]; seeds: string[]; key: string }
  | { op: 'watch'; req: number; names: string[]; states: MemberState[]; mode: 'all' | 'any'; limitMs: number }
  | { op: 'kill'; name: string }
  | { op: 'sample' }
  | { op: 'stop' };

export type WorkerReply =
  | { op: 'started'; ports: Record<string, number> }
  | { op: 'held'; req: number; at: number }
  | { op: 'killed'; at: number }
  | { op: 'sample'; bytesSent: number; messages: number; suspicions: number; lagP99Ms: number; cpuMs: number };

export const now = (): number => performance.timeOrigin + performance.now();
