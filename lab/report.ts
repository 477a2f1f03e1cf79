// Human-readable output of `lab up` and `lab status`.
import { ETCD_ENDPOINT } from './etcd.js';
import type { LabStatus } from './lab.js';
import type { LabState } from './state.js';

export function formatUp(s: LabState): string {
  const lines: string[] = [];
  lines.push(`lab ${s.prefix} is up (state: ${s.stateDir}/state.json)`);
  lines.push('');
  lines.push(`underlay  bridge br0 in namespace ${s.switchNs}, 198.18.0.0/15, MTU 1500`);
  lines.push(`etcd      ${ETCD_ENDPOINT} in namespace ${s.etcdNs}, data ${s.stateDir}/etcd, log ${s.stateDir}/etcd.log`);
  lines.push(`network   ${s.etcdPrefix}/config = ${JSON.stringify({ Network: s.network, Backend: { Type: 'vxlan' } })}`);
  lines.push('');
  lines.push(table(['node', 'kind', 'namespace', 'underlay', 'subnet', 'mtu', 'vtep mac', 'subnet.env'], s.nodes.map((n) => [n.name, n.kind, n.ns, n.underlayIp, n.subnet ?? '-', String(n.mtu ?? '-'), n.vtepMac ?? '-', n.subnetFile])));
  if (s.pods.length > 0) {
    lines.push('');
    lines.push(table(['pod', 'node', 'namespace', 'ip'], s.pods.map((p) => [p.name, p.node, p.ns, p.ip])));
  }
  lines.push('');
  lines.push('try:');
  const [p1, p2] = s.pods.filter((p, i, all) => all.findIndex((q) => q.node === p.node) === i);
  if (p1 && p2) lines.push(`  ip netns exec ${p1.ns} ping -c 3 ${p2.ip}`);
  if (s.nodes[0]) lines.push(`  ip netns exec ${s.nodes[0].ns} bash            # a shell on ${s.nodes[0].name}`);
  for (const n of s.nodes.filter((x) => x.kind === 'weft').slice(0, 1)) {
    lines.push(`  ip netns exec ${n.ns} curl -s 127.0.0.1:8471/status   # weftd on ${n.name}; log ${n.dir}/weftd.log`);
  }
  lines.push(`  ip netns exec ${s.etcdNs} etcdctl --endpoints ${ETCD_ENDPOINT} get --prefix ${s.etcdPrefix}/subnets`);
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
        n.underlayIp,
        n.subnet ?? '-',
        n.kind === 'weft' ? (n.running ? 'weftd running' : 'weftd NOT running') : 'kernel (lab as flanneld)',
        n.peers === undefined ? '?' : n.peers.join(' ') || '(none)',
      ]),
    ),
  );
  lines.push('');
  lines.push('leases in etcd:');
  lines.push(table(['subnet', 'public ip', 'backend', 'vtep mac'], st.leases.map((l) => [l.subnet, l.publicIp, l.backendType, l.vtepMac ?? '-'])));
  if (st.pods.length > 0) {
    lines.push('');
    lines.push(table(['pod', 'node', 'ip', 'namespace'], st.pods.map((p) => [p.name, p.node, p.ip, p.ns])));
  }
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
