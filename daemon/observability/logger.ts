// One pino logger per process; every line comes from a subsystem child (`{ subsystem }`: weftd,
// etcd, lease, dataplane, gossip, routes, ip_masq), so the root itself logs nothing. Field names
// follow /status (publicIP, vtepMAC, leaseExpiry …). Quiet by default (info);
// WEFTD_TRACE=lease,gossip,dataplane (or `all`) turns on debug for those subsystems only.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const traced = new Set((process.env.WEFTD_TRACE ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Subsystem child → the root it was made from, so that a child of a child carries one `subsystem` key, not two. */
const roots = new WeakMap<Logger, Logger>();

/** A child logger for one subsystem, made from the root of `parent`; debug-level when that subsystem is traced. */
export function subsystemLogger(parent: Logger, subsystem: string): Logger {
  const root = roots.get(parent) ?? parent;
  const child = root.child({ subsystem });
  roots.set(child, root);
  if (traced.has('all') || traced.has(subsystem)) child.level = 'debug';
  return child;
}
