// `weftd --help`: every flag with its env name and default.
import { FLAGS, envName } from './flags.js';

export function helpText(version: string): string {
  const lines = [
    `weftd ${version}: userspace VXLAN overlay daemon, Flannel-compatible (etcd subnet leases, subnet.env, VXLAN wire format)`,
    '',
    'Usage: weftd [flags]    (each flag also as --flag=value, and as env WEFTD_<FLAG>; flags win over env)',
    '       weftd status [--healthz-ip IP] [--healthz-port PORT] [--json]    (this node and its peers, from a running weftd)',
    '',
  ];
  for (const f of FLAGS) {
    const value = f.kind === 'bool' ? '' : ' value';
    lines.push(`  --${f.name}${value}`);
    lines.push(`      ${f.help}`);
    lines.push(`      env ${envName(f.name)}${f.def === undefined ? '' : `, default ${f.def}`}`);
  }
  lines.push('  --help       print this help and exit', '  --version    print the version and exit', '');
  lines.push('Exit status: 0 on SIGTERM/SIGINT (the lease is kept for the next start), 2 on a bad flag or value.');
  return lines.join('\n');
}
