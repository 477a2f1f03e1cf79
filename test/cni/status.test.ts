// weft-cni STATUS: code 50 while the node cannot serve ADD (no subnet file, weftd not answering
// or not ready), success once the REAL weftd is ready. Everything runs inside a node namespace:
// etcd, weftd (with a veth underlay at 198.18.0.1) and the plugin.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer } from '../helpers/etcd.js';
import { vethPair, type Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { type CniSandbox, ROOT, cni, cniOk, startNode, stopNode, type CniOutcome } from '../helpers/cni-runner.js';

let node: Netns;
let box: CniSandbox;

beforeAll(async () => ({ node, box } = await startNode()));
afterAll(() => stopNode(node, box));

const status = (extra: Record<string, unknown>): Promise<CniOutcome> => cni({ command: 'STATUS', conf: box.conf(extra), node });

async function until(what: string, timeoutMs: number, probe: () => Promise<CniOutcome>, ok: (r: CniOutcome) => boolean): Promise<CniOutcome> {
  const deadline = Date.now() + timeoutMs;
  let last: CniOutcome | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last STATUS: ${last?.stdout} ${last?.stderr}`);
}

describe('weft-cni STATUS', () => {
  it('fails with code 50 while subnet.env is missing, naming weftd', async () => {
    const r = await status({ subnetFile: join(box.dir, 'missing.env') });
    expect(r.exit).toBe(1);
    expect(r.json.code).toBe(50);
    expect(r.json.msg).toContain('does not exist yet');
    expect(r.json.msg).toContain('is weftd running on this node?');
  });

  it('fails with code 50 when nothing answers at readyzURL, passes when the probe is disabled', async () => {
    box.writeSubnetEnv();
    const r = await status({ readyzURL: 'http://127.0.0.1:1/readyz' });
    expect(r.json).toMatchObject({ code: 50, msg: expect.stringContaining('weftd is not ready (GET http://127.0.0.1:1/readyz failed: ECONNREFUSED)') });
    const ok = await status({ readyzURL: '' });
    expect(ok.exit).toBe(0);
    expect(ok.stdout).toBe('');
  });

  it('needs config version 1.1.0', async () => {
    expect((await status({ cniVersion: '1.0.0' })).json).toMatchObject({ code: 1, msg: 'config version 1.0.0 does not allow STATUS (needs 1.1.0)' });
  });

  it('fails before the real weftd is ready and passes after; ADD then works with the subnet weftd leased', async () => {
    const wire = await createNetns('wire');
    await vethPair(node, 'u0', wire, 'u1');
    await node.ip('addr', 'add', '198.18.0.1/24', 'dev', 'u0');
    await node.ip('link', 'set', 'u0', 'up');
    await wire.ip('link', 'set', 'u1', 'up');
    const etcd = await EtcdServer.start({ netns: node, host: '127.0.0.1' });
    // A subnet file left from an earlier run: STATUS must not trust it while weftd is not ready.
    box.writeSubnetEnv({ subnet: '10.244.5.1/24' });
    const readyzURL = 'http://127.0.0.1:18471/readyz';
    const weftd = node.spawn(process.execPath, [
      join(ROOT, 'bin/weftd.js'),
      '--etcd-endpoints', etcd.endpoint,
      '--subnet-file', box.subnetFile,
      '--healthz-ip', '127.0.0.1',
      '--healthz-port', '18471',
      '--gossip-port', '18473',
      '--iface', 'u0',
      '--public-ip', '198.18.0.1',
      '--node-name', 'cni-test',
    ]);
    try {
      const notReady = await until('weftd to answer 503', 15_000, () => status({ readyzURL }), (r) => /answered 503/.test(r.stdout));
      expect(notReady.json).toMatchObject({ code: 50, msg: expect.stringContaining(`weftd is not ready (GET ${readyzURL} answered 503)`) });

      await etcd.etcdctl('put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
      await until('STATUS to pass', 30_000, () => status({ readyzURL }), (r) => r.exit === 0);

      const pod = await createNetns('pod');
      const res = await cniOk({ command: 'ADD', conf: box.conf({ readyzURL }), containerId: 'status-pod', pod, node });
      expect(res.ips[0].address).toMatch(/^10\.244\.\d+\.\d+\/24$/);
      await cniOk({ command: 'DEL', conf: box.conf({ readyzURL }), containerId: 'status-pod', pod, node });
      await pod.destroy();
    } finally {
      const out = weftd.output();
      await weftd.stop('SIGTERM');
      await etcd.close();
      await wire.destroy();
      if (process.env.WEFT_TEST_VERBOSE) console.log(out);
    }
    const down = await status({ readyzURL });
    expect(down.json).toMatchObject({ code: 50, msg: expect.stringContaining('ECONNREFUSED') });
  });
});

