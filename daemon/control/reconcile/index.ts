// Reconciliation of the TUN: at start, the TUN a crashed or older weftd left behind is reused and
// corrected, never duplicated; while running (--link-resync), drift is restored (rules in
// tun-plan.ts). Runs around Dataplane.open():
//   prepareTun()   before: removes a same-named device that cannot be reattached
//   reconcileTun() after, and every period: removes stale addresses and routes, restores the up
//                  state, MTU, address and route; reads the state with one `ip -j -batch` call;
//                  turns IPv6 off again when it was turned on (dual-stack: keeps it on and quiet,
//                  with its IPv6 address and route)
//   tunResync()    the periodic check: reconcileTun() only when the TUN's fingerprint
//                  (tun-fingerprint.ts, read without a process) changed since it was last right
import { disableIpv6, ipv6Enabled, ipv6NotQuiet, quietIpv6 } from '../../dataplane/index.js';
import { WeftError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { ipJson, ipJsonBatch, ipRun } from './ip-command.js';
import { planTunFixes, planTunFixes6, unusableTun, type Fix, type IpAddr, type IpLink, type IpRoute, type TunWanted } from './tun-plan.js';
import { tunFingerprint } from './tun-fingerprint.js';
import { LogEvent } from '../../observability/log-events.js';

export { planTunFixes, planTunFixes6, unusableTun, type Fix, type TunWanted } from './tun-plan.js';

/** Removes a device named `name` that is not a reattachable TUN; returns why, or undefined. */
export async function prepareTun(name: string, log: Logger): Promise<string | undefined> {
  const [link] = await ipJson<IpLink>(['-d', 'link', 'show', 'dev', name]);
  if (!link) return undefined;
  const why = unusableTun(link);
  if (why === undefined) return undefined;
  log.warn({ tun: name, why }, 'removing a device in the way of the TUN');
  await ipRun(['link', 'del', 'dev', name]);
  return why;
}

/**
 * Applies the fixes that bring the TUN to `want`; returns them (empty when it was right). Each
 * fix is logged as `<verb>: <why>` ("reconciling" at start, "re-asserted" by the periodic check).
 */
export async function reconcileTun(want: TunWanted, log: Logger, verb = 'reconciling'): Promise<Fix[]> {
  const state = await ipJsonBatch([
    ['addr', 'show', 'dev', want.name],
    ['route', 'show', 'table', 'main', 'dev', want.name],
    ...(want.network === undefined ? [] : [['route', 'show', 'table', 'main', 'exact', want.network]]),
  ]);
  const [link] = (state?.[0] ?? []) as (IpLink & { addr_info?: IpAddr[] })[];
  if (!link) throw new WeftError('WEFT_ERR_TUN', `${want.name} is gone (deleted while weftd runs?); restart weftd to create it again`);
  const [, tunRoutes, networkRoutes = []] = state as [unknown, IpRoute[], IpRoute[] | undefined];
  const event = verb === 'reconciling' ? undefined : LogEvent.reasserted;
  const quiet: Fix[] = [];
  if (want.address6 !== undefined) {
    const loud = ipv6NotQuiet(want.name);
    if (loud.length > 0) {
      // Before the address goes on: a link-local address or DAD would make the kernel talk into the TUN.
      quiet.push({ why: `IPv6 not quiet (${loud.join(', ')})`, args: [] });
      log.warn({ event, tun: want.name, fix: loud.map((k) => `sysctl -w net.ipv6.conf.${want.name}.${k}=…`).join('; ') }, `${verb}: ${quiet[0].why}`);
      quietIpv6(want.name);
    }
  }
  const v6Routes = want.network6 === undefined ? [] : (((await ipJsonBatch([['route', 'show', 'table', 'main', 'exact', want.network6]], ['-6']))?.[0] ?? []) as IpRoute[]);
  const fixes = [...planTunFixes(want, link, link.addr_info ?? [], tunRoutes, networkRoutes), ...planTunFixes6(want, link.addr_info ?? [], v6Routes)];
  for (const f of fixes) {
    log.warn({ event, tun: want.name, fix: `ip ${f.args.join(' ')}` }, `${verb}: ${f.why}`);
    // A stale address's own prefix route goes with the address: already gone is fixed.
    await ipRun(f.args, f.args[0] === 'route' && f.args[1] === 'del' ? /No such process/ : undefined);
  }
  if (want.address6 !== undefined) return [...quiet, ...fixes];
  if (ipv6Enabled(want.name)) {
    const fix = { why: 'IPv6 on', args: [] };
    log.warn({ event, tun: want.name, fix: `sysctl -w net.ipv6.conf.${want.name}.disable_ipv6=1` }, `${verb}: ${fix.why}`);
    disableIpv6(want.name);
    return [...fixes, fix];
  }
  return fixes;
}

/**
 * The --link-resync check: reconcileTun() unless the TUN's fingerprint is the one read just before
 * the last check that found nothing to fix. The fingerprint is read before `ip` reads the state, so
 * a change after that read shows as a new fingerprint at the next check.
 */
export function tunResync(want: TunWanted, log: Logger): () => Promise<void> {
  let intact: string | undefined;
  return async () => {
    const before = tunFingerprint(want.name);
    if (before !== undefined && before === intact) return;
    intact = undefined;
    const fixes = await reconcileTun(want, log, 're-asserted');
    if (fixes.length === 0) intact = before;
  };
}
