// The --iptables-resync check skips iptables-save while the nf_tables generation of the node's
// namespace says nothing changed. weftd runs inside its node's namespace with no command prefix,
// so the check is driven here the same way: a Node process inside a test namespace, with
// iptables-nft-save wrapped by a script that counts its runs. Nothing touches the root namespace.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const dist = new URL('../../dist/daemon/', import.meta.url).pathname;
let node: Netns;
let dir: string;

beforeAll(async () => {
  requireRoot();
  node = await createNetns('gen');
  dir = mkdtempSync(join(tmpdir(), 'weft-gen-'));
  const real = (await node.exec('sh', ['-c', 'command -v iptables-nft-save'])).trim();
  writeFileSync(join(dir, 'iptables-nft-save'), `#!/bin/sh\necho run >> ${dir}/saves\nexec ${real} "$@"\n`);
  chmodSync(join(dir, 'iptables-nft-save'), 0o755);
  writeFileSync(join(dir, 'saves'), '');
});

afterAll(async () => {
  await node?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` (an async function body with installIpMasq, reassertIpMasq, nftGeneration, saves(), sh()) inside the namespace; returns what it prints. */
async function inNamespace(body: string): Promise<string> {
  const script = join(dir, 'check.mjs');
  writeFileSync(
    script,
    `import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { installIpMasq, reassertIpMasq } from '${dist}control/ip-masq/index.js';
import { loadNative } from '${dist}dataplane/native.js';
const nftGeneration = () => loadNative().nftGeneration();
const saves = () => readFileSync('${dir}/saves', 'utf8').split('\\n').filter(Boolean).length;
const sh = (cmd) => execFileSync('sh', ['-c', cmd]);
const out = [];
const print = (x) => out.push(x);
${body}
console.log(JSON.stringify(out));
`,
  );
  return node.exec('node', [script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
}

describe('--iptables-resync in nf_tables', () => {
  it('reads the rules again only after the ruleset changed, and still repairs what was deleted', async () => {
    const out = JSON.parse(
      await inNamespace(`
        const g0 = nftGeneration();
        const installed = await installIpMasq({ network: '10.244.0.0/16', subnet: '10.244.1.0/24', iptables: { backend: 'nft' } });
        print({ g0, g1: nftGeneration(), backend: installed.backend });
        const base = saves();
        print({ first: (await reassertIpMasq(installed)).length, saves: saves() - base });
        for (let i = 0; i < 3; i++) await reassertIpMasq(installed);
        print({ idle: saves() - base });
        sh('iptables-nft-save >/dev/null');
        await reassertIpMasq(installed);
        print({ afterReadOnlyCommand: saves() - base });
        sh('iptables-nft -t nat -F WEFT-POSTRTG');
        print({ repaired: (await reassertIpMasq(installed)).map((d) => d.kind), saves: saves() - base });
        await reassertIpMasq(installed);
        await reassertIpMasq(installed);
        print({ afterRepair: saves() - base });
        sh('iptables-nft -t filter -N SOMEONE-ELSE');
        await reassertIpMasq(installed);
        print({ afterOtherChange: saves() - base });
      `),
    ) as Record<string, number | string>[];
    expect(out[0].g0).toBeGreaterThanOrEqual(0);
    expect(out[0].g1).not.toBe(out[0].g0);
    expect(out[0].backend).toBe('nft');
    // The first check reads the rules; unchanged generations cost no command at all.
    expect(out[1]).toEqual({ first: 0, saves: 1 });
    expect(out[2]).toEqual({ idle: 1 });
    // Someone's read-only iptables-save (counted too, through the wrapper) commits nothing.
    expect(out[3]).toEqual({ afterReadOnlyCommand: 2 });
    // A flushed chain changes the generation: read, found and repaired.
    expect(out[4]).toEqual({ repaired: ['chain'], saves: 3 });
    // After a repair the next check reads again (and finds the rules intact), then none.
    expect(out[5]).toEqual({ afterRepair: 4 });
    // Any other change of the ruleset is read too.
    expect(out[6]).toEqual({ afterOtherChange: 5 });
  });
});
