// Reconciliation at start: the TUN a crashed or older weftd left behind is reused and corrected,
// never duplicated (rules in tun-plan.ts). Runs around Dataplane.open():
//   prepareTun()   before: removes a same-named device that cannot be reattached
//   reconcileTun() after:  removes stale addresses and routes, restores MTU, address and route
import type { Logger } from '../../observability/logger.js';
import { ipJson, ipRun } from './ip-command.js';
import { planTunFixes, unusableTun, type Fix, type IpAddr, type IpLink, type IpRoute, type TunWanted } from './tun-plan.js';

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

/** Applies the fixes that bring the TUN to `want`; returns them (empty when it was right). */
export async function reconcileTun(want: TunWanted, log: Logger): Promise<Fix[]> {
  const [link] = await ipJson<IpLink & { addr_info?: IpAddr[] }>(['addr', 'show', 'dev', want.name]);
  if (!link) throw new Error(`${want.name} vanished during reconciliation`);
  const tunRoutes = await ipJson<IpRoute>(['route', 'show', 'table', 'main', 'dev', want.name]);
  const networkRoutes = await ipJson<IpRoute>(['route', 'show', 'table', 'main', 'exact', want.network]);
  const fixes = planTunFixes(want, link, link.addr_info ?? [], tunRoutes, networkRoutes);
  for (const f of fixes) {
    log.warn({ tun: want.name, fix: `ip ${f.args.join(' ')}` }, `reconciling: ${f.why}`);
    // A stale address's own prefix route goes with the address: already gone is fixed.
    await ipRun(f.args, f.args[0] === 'route' && f.args[1] === 'del' ? /No such process/ : undefined);
  }
  return fixes;
}
