// weft-cni dual-stack through a real container runtime: Debian 12's podman 4.3 (CNI backend) with
// deploy/10-weft.conflist as shipped and the plugin as deploy/install-cni.sh installs it, on a node
// namespace whose subnet.env has both families (as flanneld writes it with EnableIPv6). A container
// gets an address of each family with both cluster routes, reaches cni0 over both, and gives both
// addresses back when it stops.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { CNI_PATH, ROOT } from '../helpers/cni-runner.js';
import { IMAGE, PodmanHost, busyboxRootfsTar, requirePodmanTools } from '../helpers/podman-host.js';

const SUBNET_ENV =
  'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:9::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

let tmp: string;
let node: Netns;
let podman: PodmanHost;

beforeAll(async () => {
  requireRoot();
  requirePodmanTools();
  tmp = mkdtempSync(join(tmpdir(), 'weft-podman6-'));
  node = await enableIpv6(await createNetns('node'));
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  execFileSync('sh', [join(ROOT, 'deploy/stage-cni.sh'), join(tmp, 'payload')], { env });
  execFileSync('sh', [join(ROOT, 'deploy/install-cni.sh'), 'plugin'], { env: { ...env, WEFT_CNI_PAYLOAD: join(tmp, 'payload'), CNI_BIN_DIR: join(tmp, 'cni-bin') } });
  mkdirSync(join(tmp, 'net.d'));
  copyFileSync(join(ROOT, 'deploy/10-weft.conflist'), join(tmp, 'net.d/10-weft.conflist'));
  mkdirSync(join(tmp, 'run-weft'));
  writeFileSync(join(tmp, 'run-weft/subnet.env'), SUBNET_ENV);
  podman = await PodmanHost.start({ node, weftRunDir: join(tmp, 'run-weft'), dir: join(tmp, 'podman'), pluginDirs: [join(tmp, 'cni-bin'), CNI_PATH], confDir: join(tmp, 'net.d') });
  await podman.podman('import', '--quiet', busyboxRootfsTar(tmp, 'dual\n'), IMAGE);
});

afterAll(async () => {
  await podman?.stop();
  await node?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('podman 4.3 with a dual-stack subnet.env', () => {
  it('gives the container an address of each family, both cluster routes, and takes both back on stop', async () => {
    await podman.podman('run', '-d', '--name', 'ds', '--network', 'weft', '--cap-add', 'NET_RAW', IMAGE, 'sleep', '3600');
    const addrs = await podman.podman('exec', 'ds', 'ip', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global');
    const v4 = /inet (10\.244\.9\.\d+)\/24/.exec(addrs)?.[1];
    const v6 = /inet6 (fd00:10:244:9::[0-9a-f]+)\/64/.exec(addrs)?.[1];
    expect(v4, addrs).toBeDefined();
    expect(v6, addrs).toBeDefined();
    expect(await podman.podman('exec', 'ds', 'ip', 'route')).toContain('10.244.0.0/16 via 10.244.9.1 dev eth0');
    expect(await podman.podman('exec', 'ds', 'ip', '-6', 'route')).toContain('fd00:10:244::/56 via fd00:10:244:9::1 dev eth0');

    // libcni's cache holds weft-cni's result with both addresses.
    const cached = JSON.parse(await podman.inside('sh', '-c', 'cat /var/lib/cni/results/weft-*-eth0'));
    expect(cached.result.ips.map((i: { address: string }) => i.address).sort()).toEqual([`${v4}/24`, `${v6}/64`]);
    // cni0's IPv6 gateway answers once its duplicate address detection is over: a few lost pings at first.
    for (const gw of ['10.244.9.1', 'fd00:10:244:9::1']) {
      let out = '';
      for (let i = 0; i < 20 && !/ 1 packets received/.test(out); i++) out = await podman.podman('exec', 'ds', 'ping', '-c', '1', '-W', '1', gw).catch((e: Error) => e.message);
      expect(out).toMatch(/ 1 packets received/);
    }

    const leases = async (): Promise<string[]> => (await podman.inside('ls', '/var/lib/cni/weft/ipam/weft')).split('\n');
    expect(await leases()).toEqual(expect.arrayContaining([v4, v6]));
    await podman.podman('stop', '--time', '0', 'ds');
    expect((await leases()).filter((l) => l === v4 || l === v6)).toEqual([]);
    expect(await podman.inside('ls', '-A', '/var/lib/cni/weft/attachments')).toBe('');
  });
});
