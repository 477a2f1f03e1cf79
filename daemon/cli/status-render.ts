// `weftd status` as text: this node, then one table row per peer, then drop totals. Pure: the
// caller passes the document and the current time, so output is deterministic.
import type { PeerStatus, WeftStatus } from '../observability/status-types.js';

export function renderStatus(s: WeftStatus, now: Date): string {
  const n = s.node;
  const lines: string[] = [];
  lines.push(`node ${n.name}: ${n.ready ? 'ready' : `NOT READY (waiting for ${n.notReady.join(', ') || 'start-up'})`}`);
  const field = (k: string, v: string): void => void lines.push(`  ${k.padEnd(10)}  ${v}`);
  field('subnet', n.subnet === null ? '- (no lease yet)' : n.network === null ? n.subnet : `${n.subnet} in ${n.network}`);
  if (n.network6 !== undefined && n.network6 !== n.network) field('subnet6', n.subnet6 ? `${n.subnet6} in ${n.network6}` : '- (no lease yet)');
  field('public IP', n.publicIP);
  if (n.publicIPv6 !== undefined) field('public v6', n.publicIPv6 ?? '-');
  field('VtepMAC', n.vtepMAC);
  field('lease', n.leaseExpiry === null ? '-' : `expires ${isoSeconds(n.leaseExpiry)} (${relative(n.leaseExpiry, now)})`);
  field('MTU', n.mtu === null ? '-' : String(n.mtu));
  field('ip-masq', n.ipMasq ? 'on' : 'off');
  field('etcd', n.etcdUp ? 'up' : 'DOWN');
  lines.push('');
  lines.push(`peers: ${s.peers.length}`);
  if (s.peers.length > 0) {
    const header = ['NODE', 'PUBLIC IP', 'SUBNET', 'STATE', 'LAST SEEN', 'PKTS IN', 'PKTS OUT', 'DROPS'];
    const rows = s.peers.map((p) => peerRow(p, now));
    lines.push(...table(header, rows, new Set([5, 6, 7])));
  }
  const drops = Object.entries(s.drops).filter(([, v]) => v > 0);
  lines.push('');
  lines.push(`drops: ${drops.length === 0 ? 'none' : drops.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function peerRow(p: PeerStatus, now: Date): string[] {
  return [
    p.name ?? '-',
    p.publicIP,
    p.subnet,
    p.state,
    p.lastSeen === null ? '-' : relative(p.lastSeen, now),
    String(p.packetsIn),
    String(p.packetsOut),
    String(p.drops),
  ];
}

/** Columns padded to their widest cell, two spaces apart; `right` holds right-aligned column indexes. */
function table(header: string[], rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function isoSeconds(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19)}Z`;
}

/** "5s ago", "in 23h59m", "now". */
function relative(iso: string, now: Date): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const ms = t - now.getTime();
  const span = duration(Math.abs(ms));
  if (span === '0s') return 'now';
  return ms < 0 ? `${span} ago` : `in ${span}`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
