// One pino logger per process; subsystems take a child with `{ subsystem }`. Quiet by default
// (info); WEFTD_TRACE=lease,gossip,dataplane (or `all`) turns on debug for those subsystems only.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const traced = new Set((process.env.WEFTD_TRACE ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A child logger for one subsystem; debug-level when that subsystem is traced. */
export function subsystemLogger(root: Logger, subsystem: string): Logger {
  const child = root.child({ subsystem });
  if (traced.has('all') || traced.has(subsystem)) child.level = 'debug';
  return child;
}
