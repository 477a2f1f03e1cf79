// The dependency rule of design.md, checked on the source: imports go main → control → dataplane,
// the data plane never reaches the control plane, gRPC or etcd, and weft-cni never imports the
// daemon (it must start fast and talk to weftd only through subnet.env and /readyz).
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

  // daemon/errors.ts is shared vocabulary (typed setup errors), not control-plane code.
  it('keeps daemon/dataplane free of control-plane code, gRPC and etcd', () => {
    const bad = violations('daemon/dataplane', (spec, res) =>
      /^(etcd3|@grpc\/|pino|prom-client)/.test(spec) || (res !== undefined && !res.startsWith('daemon/dataplane') && !/^daemon\/errors(\.js)?$/.test(res)),
    );
    expect(bad).toEqual([]);
  });

  it('keeps weft-cni independent of the daemon and of heavy dependencies', () => {
    const bad = violations('cni-shim', (spec, res) =>
      (res !== undefined && !res.startsWith('cni-shim')) || (!spec.startsWith('.') && !spec.startsWith('node:')),
    );
    expect(bad).toEqual([]);
  });

  it('keeps the control plane from importing the entry point', () => {
    const bad = violations('daemon/control', (_spec, res) => res !== undefined && /^daemon\/main(\.js)?$/.test(res));
    expect(bad).toEqual([]);
  });
});
