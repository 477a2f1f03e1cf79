// Human-readable output of `lab up` and `lab status`.
import { networkConfig, type LabStatus } from './lab.js';
import type { Lease } from './flannel-format.js';
import { familiesOf, type LabState, type NodeRecord, type PodRecord } from './state.js';

/** A value and its IPv6 counterpart (dual-stack; IPv6-only: that alone), in one cell. */
const both = (v4: string | undefined, v6: string | undefined): string => [...new Set([v4, v6].filter((v) => v !== undefined))].join(' ') || '-';
const underlayOf = (n: NodeRecord): string => both(n.underlayIp, n.underlayIp6);
const subnetsOf = (n: NodeRecord): string => both(n.subnet, n.subnet6);
const ipsOf = (p: PodRecord): string => both(p.ip, p.ip6);

/** The underlay's prefixes in a lab of `s`'s families. */
function underlayNets(s: LabState): string {
  const f = familiesOf(s);
  return [...(f.ipv4 ? ['198.18.0.0/15'] : []), ...(f.ipv6 ? ['fd00:198:18::/64'] : [])].join(' and ');
}

export function formatUp(s: LabState): string {
  const lines: string[] = [];
  lines.push(`lab ${s.prefix} is up (state: ${s.stateDir}/state.json)`);
  lines.push('');
  lines.push(`underlay  bridge br0 in namespace ${s.switchNs}, ${underlayNets(s)}, MTU 1500`);
  lines.push(`etcd      ${s.etcdEndpoint} in namespace ${s.etcdNs}, data ${s.stateDir}/etcd, log ${s.stateDir}/etcd.log`);
  lines.push(`network   ${s.etcdPrefix}/config = ${JSON.stringify(networkConfig(s))}`);
  lines.push('');
  lines.push(table(['node', 'kind', 'namespace', 'underlay', 'subnet', 'mtu', 'vtep mac', 'subnet.env'], s.nodes.map((n) => [n.name, n.kind, n.ns, underlayOf(n), subnetsOf(n), String(n.mtu ?? '-'), both(n.vtepMac, n.vtepMac6), n.subnetFile])));
  if (s.pods.length > 0) {
    lines.push('');
    lines.push(table(['pod', 'node', 'namespace', 'ip'], s.pods.map((p) => [p.name, p.node, p.ns, ipsOf(p)])));
  }
  lines.push('');
  lines.push('try:');
  const [p1, p2] = s.pods.filter((p, i, all) => all.findIndex((q) => q.node === p.node) === i);
  if (p1 && p2) lines.push(`  ip netns exec ${p1.ns} ping -c 3 ${p2.ip}`);
  if (p1 && p2?.ip6 !== undefined && p2.ip6 !== p2.ip) lines.push(`  ip netns exec ${p1.ns} ping -c 3 ${p2.ip6}`);
  if (s.nodes[0]) lines.push(`  ip netns exec ${s.nodes[0].ns} bash            # a shell on ${s.nodes[0].name}`);
  for (const n of s.nodes.filter((x) => x.kind === 'weft').slice(0, 1)) {
    lines.push(`  ip netns exec ${n.ns} curl -s 127.0.0.1:8471/status   # weftd on ${n.name}; log ${n.dir}/weftd.log`);
  }
  lines.push(`  ip netns exec ${s.etcdNs} etcdctl --endpoints ${s.etcdEndpoint} get --prefix ${s.etcdPrefix}/subnets`);
  lines.push(`  npm run lab -- status --prefix ${s.prefix}`);
  lines.push(`  npm run lab -- down --prefix ${s.prefix}`);
  return lines.join('\n');
}

export function formatStatus(st: LabStatus): string {
  const lines: string[] = [];
  lines.push(`lab ${st.prefix} (${st.stateDir}); etcd ${st.etcd.endpoint} in ${st.etcd.ns}: ${st.etcd.healthy ? 'healthy' : 'UNREACHABLE'}`);
  lines.push('');
  lines.push(
    table(
      ['node', 'kind', 'underlay', 'subnet', 'daemon', 'routes to'],
      st.nodes.map((n) => [
        n.name,
        n.kind,
        underlayOf(n),
        subnetsOf(n),
        n.kind === 'weft' ? (n.running ? 'weftd running' : 'weftd NOT running') : 'kernel (lab as flanneld)',
        n.peers === undefined ? '?' : n.peers.join(' ') || '(none)',
      ]),
    ),
  );
  lines.push('');
  lines.push('leases in etcd:');
  const v4 = st.leases.some((l) => l.subnet !== undefined);
  const v6 = st.leases.some((l) => l.subnet6 !== undefined);
  const v4Cells = (l: Lease): string[] => (v4 ? [l.subnet ?? '-', l.publicIp, l.backendType, l.vtepMac ?? '-'] : [l.backendType]);
  const v6Cells = (l: Lease): string[] => (v6 ? [l.subnet6 ?? '-', l.publicIpv6 ?? '-', l.vtepMac6 ?? '-'] : []);
  lines.push(
    table(
      [...(v4 ? ['subnet', 'public ip', 'backend', 'vtep mac'] : ['backend']), ...(v6 ? ['ipv6 subnet', 'public ipv6', 'v6 vtep mac'] : [])],
      st.leases.map((l) => [...v4Cells(l), ...v6Cells(l)]),
    ),
  );
  if (st.pods.length > 0) {
    lines.push('');
    lines.push(table(['pod', 'node', 'ip', 'namespace'], st.pods.map((p) => [p.name, p.node, ipsOf(p), p.ns])));
  }
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
