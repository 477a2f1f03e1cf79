// --ip-masq and --iptables-forward-rules: install and remove weft's masquerade and forward rules
// (see rules.ts for the rules).
// install is idempotent and safe to repeat (start, restart, lease change); remove undoes every
// WEFT- chain and hook whatever options installed them, in whichever iptables backend holds
// them, and is a no-op when nothing is there. reassertIpMasq restores installed rules that were
// deleted or changed since (the --iptables-resync check).
//
// IPv6: installIpMasq6 puts the same chains, with the IPv6 network and subnet, into ip6tables (as
// Flannel does for an IPv6Network); reassertIpMasq checks whichever family an InstalledIpMasq
// holds, and removeIpMasq({ family: 6 }) removes them. The two families never touch each other.
import { WeftError } from '../../errors.js';
import { findDrift, type Drift } from './drift.js';
import { Iptables, saveOf, type IptablesBackend, type IptablesRunner } from './iptables.js';
import { generationOf, type GenerationReader } from './ruleset-generation.js';
import { allOwned, masqRules, masqRules6, restoreInput, type Family, type Hook, type MasqRuleOptions, type MasqSwitches, type RuleSet } from './rules.js';

export { MASQ_CHAIN, FORWARD_CHAIN, masqRules, masqRules6, type Family, type MasqRuleOptions, type MasqSwitches } from './rules.js';
export type { IptablesBackend, IptablesRunner } from './iptables.js';
export type { Drift } from './drift.js';

export interface IpMasqOptions extends MasqRuleOptions {
  readonly iptables?: IptablesRunner;
}

export interface InstalledIpMasq extends RuleSet {
  /** The iptables backend the rules went into. */
  readonly backend: IptablesBackend;
  /** The command prefix they were installed with (IptablesRunner.prefix). */
  readonly prefix: readonly string[];
}

/** Installs the IPv4 chains (atomically per table) and then hooks them in once each. */
export async function installIpMasq(opts: IpMasqOptions): Promise<InstalledIpMasq> {
  return install(masqRules(opts), opts.iptables); // masqRules validates before any command runs
}

/**
 * The IPv6 rules into ip6tables: `ipv6Network` is the config's IPv6Network (fd00:10:244::/56),
 * `ipv6Subnet` this node's leased IPv6 subnet (fd00:10:244:1::/64, or the ::1/64 subnet.env form).
 * Same switches as installIpMasq; throws WEFT_ERR_CONFIG for a CIDR that is not IPv6.
 */
export async function installIpMasq6(ipv6Network: string, ipv6Subnet: string, opts: MasqSwitches & { readonly iptables?: IptablesRunner } = {}): Promise<InstalledIpMasq> {
  return install(masqRules6({ ...opts, network: ipv6Network, subnet: ipv6Subnet }), opts.iptables);
}

async function install(rules: RuleSet, runner: IptablesRunner | undefined): Promise<InstalledIpMasq> {
  const ipt = await Iptables.open(runner, rules.family);
  await ipt.restoreNoFlush(restoreInput(rules.chains));
  for (const hook of rules.hooks) {
    if (!(await hookPresent(ipt, hook))) await ipt.run(hook.table, ['-A', hook.chain, ...hook.spec]);
  }
  // A chain not wanted now (left by an install with other options) must not keep acting.
  const owned = allOwned(rules.family);
  const unwanted = owned.chains.filter((c) => !rules.chains.some((r) => r.name === c.name));
  const unwantedHooks = owned.hooks.filter((h) => unwanted.some((c) => h.spec.includes(c.name)));
  await removeRules(ipt, { family: rules.family, chains: unwanted, hooks: unwantedHooks });
  return { ...rules, backend: ipt.backend, prefix: runner?.prefix ?? [] };
}

/** The nf_tables generation at which each installed rule set was last read intact. */
const intactAt = new WeakMap<InstalledIpMasq, number>();

/**
 * Reads the installed backend with one iptables-save; when something drifted, rewrites each
 * drifted chain whole (one iptables-restore) and appends each missing hook. Returns what it fixed;
 * [] (and no other command) when nothing drifted. In nf_tables (generationOf), a check finds the
 * rules intact without any command while the ruleset's generation is the one they were last
 * read intact at: an idle node runs no iptables-save every --iptables-resync period.
 */
export async function reassertIpMasq(installed: InstalledIpMasq, readGeneration?: GenerationReader): Promise<Drift[]> {
  const generation = generationOf(installed, readGeneration);
  if (generation !== undefined && intactAt.get(installed) === generation) return [];
  const dump = await saveOf(installed.prefix, installed.backend, installed.family);
  if (dump === undefined) {
    const save = installed.family === 6 ? 'ip6tables-save' : 'iptables-save';
    throw new WeftError('WEFT_ERR_IPTABLES', `${save} (${installed.backend} backend) failed; weftd needs CAP_NET_ADMIN and the iptables package`);
  }
  const drift = findDrift(dump, installed);
  // Read before the dump: a change after it has a later generation, so the next check reads again.
  if (drift.length === 0) {
    if (generation !== undefined) intactAt.set(installed, generation);
    return drift;
  }
  intactAt.delete(installed);
  const ipt = new Iptables(installed.backend, installed.prefix, installed.family);
  const chains = drift.flatMap((d) => (d.kind === 'chain' ? [d.chain] : []));
  if (chains.length > 0) await ipt.restoreNoFlush(restoreInput(chains));
  for (const d of drift) if (d.kind === 'hook') await ipt.run(d.table, ['-A', d.hook.chain, ...d.hook.spec]);
  return drift;
}

/**
 * Unhooks, flushes and deletes every WEFT- chain that install may have created in `family`
 * (default 4: iptables; 6: ip6tables): in the given backend, or with 'auto' in each backend whose
 * rules mention WEFT-.
 */
export async function removeIpMasq(opts: { readonly iptables?: IptablesRunner; readonly family?: Family } = {}): Promise<void> {
  const prefix = opts.iptables?.prefix ?? [];
  const family = opts.family ?? 4;
  const wanted = opts.iptables?.backend;
  let backends: IptablesBackend[];
  if (wanted !== undefined && wanted !== 'auto') backends = [wanted];
  else {
    backends = [];
    for (const b of ['nft', 'legacy'] as const) if ((await saveOf(prefix, b, family))?.includes('WEFT-')) backends.push(b);
    if (backends.length === 0 && (await saveOf(prefix, 'system', family))?.includes('WEFT-')) backends.push('system');
  }
  for (const b of backends) await removeRules(new Iptables(b, prefix, family), allOwned(family));
}

async function removeRules(ipt: Iptables, rules: RuleSet): Promise<void> {
  for (const hook of rules.hooks) {
    while (await hookPresent(ipt, hook)) await ipt.run(hook.table, ['-D', hook.chain, ...hook.spec]);
  }
  for (const chain of rules.chains) {
    if ((await ipt.try(chain.table, ['-S', chain.name])).code !== 0) continue; // absent
    await ipt.run(chain.table, ['-F', chain.name]);
    await ipt.run(chain.table, ['-X', chain.name]);
  }
}

/** `iptables -C`: exit 0 = present, 1 = absent (or its target chain is missing); anything else is an error. */
async function hookPresent(ipt: Iptables, hook: Hook): Promise<boolean> {
  const r = await ipt.try(hook.table, ['-C', hook.chain, ...hook.spec]);
  if (r.code === 0) return true;
  if (r.code === 1 || r.code === 2) return false;
  await ipt.run(hook.table, ['-C', hook.chain, ...hook.spec]); // throws with iptables' message
  return false;
}
