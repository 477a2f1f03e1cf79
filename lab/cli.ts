// `npm run lab -- <command>`:
//   up [N] [--kind kernel|weft|mixed] [--dual-stack | --ipv6-only] [--pods K] [--cni bridge|weft-cni] [--prefix P] [--state-dir D]
//   status [--json]   sync   down        (each with the same --prefix / --state-dir)
import { parseArgs } from 'node:util';
import { destroyNetns } from './netns.js';
import { Lab, labNamespaces } from './lab.js';
import { bridgeHostLocal, DEFAULT_POD_NETWORK, weftCni, type PodNetwork } from './pods.js';
import { formatStatus, formatUp } from './report.js';
import { defaultStateDir, type NodeKind } from './state.js';
import { rmSync } from 'node:fs';

const USAGE = `usage: npm run lab -- <command> [options]

  up [N]        create a lab of N nodes (default 2) with pods, and print where everything is
                  --kind kernel|weft|mixed   node data plane (default kernel; mixed = weft, kernel, weft, …)
                  --dual-stack               IPv6 too: fd00:198:18::/64 underlay, EnableIPv6 fd00:10:244::/56,
                                             dual-stack leases, flannel-v6.1 on kernel nodes, pods of both families
                  --ipv6-only                IPv6 alone (EnableIPv4 false): fd00:198:18::/64 underlay, IPv6-only
                                             leases, flannel-v6.1 alone on kernel nodes, IPv6 pods
                  --pods K                   pods per node (default 1)
                  --cni weft-cni|bridge      pod wiring: bin/weft-cni.js (default), or /usr/lib/cni bridge + host-local directly
                  --weftd-args="..."         extra flags for every weftd (with "=", as they start with a dash)
  status        nodes, subnets, leases and peers        (--json for machine-readable output)
  sync          re-read leases from etcd and reconcile the kernel nodes' peers
  down          stop every lab process, delete every lab namespace and the state dir

  common: --prefix P (namespace prefix, default wl-), --state-dir D (default /run/weft-lab/<prefix>)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kind: { type: 'string', default: 'kernel' },
      pods: { type: 'string', default: '1' },
      'dual-stack': { type: 'boolean', default: false },
      'ipv6-only': { type: 'boolean', default: false },
      cni: { type: 'string' },
      'weftd-args': { type: 'string', default: '' },
      prefix: { type: 'string', default: 'wl-' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, countText] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const prefix = values.prefix;
  const stateDir = values['state-dir'] ?? defaultStateDir(prefix);
  const log = (line: string): void => console.error(`lab: ${line}`);

  switch (command) {
    case 'up': {
      const count = Number(countText ?? '2');
      const pods = Number(values.pods);
      if (!Number.isInteger(count) || count < 1 || count > 200) return usage(`node count must be 1..200, got ${countText}`);
      if (!Number.isInteger(pods) || pods < 0 || pods > 50) return usage(`--pods must be 0..50, got ${values.pods}`);
      const kinds = nodeKinds(values.kind, count);
      if (!kinds) return usage(`--kind must be kernel, weft or mixed, got ${values.kind}`);
      if (values['dual-stack'] && values['ipv6-only']) return usage('--dual-stack and --ipv6-only exclude each other');
      const podNetwork = values.cni === undefined ? DEFAULT_POD_NETWORK : POD_NETWORKS[values.cni];
      if (!podNetwork) return usage(`--cni must be ${Object.keys(POD_NETWORKS).join(' or ')}, got ${values.cni}`);
      const weftdArgs = values['weftd-args'].split(' ').filter(Boolean);
      const lab = await Lab.create({ prefix, stateDir, log, podNetwork, weftdArgs, dualStack: values['dual-stack'], ipv6Only: values['ipv6-only'] });
      try {
        for (const kind of kinds) await lab.addNode(kind);
        await lab.syncKernelPeers();
        for (const node of lab.nodes) for (let i = 0; i < pods; i++) await lab.addPod(node.name);
      } catch (err) {
        log('up failed; removing everything it created');
        await lab.destroy();
        throw err;
      }
      console.log(formatUp(lab.state));
      return 0;
    }
    case 'status':
    case 'sync': {
      const lab = Lab.open(prefix, stateDir);
      if (!lab) {
        console.error(`no lab in ${stateDir}: start one with \`npm run lab -- up 3\``);
        return 1;
      }
      if (command === 'sync') await lab.syncKernelPeers();
      const st = await lab.status();
      console.log(values.json ? JSON.stringify(st, null, 2) : formatStatus(st));
      return 0;
    }
    case 'down': {
      const lab = Lab.open(prefix, stateDir);
      if (lab) {
        await lab.destroy();
      } else {
        // No state file: remove what carries this lab's names (every process inside them is the lab's).
        for (const ns of labNamespaces(prefix)) await destroyNetns(ns);
        rmSync(stateDir, { recursive: true, force: true });
      }
      console.log(`lab ${prefix} removed`);
      return 0;
    }
    default:
      return usage(`unknown command ${command}`);
  }
}

const POD_NETWORKS: Record<string, PodNetwork | undefined> = { bridge: bridgeHostLocal, 'weft-cni': weftCni };

function nodeKinds(kind: string, count: number): NodeKind[] | undefined {
  if (kind === 'kernel' || kind === 'weft') return Array.from({ length: count }, () => kind);
  if (kind === 'mixed') return Array.from({ length: count }, (_, i) => (i % 2 === 0 ? 'weft' : 'kernel'));
  return undefined;
}

function usage(problem: string): number {
  console.error(`${problem}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
