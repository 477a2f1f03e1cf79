// The Dockerfile against the repository: its build stage runs the CI build recipe (so the image
// cannot drift from CI), every path its runtime stage copies exists after that build, the copied
// daemon needs nothing that is not copied or pruned away, and deploy/install-cni.sh installs a
// working plugin into (temporary) host directories, atomically and idempotently.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions per stage (continuation lines joined, comments dropped). */
function stages(text: string): { from: string; instructions: Instruction[] }[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: { from: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') out.push({ from: args, instructions: [] });
    else out.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return out;
}

const [build, runtime] = stages(read('Dockerfile'));
/** The one supported Node (.ci/install-node installs it; the images must name it). */
const NODE_VERSION = read('.nvmrc').trim();
const runs = (s: typeof build): string[] => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
/** [source in the build stage, destination] of every `COPY --from=build`. */
const copies = runtime.instructions
  .filter((i) => i.op === 'COPY')
  .map((i) => {
    const parts = i.args.split(/\s+/);
    expect(parts[0]).toBe('--from=build');
    expect(parts).toHaveLength(3);
    return [parts[1], parts[2]] as const;
  });
const STAGED_CNI = '/opt/weft/cni';

const temps: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'weft-dockerfile-'));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const stagedPayload = (() => {
  let dir: string | undefined;
  return (): string => {
    if (dir === undefined) {
      dir = join(tempDir(), 'cni');
      // with the node running this test: the executable is built from the node on PATH
      execFileSync('sh', [join(root, 'deploy/stage-cni.sh'), dir], { env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } });
    }
    return dir;
  };
})();

/** Where a build-stage path is in this checkout after `bash .ci/build`. */
function localPath(buildPath: string): string {
  if (buildPath.startsWith('/src/')) return join(root, buildPath.slice('/src/'.length));
  if (buildPath.startsWith(STAGED_CNI)) return join(stagedPayload(), buildPath.slice(STAGED_CNI.length));
  throw new Error(`runtime stage copies ${buildPath}, which this test does not know how to find`);
}

describe('Dockerfile build stage', () => {
  it('builds on node:<.nvmrc>-bookworm and runs the CI build recipe, not its own', () => {
    expect(build.from).toBe(`node:${NODE_VERSION}-bookworm AS build`);
    expect(build.instructions.filter((i) => i.op === 'COPY').map((i) => i.args)).toEqual(['. .']);
    const r = runs(build);
    expect(r.filter((cmd) => cmd === 'bash .ci/build')).toHaveLength(1);
    for (const cmd of r) expect(cmd).not.toMatch(/npm (ci|install|run build)|\btsc\b|node-gyp/);
    // the CNI payload is staged with the dev dependencies (esbuild, postject), then they are pruned
    const stage = r.find((cmd) => cmd.startsWith(`bash deploy/stage-cni.sh ${STAGED_CNI} && npm prune --omit=dev`));
    expect(r.indexOf(stage!)).toBeGreaterThan(r.indexOf('bash .ci/build'));
  });

  it('is the recipe CI runs: .ci/run → .ci/install → .ci/build → npm ci + npm run build', () => {
    expect(read('.ci/run')).toMatch(/^bash \.ci\/install$/m);
    const install = read('.ci/install');
    expect(install).toMatch(/^bash \.ci\/build$/m);
    expect(install).not.toMatch(/npm (ci|run build)/);
    const ciBuild = read('.ci/build');
    expect(ciBuild).toMatch(/^npm ci\b/m);
    expect(ciBuild).toMatch(/^npm run build$/m);
    expect(ciBuild).toMatch(/^source \.ci\/node-env$/m);
    expect(read('.ci/node-env')).toMatch(/export npm_config_nodedir=/);
    // npm test (which builds again and spawns node) runs on the node .ci/install installed
    const ciRun = read('.ci/run');
    expect(ciRun.indexOf('\nsource .ci/node-env\n')).toBeGreaterThan(ciRun.indexOf('\nbash .ci/install\n'));
    expect(ciRun.indexOf('\nsource .ci/node-env\n')).toBeLessThan(ciRun.indexOf('\nnpm test'));
  });

  it('installs, types and admits the Node the images name', () => {
    expect(NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(read('.ci/install')).toMatch(/^bash \.ci\/install-node\nbash \.ci\/build$/m);
    expect(read('.ci/install-node')).toMatch(new RegExp(`^  ${NODE_VERSION.replaceAll('.', '\\.')}\\) node_sha512=[0-9a-f]{128} ;;$`, 'm'));
    const pkg = JSON.parse(read('package.json'));
    const [major, minor] = NODE_VERSION.split('.').map(Number);
    const min = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(min).not.toBeNull();
    expect(Number(min![1]) < major || (Number(min![1]) === major && Number(min![2]) <= minor)).toBe(true);
    expect(pkg.devDependencies['@types/node'].split('.')[0]).toBe(String(major));
  });

  it('keeps what the build produces out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['.git', 'node_modules', 'dist', 'build']) expect(ignored).toContain(p);
  });
});

describe('Dockerfile runtime stage', () => {
  it('is node:<.nvmrc>-bookworm-slim with iproute2 and iptables, entry point weftd', () => {
    expect(runtime.from).toBe(`node:${NODE_VERSION}-bookworm-slim`);
    expect(runs(runtime).join(' ')).toMatch(/apt-get install -y --no-install-recommends iproute2 iptables/);
    expect(runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').map((i) => i.args)).toEqual(['["weftd"]']);
    expect(runs(runtime).find((r) => r.includes('/usr/local/bin/weftd'))).toBe('ln -s /opt/weft/bin/weftd.js /usr/local/bin/weftd');
    expect(copies).toContainEqual(['/src/bin/', '/opt/weft/bin/']);
    expect(read('bin/weftd.js')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('copies paths that exist after the build', () => {
    const missing = copies.map(([src]) => src).filter((src) => !existsSync(localPath(src)));
    expect(missing).toEqual([]);
    const sources = copies.map(([src]) => src);
    for (const p of ['/src/package.json', '/src/dist/daemon/', '/src/node_modules/', '/src/proto/gossip.proto', STAGED_CNI + '/']) {
      expect(sources).toContain(p);
    }
    expect(existsSync(join(root, 'dist/daemon/main.js'))).toBe(true);
    if (existsSync(join(root, 'binding.gyp'))) {
      const addon = sources.filter((s) => s.startsWith('/src/build/Release/'));
      expect(addon.length).toBeGreaterThan(0);
      for (const a of addon) expect(statSync(localPath(a)).isFile()).toBe(true);
    }
  });

  it('gives the daemon every module it imports: relative ones copied, packages in production dependencies', () => {
    const copiedDist = copies.map(([src]) => src).filter((s) => s.startsWith('/src/dist/')).map((s) => localPath(s));
    const deps = Object.keys(JSON.parse(read('package.json')).dependencies as Record<string, string>);
    const problems: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2];
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!copiedDist.some((d) => target.startsWith(d))) problems.push(`${relative(root, file)} imports ${spec}, not copied`);
          else if (!existsSync(target)) problems.push(`${relative(root, file)} imports ${spec}, missing`);
          else visit(target);
        } else {
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (!deps.includes(pkg)) problems.push(`${relative(root, file)} imports ${spec}, not a production dependency`);
        }
      }
    };
    visit(join(root, 'dist/daemon/main.js'));
    expect(seen.size).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});

describe('CNI payload and deploy/install-cni.sh', () => {
  const install = (payload: string, bin: string, conf: string, what: string[] = [], extra: Record<string, string> = {}): string =>
    execFileSync('sh', [join(root, 'deploy/install-cni.sh'), ...what], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], // a failure's stderr ends up in the thrown error's message
      env: { PATH: process.env.PATH, WEFT_CNI_PAYLOAD: payload, CNI_BIN_DIR: bin, CNI_CONF_DIR: conf, ...extra },
    });
  const entries = (dir: string): string[] => readdirSync(dir).sort();
  // Buffer.equals: the executable is ~120 MB, too big for expect's element-wise diff
  const sameBytes = (a: string, b: string): boolean => readFileSync(a).equals(readFileSync(b));

  it('stages one executable and the conflist; installs it as the one file the runtime runs for "type": "weft"', () => {
    const payload = stagedPayload();
    expect(entries(payload)).toEqual(['10-weft.conflist', 'weft-cni']);
    expect(statSync(join(payload, 'weft-cni')).mode & 0o111).toBe(0o111);
    const t = tempDir();
    const out = install(payload, join(t, 'bin'), join(t, 'net.d'));
    expect(out).toMatch(/installed .*\/bin\/weft \(sha256 [0-9a-f]{12}\)/);
    expect(entries(join(t, 'bin'))).toEqual(['weft']);
    expect(sameBytes(join(t, 'bin/weft'), join(payload, 'weft-cni'))).toBe(true);
    const conflist = JSON.parse(readFileSync(join(t, 'net.d/10-weft.conflist'), 'utf8'));
    expect(conflist).toEqual(JSON.parse(read('deploy/10-weft.conflist')));
    expect(conflist.plugins[0].type).toBe('weft'); // the runtime executes CNI_BIN_DIR/<type>
    // The runtime runs the plugin with a minimal environment (no node on PATH), maybe its own NODE_OPTIONS.
    const version = execFileSync(join(t, 'bin/weft'), [], { encoding: 'utf8', env: { CNI_COMMAND: 'VERSION', NODE_OPTIONS: '--bogus --require=/nonexistent' }, input: '' });
    expect(JSON.parse(version).supportedVersions).toContain('1.0.0');
  });

  it('repeats without rewriting, replaces a changed plugin atomically, and removes earlier releases\' payload folders', () => {
    const t = tempDir();
    const payload = join(t, 'payload');
    execFileSync('cp', ['-R', stagedPayload(), payload]);
    // what an earlier release left: a wrapper and its node + .js folder
    mkdirSync(join(t, 'bin/weft-cni-0123456789ab/cni-shim'), { recursive: true });
    writeFileSync(join(t, 'bin/weft'), '#!/bin/sh\nexec "$(dirname -- "$0")/weft-cni-0123456789ab/node" "$@"\n', { mode: 0o755 });
    install(payload, join(t, 'bin'), join(t, 'net.d'), ['plugin']);
    expect(entries(join(t, 'bin'))).toEqual(['weft']);
    const first = statSync(join(t, 'bin/weft'));
    expect(execFileSync(join(t, 'bin/weft'), [], { encoding: 'utf8', env: { CNI_COMMAND: 'VERSION' }, input: '' })).toMatch(/supportedVersions/);
    install(payload, join(t, 'bin'), join(t, 'net.d'), ['plugin']);
    expect(statSync(join(t, 'bin/weft')).ino).toBe(first.ino); // unchanged: not rewritten
    expect(existsSync(join(t, 'net.d'))).toBe(false); // plugin only
    appendFileSync(join(payload, 'weft-cni'), 'a new version');
    install(payload, join(t, 'bin'), join(t, 'net.d'), ['plugin']);
    expect(statSync(join(t, 'bin/weft')).ino).not.toBe(first.ino); // renamed into place, not written over
    expect(sameBytes(join(t, 'bin/weft'), join(payload, 'weft-cni'))).toBe(true);
    expect(entries(join(t, 'bin'))).toEqual(['weft']);
  });

  it('installs a conflist given by CONFLIST (the ConfigMap) under CNI_CONF_NAME, replacing the old one', () => {
    const t = tempDir();
    const src = join(t, 'cni-conf.json');
    writeFileSync(src, '{"cniVersion":"1.0.0","name":"weft","plugins":[{"type":"weft"}]}\n');
    install(stagedPayload(), join(t, 'bin'), join(t, 'net.d'), ['conf'], { CONFLIST: src });
    install(stagedPayload(), join(t, 'bin'), join(t, 'net.d'), ['conf'], { CONFLIST: src });
    expect(entries(join(t, 'net.d'))).toEqual(['10-weft.conflist']);
    expect(readFileSync(join(t, 'net.d/10-weft.conflist'), 'utf8')).toBe(readFileSync(src, 'utf8'));
    expect(existsSync(join(t, 'bin'))).toBe(false); // conf only
  });

  it('fails with a message when the payload or the conflist is missing', () => {
    const t = tempDir();
    expect(() => install(join(t, 'nothing'), join(t, 'bin'), join(t, 'net.d'), ['plugin'])).toThrow(/no CNI payload in/);
    expect(() => install(join(t, 'nothing'), join(t, 'bin'), join(t, 'net.d'), ['conf'])).toThrow(/CNI config .* is missing or empty/);
    expect(() => install(join(t, 'nothing'), join(t, 'bin'), join(t, 'net.d'), ['everything'])).toThrow(/unknown argument/);
  });
});
