// The harness boundary: tests import the lab (lab/), never the other way round. No source file
// outside test/ (daemon, cni-shim, lab, bench, bin, configs…) may import anything under test/, so the
// daemon, the lab and the benchmarks build and run without the test harness.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
/** Not source: dependencies, build output and git's own files. */
const SKIP = new Set(['node_modules', 'dist', 'build', '.git', 'test']);
const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;

/** Source files of the repository outside test/ (and outside SKIP), as absolute paths. */
function sourcesOutsideTest(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name) && dir === root) return [];
    if (e.name === 'node_modules') return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourcesOutsideTest(p);
    return e.isFile() && SOURCE.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module specifiers a text imports: static, type-only, side-effect, dynamic, re-exports and require(). */
function specifiers(text: string): string[] {
  const re = /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]|require\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]);
}

/** What `file` (absolute, with content `text`) imports from under test/, as `file imports spec`. */
function testImports(file: string, text: string): string[] {
  const testDir = join(root, 'test') + sep;
  return specifiers(text)
    .filter((spec) => (spec.startsWith('.') || spec.startsWith('/') ? resolve(dirname(file), spec) + sep : join(root, spec) + sep).startsWith(testDir))
    .map((spec) => `${relative(root, file)} imports ${spec}`);
}

describe('the test harness boundary', () => {
  it('recognises every form of import into test/ (the checker itself works)', () => {
    const file = join(root, 'lab', 'x.ts');
    const text = [
      "import { a } from '../test/helpers/netns.js';",
      "import type { B } from '../test/fakes/clock.js';",
      'import {\n  c,\n  d,\n} from "../test/fixtures/gossip/cluster.js";',
      "import '../test/helpers/leak-check.js';",
      "const e = await import('../test/helpers/etcd.js');",
      "export { f } from '../test/helpers/weftd.js';",
      "export * from '../test/helpers/root.js';",
      "const g = require('../test/helpers/pcap.js');",
      "import { ok } from './netns.js';",
      "import { alsoOk } from '../daemon/net/ipv4.js';",
      "import { pkg } from 'vitest';",
      "import { testish } from '../tests-elsewhere/x.js';",
    ].join('\n');
    expect(testImports(file, text)).toHaveLength(8);
    expect(testImports(join(root, 'bench', 'e2e', 'y.ts'), "import { h } from '../../test/helpers/netns.js';")).toEqual(["bench/e2e/y.ts imports ../../test/helpers/netns.js"]);
  });

  it('finds the sources it must check', () => {
    const files = sourcesOutsideTest().map((f) => relative(root, f));
    for (const expected of ['lab/lab.ts', 'lab/netns.ts', 'bench/e2e/planes.ts', 'bench/gossip/worker.ts', 'daemon/main.ts', 'bin/weftd.js', 'vitest.config.ts']) {
      expect(files).toContain(expected);
    }
    expect(files.some((f) => f.startsWith(`test${sep}`))).toBe(false);
  });

  it('no file outside test/ imports from test/', () => {
    const bad = sourcesOutsideTest().flatMap((f) => testImports(f, readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });
});
