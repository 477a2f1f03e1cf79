// The dependency rule of design.md, checked on the source: imports go main → control → dataplane,
// with daemon/net (addresses) and daemon/errors.ts below both planes; the data plane never reaches
// the control plane, gRPC, etcd or any package; weft-cni imports nothing of the daemon but
// daemon/net's dependency-free files (it must start fast and talk to weftd only through subnet.env
// and /readyz).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const abs = join(root, dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = join(abs, e);
    if (statSync(p).isDirectory()) return sources(relative(root, p));
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Module specifiers imported (statically or dynamically) or re-exported by a file. */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3]);
  return specs;
}

function violations(dir: string, forbidden: (spec: string, resolved: string | undefined) => boolean): string[] {
  return sources(dir).flatMap((file) =>
    importsOf(file)
      .filter((spec) => forbidden(spec, spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)) : undefined))
      .map((spec) => `${relative(root, file)} imports ${spec}`),
  );
}

describe('import graph', () => {
  it('finds imports in a file (the checker itself works)', () => {
    const specs = importsOf(join(root, 'test/unit/import-graph.test.ts'));
    expect(specs).toContain('node:fs');
    expect(specs).toContain('vitest');
  });

  // daemon/net (address vocabulary) and daemon/errors.ts (typed set-up errors) sit below both planes.
  it('keeps daemon/dataplane to itself, daemon/net, daemon/errors.ts and node built-ins', () => {
    expect(sources('daemon/dataplane').length).toBeGreaterThan(5);
    const bad = violations('daemon/dataplane', (spec, res) => (res === undefined ? !spec.startsWith('node:') : !/^daemon\/(dataplane\/|net\/|errors(\.js)?$)/.test(res)));
    expect(bad).toEqual([]);
  });

  it('keeps daemon/net below both planes', () => {
    const bad = violations('daemon/net', (spec, res) => (res === undefined ? !spec.startsWith('node:') && spec !== 'ipaddr.js' : !/^daemon\/(net\/|errors(\.js)?$)/.test(res)));
    expect(bad).toEqual([]);
  });

  it('keeps weft-cni independent of the daemon (but daemon/net) and of every package, transitively', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) {
          if (!spec.startsWith('node:')) bad.push(`${relative(root, file)} imports ${spec}`);
          continue;
        }
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        const rel = relative(root, target);
        if (!/^(cni-shim\/|daemon\/net\/|daemon\/errors\.ts$)/.test(rel)) bad.push(`${relative(root, file)} imports ${spec}`);
        else visit(target);
      }
    };
    for (const f of sources('cni-shim')) visit(f);
    expect([...seen].some((f) => relative(root, f).startsWith('daemon/net/'))).toBe(true);
    expect(bad).toEqual([]);
  });

  it('keeps the control plane from importing the entry point', () => {
    const bad = violations('daemon/control', (_spec, res) => res !== undefined && /^daemon\/main(\.js)?$/.test(res));
    expect(bad).toEqual([]);
  });
});
