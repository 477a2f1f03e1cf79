// weftd against an etcd with password authentication enabled (--etcd-username/--etcd-password,
// or their WEFTD_* env twins): it leases with the right credentials and, with wrong ones, logs
// the refusal and keeps waiting instead of crashing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer } from '../helpers/etcd.js';
import { spawnTracked } from '../helpers/processes.js';
import { WEFTD_MAIN, logLines, startWeftd, waitForLog, weftdArgs } from '../helpers/weftd.js';

let etcd: EtcdServer;
let dir: string;
const prefix = '/a/network';

beforeAll(async () => {
  etcd = await EtcdServer.start();
  dir = mkdtempSync(join(tmpdir(), 'weft-auth-'));
  await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
  await etcd.etcdctl('user', 'add', 'root:rootpw');
  await etcd.etcdctl('auth', 'enable');
});

afterAll(async () => {
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('etcd password auth', () => {
  it('leases with credentials from env, and waits with a clear log line on wrong ones', async () => {
    const opts = { etcd, prefix, node: 'a1', publicIp: '198.18.6.1', dir };
    const d = spawnTracked(process.execPath, [WEFTD_MAIN, ...weftdArgs(opts)], { env: { ...process.env, WEFTD_ETCD_USERNAME: 'root', WEFTD_ETCD_PASSWORD: 'rootpw' } });
    const ready = await waitForLog(d, /^ready$/);
    expect(String(ready.subnet)).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect((await d.stop('SIGTERM')).code).toBe(0);

    const bad = startWeftd({ ...opts, node: 'a2', publicIp: '198.18.6.2', extra: ['--etcd-username', 'root', '--etcd-password', 'nope'] });
    const refused = await waitForLog(bad, /^cannot read/);
    expect(refused.msg).toMatch(new RegExp(`^cannot read ${prefix}/config: .*authentication failed.* \\(weftd retries every 1 s\\)$`));
    await new Promise((r) => setTimeout(r, 1_200));
    expect(bad.proc.exitCode).toBeNull();
    expect(logLines(bad).filter((l) => l.msg.startsWith('cannot read'))).toHaveLength(1);
    expect((await bad.stop('SIGTERM')).code).toBe(0);
  });
});
