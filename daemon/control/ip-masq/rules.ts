// The iptables rules behind --ip-masq and --iptables-forward-rules, in weft's own chains (Flannel's nat/FLANNEL-POSTRTG and
// filter/FLANNEL-FWD, pkg/trafficmngr/iptables/iptables.go, with WEFT- names):
//
//   nat POSTROUTING ──-j──▶ WEFT-POSTRTG                         (--ip-masq)
//     1. kube-proxy-marked (0x4000/0x4000)           RETURN      (kube-proxy masquerades those)
//     2. -s <subnet>  -d <network>                   RETURN      (pod → cluster: keep pod source)
//     3. -s <network> -d <subnet>                    RETURN      (cluster → pod)
//     4. ! -s <network> -d <subnet>                  RETURN      (outside → local pod)
//     5. -s <network> ! -d 224.0.0.0/4               MASQUERADE --random-fully (cluster → outside)
//     6. ! -s <network> -d <network>                 MASQUERADE --random-fully (host → cluster)
//   filter FORWARD ──-j──▶ WEFT-FWD: ACCEPT -s <network>, ACCEPT -d <network>  (--iptables-forward-rules)
//
// IPv6 (masqRules6, for ip6tables): the same chains, comments and order with the IPv6 network and
// subnet, and ff00::/8 as the multicast range, as Flannel's masqIP6Rules.
//
// Pure: builds argument vectors and iptables-restore input; running them is iptables.ts's job.
import { WeftError } from '../../errors.js';
import { formatCidr, parseCidr, subnetOf } from '../../net/ipv4.js';
import { formatCidr6, isIpv4Mapped, parseCidr6, subnetOf6 } from '../../net/ipv6.js';

export const MASQ_CHAIN = 'WEFT-POSTRTG';
export const FORWARD_CHAIN = 'WEFT-FWD';
/** kube-proxy's masquerade mark: packets it marks are left to its own KUBE-POSTROUTING. */
const KUBE_PROXY_MARK = '0x4000/0x4000';
const MULTICAST = { 4: '224.0.0.0/4', 6: 'ff00::/8' } as const;
const MASQ_COMMENT = ['-m', 'comment', '--comment', 'weft masq'];
const FORWARD_COMMENT = ['-m', 'comment', '--comment', 'weft forward'];

export type Table = 'nat' | 'filter';
/** Which iptables: 4 is iptables, 6 is ip6tables. */
export type Family = 4 | 6;

/** A jump from a built-in chain into one of weft's chains. */
export interface Hook {
  readonly table: Table;
  readonly chain: 'POSTROUTING' | 'FORWARD';
  readonly spec: readonly string[];
}

/** One of weft's chains with its complete, ordered contents. */
export interface OwnedChain {
  readonly table: Table;
  readonly name: string;
  readonly rules: readonly (readonly string[])[];
}

export interface RuleSet {
  readonly family: Family;
  readonly chains: readonly OwnedChain[];
  readonly hooks: readonly Hook[];
}

/** The switches, the same for both families. */
export interface MasqSwitches {
  /** The nat/WEFT-POSTRTG masquerade chain (default true; false without --ip-masq). */
  readonly masquerade?: boolean;
  /** MASQUERADE --random-fully (default true; Flannel's --ip-masq-fully-random-disable turns it off). */
  readonly randomFully?: boolean;
  /** Also accept forwarding to and from the network in filter/WEFT-FWD (default true, Flannel's --iptables-forward-rules). */
  readonly forwardRules?: boolean;
}

export interface MasqRuleOptions extends MasqSwitches {
  /** The cluster network (Flannel's Network), e.g. 10.244.0.0/16. */
  readonly network: string;
  /** This node's leased subnet, e.g. 10.244.1.0/24 (an address inside it, 10.244.1.1/24, is accepted). */
  readonly subnet: string;
}

/** `a.b.c.d/n` with host bits cleared; throws WEFT_ERR_CONFIG naming `what` when it is not an IPv4 CIDR. */
function normalizeCidr(cidr: string, what: string): string {
  const parsed = parseCidr(cidr);
  if (parsed === null) throw new WeftError('WEFT_ERR_CONFIG', `ip-masq: ${what} "${cidr}" is not a CIDR such as 10.244.0.0/16`);
  return formatCidr(subnetOf(parsed));
}

/** The IPv6 counterpart, in the form ip6tables-save prints (RFC 5952), so drift compares equal. */
function normalizeCidr6(cidr: string, what: string): string {
  const parsed = parseCidr6(cidr);
  if (parsed === null || isIpv4Mapped(parsed.ip)) throw new WeftError('WEFT_ERR_CONFIG', `ip-masq: IPv6 ${what} "${cidr}" is not an IPv6 CIDR such as fd00:10:244::/56`);
  return formatCidr6(subnetOf6(parsed));
}

/** The iptables rules for an IPv4 network and subnet. */
export function masqRules(opts: MasqRuleOptions): RuleSet {
  return buildRules(4, normalizeCidr(opts.network, 'network'), normalizeCidr(opts.subnet, 'subnet'), opts);
}

/** The ip6tables rules for Flannel's IPv6Network and this node's IPv6 subnet (fd00:10:244:1::/64, or ::1/64 inside it). */
export function masqRules6(opts: MasqRuleOptions): RuleSet {
  return buildRules(6, normalizeCidr6(opts.network, 'network'), normalizeCidr6(opts.subnet, 'subnet'), opts);
}

function buildRules(family: Family, network: string, subnet: string, opts: MasqSwitches): RuleSet {
  const masq = opts.randomFully === false ? ['-j', 'MASQUERADE'] : ['-j', 'MASQUERADE', '--random-fully'];
  const chains: OwnedChain[] = [];
  const hooks: Hook[] = [];
  if (opts.masquerade !== false) {
    chains.push({
      table: 'nat',
      name: MASQ_CHAIN,
      rules: [
        ['-m', 'mark', '--mark', KUBE_PROXY_MARK, ...MASQ_COMMENT, '-j', 'RETURN'],
        ['-s', subnet, '-d', network, ...MASQ_COMMENT, '-j', 'RETURN'],
        ['-s', network, '-d', subnet, ...MASQ_COMMENT, '-j', 'RETURN'],
        ['!', '-s', network, '-d', subnet, ...MASQ_COMMENT, '-j', 'RETURN'],
        ['-s', network, '!', '-d', MULTICAST[family], ...MASQ_COMMENT, ...masq],
        ['!', '-s', network, '-d', network, ...MASQ_COMMENT, ...masq],
      ],
    });
    hooks.push({ table: 'nat', chain: 'POSTROUTING', spec: [...MASQ_COMMENT, '-j', MASQ_CHAIN] });
  }
  if (opts.forwardRules !== false) {
    chains.push({
      table: 'filter',
      name: FORWARD_CHAIN,
      rules: [
        ['-s', network, ...FORWARD_COMMENT, '-j', 'ACCEPT'],
        ['-d', network, ...FORWARD_COMMENT, '-j', 'ACCEPT'],
      ],
    });
    hooks.push({ table: 'filter', chain: 'FORWARD', spec: [...FORWARD_COMMENT, '-j', FORWARD_CHAIN] });
  }
  return { family, chains, hooks };
}

/** Every chain and hook weft may have installed in `family`, whatever the options were: what removal undoes. */
export function allOwned(family: Family = 4): RuleSet {
  return family === 4 ? masqRules({ network: '10.244.0.0/16', subnet: '10.244.0.0/24' }) : masqRules6({ network: 'fd00::/56', subnet: 'fd00::/64' });
}

/**
 * Input for `iptables-restore --noflush`: declaring a chain empties it and the rules that follow
 * refill it, in one commit per table, so packets never see a half-built chain and a second
 * install leaves exactly one copy of each rule.
 */
export function restoreInput(chains: readonly OwnedChain[]): string {
  const lines: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const own = chains.filter((c) => c.table === table);
    if (own.length === 0) continue;
    lines.push(`*${table}`);
    for (const c of own) lines.push(`:${c.name} - [0:0]`);
    for (const c of own) for (const r of c.rules) lines.push(['-A', c.name, ...r.map(quote)].join(' '));
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

function quote(arg: string): string {
  return /^[\w./:!-]+$/.test(arg) ? arg : `"${arg.replace(/["\\]/g, '\\$&')}"`;
}
