// Every bad input gets its own CNI error on stdout (code, msg naming the problem, exit 1). The
// plugin runs inside a throwaway node namespace so that nothing could touch the root namespace.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { CNI_PATH, CniSandbox, cni, type CniCall } from '../helpers/cni-runner.js';

let node: Netns;
let pod: Netns;
let box: CniSandbox;

beforeAll(async () => {
  requireRoot();
  node = await createNetns('node');
  pod = await createNetns('pod');
  box = new CniSandbox();
  box.writeSubnetEnv();
});

afterAll(async () => {
  await pod?.destroy();
  await node?.destroy();
  box?.remove();
});

async function fails(call: Omit<CniCall, 'node'>): Promise<{ code: number; msg: string; details?: string; cniVersion: string }> {
  const r = await cni({ ...call, node });
  expect(r.exit, r.stdout + r.stderr).toBe(1);
  expect(Object.keys(r.json).sort()).toEqual(expect.arrayContaining(['cniVersion', 'code', 'msg']));
  return r.json;
}

const add = (conf: object | string, extra: Partial<CniCall> = {}): Omit<CniCall, 'node'> => ({ command: 'ADD', conf, containerId: 'err-1', pod, ...extra });

describe('weft-cni errors', () => {
  it('VERSION lists 0.3.0 .. 1.1.0', async () => {
    const r = await cni({ command: 'VERSION', conf: { cniVersion: '1.1.0' }, node });
    expect(r.exit).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('missing or invalid environment variables: code 4, naming them', async () => {
    expect(await fails({ command: 'ADD', conf: box.conf(), env: { CNI_PATH } })).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_COMMAND is not set') });
    expect(await fails({ command: 'ADD', conf: box.conf(), env: { CNI_COMMAND: 'ADD', CNI_PATH } })).toMatchObject({
      code: 4,
      msg: 'ADD needs CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, which are not set',
    });
    expect(await fails({ command: 'ADD', conf: box.conf(), env: { CNI_COMMAND: 'FROB' } })).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_COMMAND=FROB') });
    expect(await fails(add(box.conf(), { containerId: '-bad id' }))).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID=-bad id is invalid') });
    expect(await fails(add(box.conf(), { ifname: 'eth0/../x' }))).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_IFNAME=eth0/../x') });
  });

  it('malformed netconf: code 6 for bad JSON, 7 for bad keys, 1 for an unknown version', async () => {
    expect(await fails(add('{"cniVersion": "1.1.0",'))).toMatchObject({ code: 6, msg: expect.stringMatching(/^network config on stdin is not valid JSON/) });
    expect(await fails(add('[1]'))).toMatchObject({ code: 6, msg: 'network config on stdin must be a JSON object' });
    expect(await fails(add(box.conf({ cniVersion: '9.9.9' })))).toMatchObject({
      code: 1,
      msg: 'incompatible CNI versions: config is "9.9.9", weft-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    });
    expect(await fails(add(box.conf({ name: undefined })))).toMatchObject({ code: 7, msg: expect.stringContaining('"name"') });
    expect(await fails(add(box.conf({ delegate: { name: 'x' } })))).toMatchObject({ code: 7, msg: expect.stringMatching(/^delegate may not set "name"/) });
    expect(await fails(add(box.conf({ delegate: { ipam: {} } })))).toMatchObject({ code: 7, msg: expect.stringMatching(/^delegate may not set "ipam"/) });
    expect(await fails(add(box.conf({ delegate: { type: 7 } })))).toMatchObject({ code: 7, msg: 'delegate "type" must be a string, got 7' });
    expect(await fails(add(box.conf({ dataDir: 'relative/dir' })))).toMatchObject({ code: 7, msg: expect.stringContaining('"dataDir" must be an absolute path') });
    expect(await fails(add(box.conf({ readyzURL: 'https://x/readyz' })))).toMatchObject({ code: 7, msg: expect.stringContaining('"readyzURL" must be an http:// URL') });
  });

  it('missing subnet.env: code 11 (try again later), pointing at weftd', async () => {
    const e = await fails(add(box.conf({ subnetFile: join(box.dir, 'nope/subnet.env') })));
    expect(e.code).toBe(11);
    expect(e.msg).toContain(`subnet file ${join(box.dir, 'nope/subnet.env')} does not exist yet`);
    expect(e.msg).toContain('is weftd running on this node? check its log');
  });

  it('corrupt subnet.env: code 6, naming the missing and bad keys', async () => {
    const file = join(box.dir, 'corrupt.env');
    writeFileSync(file, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.300.1/24\nFLANNEL_IPMASQ=maybe\n');
    const e = await fails(add(box.conf({ subnetFile: file })));
    expect(e.code).toBe(6);
    expect(e.msg).toContain('is missing FLANNEL_MTU');
    expect(e.msg).toContain('has FLANNEL_SUBNET=10.244.300.1/24, not an IPv4 CIDR');
    expect(e.msg).toContain('has FLANNEL_IPMASQ=maybe, not true or false');
    writeFileSync(file, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.9.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    expect((await fails(add(box.conf({ subnetFile: file })))).msg).toContain('has FLANNEL_SUBNET=10.9.1.1/24 outside FLANNEL_NETWORK=10.244.0.0/16');
  });

  it('missing delegate binary: code 4, naming the directories searched', async () => {
    const empty = join(box.dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'err-1', CNI_NETNS: `/run/netns/${pod.name}`, CNI_IFNAME: 'eth0', CNI_PATH: `${empty}:/nonexistent` };
    expect(await fails({ command: 'ADD', conf: box.conf(), env })).toMatchObject({
      code: 4,
      msg: `plugin "bridge" not found in CNI_PATH (searched ${empty}, /nonexistent): install containernetworking-plugins there, or fix CNI_PATH / delegate.type`,
    });
    expect((await fails(add(box.conf({ delegate: { type: 'brdige' } })))).msg).toMatch(/^plugin "brdige" not found in CNI_PATH \(searched \/usr\/lib\/cni\)/);
  });

  it('CHECK without prevResult: code 7', async () => {
    expect(await fails({ command: 'CHECK', conf: box.conf(), containerId: 'err-1', pod })).toMatchObject({ code: 7, msg: 'CHECK needs "prevResult" (the ADD result the runtime saved)' });
  });

  it('errors carry the request cniVersion', async () => {
    expect((await fails(add(box.conf({ cniVersion: '0.4.0', subnetFile: '/nonexistent/subnet.env' })))).cniVersion).toBe('0.4.0');
  });
});
