// Seed addresses ("host:port") from --peers and from the lease registry.
import { WeftError } from '../../errors.js';
import { parseIpv4 } from '../../net/ipv4.js';
import { isIpv6 } from '../../net/ipv6.js';
import { memberAddress } from './types.js';

export const DEFAULT_GOSSIP_PORT = 8473;

/**
 * Parses a --peers value: comma-separated "host:port", "host" (default port), "[v6]:port".
 * Hosts may be IPs or names. Throws WEFT_ERR_CONFIG naming the bad entry.
 */
export function parsePeers(value: string | readonly string[], defaultPort = DEFAULT_GOSSIP_PORT): string[] {
  const items = (typeof value === 'string' ? value.split(',') : value).map((s) => s.trim()).filter(Boolean);
  return [...new Set(items.map((item) => parsePeer(item, defaultPort)))];
}

function parsePeer(item: string, defaultPort: number): string {
  const bad = (why: string): never => {
    throw new WeftError('WEFT_ERR_CONFIG', `--peers: "${item}" ${why}; expected host:port, e.g. 198.18.0.2:${DEFAULT_GOSSIP_PORT}`);
  };
  let host: string;
  let port = String(defaultPort);
  const v6 = item.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (v6) {
    host = v6[1];
    port = v6[2] ?? port;
    if (!isIpv6(host)) bad('is not a valid IPv6 address');
  } else if (isIpv6(item) && item.includes('::')) {
    host = item;
  } else {
    const m = item.match(/^([^:]+)(?::(\d+))?$/);
    if (!m) return bad('is not host:port');
    host = m[1];
    port = m[2] ?? port;
    if (!/^[A-Za-z0-9.-]+$/.test(host)) bad('has an invalid host');
    // A numeric last label makes it an address, not a DNS name: then daemon/net's rules apply.
    if (/(^|\.)[0-9]+$/.test(host) && parseIpv4(host) === null) bad('is not a valid IPv4 address');
  }
  const p = Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65_535) bad('has an invalid port');
  return memberAddress({ publicIp: host, gossipPort: p });
}

/**
 * Gossip endpoints of leased peers that advertise one (weft nodes); Flannel nodes have none. A weft
 * node gossips on its PublicIP, or on its PublicIPv6 when PublicIP is 0.0.0.0 (an IPv6-only lease).
 */
export function seedsFromLeases(leases: readonly { publicIp: string; gossipPort?: number | undefined; v6?: { readonly publicIp: string } | undefined }[], selfAddress?: string): string[] {
  const out = new Set<string>();
  for (const l of leases) {
    const ip4 = parseIpv4(l.publicIp);
    const host = ip4 !== null && ip4 !== 0 ? l.publicIp : ip4 === 0 && l.v6 && isIpv6(l.v6.publicIp) ? l.v6.publicIp : undefined;
    if (!l.gossipPort || host === undefined) continue;
    const a = memberAddress({ publicIp: host, gossipPort: l.gossipPort });
    if (a !== selfAddress) out.add(a);
  }
  return [...out];
}
