// The dependency rule: daemon/dataplane never imports control code, gRPC or etcd.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('daemon/dataplane imports', () => {
  it('stay inside the data plane (plus daemon/errors.ts and node built-ins)', () => {
    const dir = 'daemon/dataplane';
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/from '([^']+)'/g)) {
        const spec = m[1];
        const allowed = spec.startsWith('./') || spec === '../errors.js' || spec.startsWith('node:');
        expect(allowed, `${f} imports ${spec}`).toBe(true);
      }
    }
  });
});
