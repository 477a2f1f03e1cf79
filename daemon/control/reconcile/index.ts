// Reconciliation of the TUN: at start, the TUN a crashed or older weftd left behind is reused and
// corrected, never duplicated; while running (--link-resync), drift is restored (rules in
// tun-plan.ts). Runs around Dataplane.open():
//   prepareTun()   before: removes a same-named device that cannot be reattached
//   reconcileTun() after, and every period: removes stale addresses and routes, restores the up
//                  state, MTU, address and route; reads the state with one `ip -j -batch` call;
//                  turns IPv6 off again when it was turned on
import { disableIpv6, ipv6Enabled } from '../../dataplane/index.js';
import { WeftError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { ipJson, ipJsonBatch, ipRun } from './ip-command.js';
import { planTunFixes, unusableTun, type Fix, type IpAddr, type IpLink, type IpRoute, type TunWanted } from './tun-plan.js';
import { LogEvent } from '../../observability/log-events.js';

export { planTunFixes, unusableTun, type Fix, type TunWanted } from './tun-plan.js';

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
    ['route', 'show', 'table', 'main', 'exact', want.network],
  ]);
  const [link] = (state?.[0] ?? []) as (IpLink & { addr_info?: IpAddr[] })[];
  if (!link) throw new WeftError('WEFT_ERR_TUN', `${want.name} is gone (deleted while weftd runs?); restart weftd to create it again`);
  const [, tunRoutes, networkRoutes] = state as [unknown, IpRoute[], IpRoute[]];
  const fixes = planTunFixes(want, link, link.addr_info ?? [], tunRoutes, networkRoutes);
  const event = verb === 'reconciling' ? undefined : LogEvent.reasserted;
  for (const f of fixes) {
    log.warn({ event, tun: want.name, fix: `ip ${f.args.join(' ')}` }, `${verb}: ${f.why}`);
    // A stale address's own prefix route goes with the address: already gone is fixed.
    await ipRun(f.args, f.args[0] === 'route' && f.args[1] === 'del' ? /No such process/ : undefined);
  }
  if (ipv6Enabled(want.name)) {
    const fix = { why: 'IPv6 on', args: [] };
    log.warn({ event, tun: want.name, fix: `sysctl -w net.ipv6.conf.${want.name}.disable_ipv6=1` }, `${verb}: ${fix.why}`);
    disableIpv6(want.name);
    return [...fixes, fix];
  }
  return fixes;
}
