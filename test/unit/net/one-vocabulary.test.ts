// No IPv4 or CIDR parser outside daemon/net: a second one is how `010.244.1.1` came to be accepted by
// weft-cni and refused by weftd. Scans the shipped sources (daemon/, cni-shim/) and the lab and
// benchmarks for the shapes a parser takes: ipaddr.js or node:net's isIP*, a regex of dotted quads,
// and (in shipped code) an address split into octets.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((e) => {
    const rel = join(dir, e);
    if (statSync(join(root, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** Splits of a version string, not of an address. */
const SPLIT_EXEMPT = new Set(['cni-shim/version.ts']);

const RULES: { what: string; re: RegExp; dirs: readonly string[] }[] = [
  { what: 'imports ipaddr.js', re: /from\s+['"]ipaddr\.js['"]|require\(\s*['"]ipaddr\.js['"]/, dirs: ['daemon', 'cni-shim', 'lab', 'bench'] },
  { what: "uses node:net's isIP/isIPv4/isIPv6", re: /\bisIP(v4|v6)?\b/, dirs: ['daemon', 'cni-shim', 'lab', 'bench'] },
  // three escaped dots next to digit classes: /(\d{1,3})\.(\d{1,3})\.…/ or /\d+\.\d+\.\d+\.\d+/
  { what: 'has a dotted-quad regex', re: /(\\d|\[0-9\])[^\n]*\\\.[^\n]*\\\.[^\n]*\\\./, dirs: ['daemon', 'cni-shim', 'lab', 'bench'] },
  { what: 'splits an address into octets', re: /\.split\(\s*['"]\.['"]\s*\)\s*\.(map\(Number\)|reduce)/, dirs: ['daemon', 'cni-shim'] },
];

function offenders(files: readonly string[], read: (f: string) => string): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f.startsWith('daemon/net/')) continue;
    const text = read(f);
    for (const rule of RULES) {
      if (!rule.dirs.some((d) => f.startsWith(`${d}/`))) continue;
      if (rule.what.startsWith('splits') && SPLIT_EXEMPT.has(f)) continue;
      if (rule.re.test(text)) out.push(`${f} ${rule.what}`);
    }
  }
  return out;
}

describe('one IPv4 vocabulary (daemon/net)', () => {
  it('the scan finds each shape of parser (the checker works)', () => {
    const samples: Record<string, string> = {
      'daemon/control/a.ts': "import ipaddr from 'ipaddr.js';",
      'cni-shim/b.ts': "import { isIPv4 } from 'node:net';",
      'daemon/c.ts': 'const RE = /^(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})$/;',
      'lab/d.ts': 'const KEY = /(\\d+\\.\\d+\\.\\d+\\.\\d+)-(\\d+)$/;',
      'daemon/e.ts': "const o = addr.split('.').map(Number);",
      'daemon/net/f.ts': "import ipaddr from 'ipaddr.js';",
      'daemon/g.ts': "const v = /^(\\d+)\\.(\\d+)$/; const t = 'a.b'.split('.');",
    };
    expect(offenders(Object.keys(samples), (f) => samples[f])).toEqual([
      'daemon/control/a.ts imports ipaddr.js',
      "cni-shim/b.ts uses node:net's isIP/isIPv4/isIPv6",
      'daemon/c.ts has a dotted-quad regex',
      'lab/d.ts has a dotted-quad regex',
      'daemon/e.ts splits an address into octets',
    ]);
  });

  it('no IPv4 or CIDR parser exists outside daemon/net', () => {
    const files = ['daemon', 'cni-shim', 'lab', 'bench'].flatMap(sources);
    expect(files.some((f) => f.startsWith('daemon/net/'))).toBe(true);
    expect(offenders(files, (f) => readFileSync(join(root, f), 'utf8'))).toEqual([]);
  });
});
