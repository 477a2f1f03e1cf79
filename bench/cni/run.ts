// Time of one weft-cni invocation as a runtime sees it (fork/exec to exit), inside a throwaway
// node namespace with one pod namespace: VERSION alone (start-up floor), ADD, DEL, ADD+DEL, for
// each form of the plugin: `node bin/weft-cni.js` (ES modules from dist/, what earlier releases
// installed) and the single executable deploy/stage-cni.sh builds, with and without V8's code
// cache; then the same ADD+DEL through Debian's bridge directly (what the delegation costs).
// Needs root and the dev dependencies. Knobs: CNI_BENCH_RUNS (default 30). Prints a table of
// median / p90 / min in ms.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
const PLUGIN = join(ROOT, 'bin/weft-cni.js');
const STAGE = join(ROOT, 'deploy/stage-cni.sh');
const RUNS = Number(process.env.CNI_BENCH_RUNS ?? 30);
const NODE_NS = `weftbench${process.pid}-node`;
const POD_NS = `weftbench${process.pid}-pod`;

interface Row {
  name: string;
  samples: number[];
}

function invoke(cmd: string[], env: Record<string, string>, stdin: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', NODE_NS, ...cmd], { input: stdin, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} ${env.CNI_COMMAND ?? ''} failed: ${r.stdout}${r.stderr}`);
  return ms;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function table(rows: Row[]): string {
  const lines = [['what', 'runs', 'median ms', 'p90 ms', 'min ms']];
  for (const r of rows) {
    const s = [...r.samples].sort((a, b) => a - b);
    lines.push([r.name, String(s.length), quantile(s, 0.5).toFixed(1), quantile(s, 0.9).toFixed(1), s[0].toFixed(1)]);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

/** deploy/stage-cni.sh into `dest`, built from the node running this bench; the executable's path. */
function stageExecutable(dest: string, codeCache: boolean): string {
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, WEFT_CNI_CODE_CACHE: String(codeCache) };
  execFileSync('sh', [STAGE, dest], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(dest, 'weft-cni');
}

function main(): void {
  if (process.getuid?.() !== 0) throw new Error('bench:cni needs root (it creates network namespaces)');
  const dir = mkdtempSync(join(tmpdir(), 'weft-cni-bench-'));
  const subnetFile = join(dir, 'subnet.env');
  writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const conf = JSON.stringify({ cniVersion: '1.1.0', name: 'weft', type: 'weft', subnetFile, dataDir: join(dir, 'data'), readyzURL: '' });
  const bridgeConf = JSON.stringify({
    cniVersion: '1.0.0', name: 'direct', type: 'bridge', bridge: 'cni1', isGateway: true, hairpinMode: true, ipMasq: false, mtu: 1450,
    ipam: { type: 'host-local', dataDir: join(dir, 'direct'), ranges: [[{ subnet: '10.244.1.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.1.1' }] },
  });
  const base = { CNI_PATH: '/usr/lib/cni', CNI_CONTAINERID: 'bench', CNI_IFNAME: 'eth0', CNI_NETNS: `/run/netns/${POD_NS}` };
  execFileSync('ip', ['netns', 'add', NODE_NS]);
  execFileSync('ip', ['netns', 'add', POD_NS]);
  try {
    const node = process.execPath;
    const forms: [string, string[]][] = [
      ['node weft-cni.js', [node, PLUGIN]],
      ['executable', [stageExecutable(join(dir, 'sea'), true)]],
      ['executable, no code cache', [stageExecutable(join(dir, 'sea-nocache'), false)]],
    ];
    const rows: Row[] = [
      { name: 'ip netns exec true (harness floor)', samples: [] },
      { name: 'node -e 0 (bare Node start-up)', samples: [] },
      ...forms.flatMap(([form]) => ['VERSION (plugin start-up)', 'ADD', 'DEL', 'ADD+DEL'].map((what) => ({ name: `${form}: ${what}`, samples: [] }))),
      { name: 'bridge ADD+DEL directly (delegate alone)', samples: [] },
    ];
    // One warm-up round so the page cache holds node, the plugin and the Go binaries.
    for (let i = -1; i < RUNS; i++) {
      const s = [invoke(['true'], {}, ''), invoke([node, '-e', '0'], {}, '')];
      for (const [, cmd] of forms) {
        s.push(invoke(cmd, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}'));
        const add = invoke(cmd, { ...base, CNI_COMMAND: 'ADD' }, conf);
        const del = invoke(cmd, { ...base, CNI_COMMAND: 'DEL' }, conf);
        s.push(add, del, add + del);
      }
      const bridge = invoke(['/usr/lib/cni/bridge'], { ...base, CNI_CONTAINERID: 'direct', CNI_COMMAND: 'ADD' }, bridgeConf)
        + invoke(['/usr/lib/cni/bridge'], { ...base, CNI_CONTAINERID: 'direct', CNI_COMMAND: 'DEL' }, bridgeConf);
      if (i < 0) continue;
      [...s, bridge].forEach((v, k) => rows[k].samples.push(v));
    }
    console.log(`weft-cni timings, ${RUNS} runs each (node ${process.version}, each run via ip netns exec)\n`);
    console.log(table(rows));
  } finally {
    spawnSync('ip', ['netns', 'del', POD_NS]);
    spawnSync('ip', ['netns', 'del', NODE_NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
