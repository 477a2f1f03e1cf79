// weft-cni driven by a real container runtime: Debian 12's podman 4.3 (CNI backend, libcni older
// than CNI 1.1) on two weftd nodes, with deploy/10-weft.conflist exactly as shipped and the plugin
// as deploy/install-cni.sh installs it. Containers come from a local busybox image (no registry).
// Pods get an address in the node's leased subnet, weft's MTU and routes, reach a pod on the other
// node, publish a port through portmap, and give everything back when stopped.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstHost, parseSubnetEnv } from '../../lab/flannel-format.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { useTestbed } from '../helpers/testbed.js';
import { startWeftd, waitForEvent, type Weftd } from '../helpers/weftd.js';
import { CNI_PATH, ROOT } from '../helpers/cni-runner.js';
import { IMAGE, PodmanHost, busyboxRootfsTar, requirePodmanTools } from '../helpers/podman-host.js';
import { LogEvent } from '../../daemon/observability/log-events.js';

const PREFIX = '/podman/network';
const PAGE = 'hello from a weft pod\n';
/** The shipped defaults: weftd's health server where readyzURL expects it. */
const HEALTHZ_PORT = 8471;

interface Node {
  readonly name: string;
  readonly host: UnderlayHost;
  weftd: Weftd;
  podman: PodmanHost;
  /** From the node's subnet.env once weftd is ready. */
  subnet: string;
  gateway: string;
  mtu: number;
}

const nodes: Node[] = [];
let tmp: string;

useTestbed('podman', async (bed) => {
  requirePodmanTools();
  tmp = mkdtempSync(join(tmpdir(), 'weft-podman-'));
  await bed.etcd.etcdctl('put', `${PREFIX}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');

  // The plugin as a host gets it, and the conflist byte for byte as shipped.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  execFileSync('sh', [join(ROOT, 'deploy/stage-cni.sh'), join(tmp, 'payload')], { env });
  execFileSync('sh', [join(ROOT, 'deploy/install-cni.sh'), 'plugin'], { env: { ...env, WEFT_CNI_PAYLOAD: join(tmp, 'payload'), CNI_BIN_DIR: join(tmp, 'cni-bin') } });
  mkdirSync(join(tmp, 'net.d'));
  copyFileSync(join(ROOT, 'deploy/10-weft.conflist'), join(tmp, 'net.d/10-weft.conflist'));
  const image = busyboxRootfsTar(tmp, PAGE);

  for (const [i, name] of ['node1', 'node2'].entries()) {
    const host = await bed.underlay.addHost(name, `198.18.0.${i + 1}`);
    const weftd = startWeftd({ host, etcd: bed.etcd, prefix: PREFIX, node: name, dir: bed.dir, healthzPort: HEALTHZ_PORT });
    const podman = await PodmanHost.start({
      node: host,
      weftRunDir: dirname(weftd.subnetFile),
      dir: join(tmp, name),
      pluginDirs: [join(tmp, 'cni-bin'), CNI_PATH],
      confDir: join(tmp, 'net.d'),
    });
    nodes.push({ name, host, weftd, podman, subnet: '', gateway: '', mtu: 0 });
    await podman.podman('import', '--quiet', image, IMAGE);
  }
  for (const n of nodes) {
    await waitForEvent(n.weftd, LogEvent.ready, { timeoutMs: 30_000 });
    const env = parseSubnetEnv(readFileSync(n.weftd.subnetFile, 'utf8'));
    if (!env) throw new Error(`${n.name}: unreadable ${n.weftd.subnetFile}`);
    n.subnet = env.subnet;
    n.gateway = firstHost(env.subnet).split('/')[0];
    n.mtu = env.mtu;
  }
});

afterAll(async () => {
  for (const n of nodes) await n.podman.stop();
  for (const n of nodes) await n.weftd.stop('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function ipOf(n: Node, container: string): Promise<string> {
  const net = JSON.parse(await n.podman.podman('inspect', container, '--format', '{{json .NetworkSettings.Networks}}')) as Record<string, { IPAddress: string }>;
  return net.weft.IPAddress;
}

/** The first answer can wait for the other node's lease to reach this weftd. */
async function waitPing(n: Node, container: string, ip: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await n.podman.podman('exec', container, 'ping', '-c', '1', '-W', '1', ip);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

describe('podman 4.3 (CNI backend) with the shipped conflist', () => {
  it('is the conflist as shipped: cniVersion 1.0.0 for runtimes before CNI 1.1, cniVersions for newer ones', () => {
    const list = JSON.parse(readFileSync(join(tmp, 'net.d/10-weft.conflist'), 'utf8'));
    expect(readFileSync(join(tmp, 'net.d/10-weft.conflist'), 'utf8')).toBe(readFileSync(join(ROOT, 'deploy/10-weft.conflist'), 'utf8'));
    expect(list.cniVersion).toBe('1.0.0');
    expect(list.cniVersions).toEqual(['1.0.0', '1.1.0']);
  });

  it('runs pods in the leased subnet with weft MTU and routes, answered in the version podman asked for', async () => {
    const [a, b] = nodes;
    await a.podman.podman('run', '-d', '--name', 'web', '--network', 'weft', '--cap-add', 'NET_RAW', '-p', '8080:80', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www');
    await b.podman.podman('run', '-d', '--name', 'client', '--network', 'weft', '--cap-add', 'NET_RAW', IMAGE, 'sleep', '3600');
    for (const [n, c] of [[a, 'web'], [b, 'client']] as const) {
      const ip = await ipOf(n, c);
      expect(ip.split('.').slice(0, 3)).toEqual(n.gateway.split('.').slice(0, 3));
      expect(ip).not.toBe(n.gateway);
      expect(await n.podman.podman('exec', c, 'cat', '/sys/class/net/eth0/mtu')).toBe(`${n.mtu}\n`);
      const routes = await n.podman.podman('exec', c, 'ip', 'route');
      expect(routes).toContain(`default via ${n.gateway} dev eth0`);
      expect(routes).toContain(`10.244.0.0/16 via ${n.gateway} dev eth0`);
      expect(routes).toContain(`${n.subnet} dev eth0`);
      // libcni's cache of what weft-cni returned: a 1.0.0 result for a 1.0.0 runtime
      const cached = JSON.parse(await n.podman.inside('sh', '-c', 'cat /var/lib/cni/results/weft-*-eth0'));
      expect(cached.result.cniVersion).toBe('1.0.0');
      expect(cached.result.ips[0].address).toBe(`${ip}/24`);
    }
  });

  it('reaches the pod on the other node through weftd, both ways', async () => {
    const [a, b] = nodes;
    const [web, client] = [await ipOf(a, 'web'), await ipOf(b, 'client')];
    await waitPing(b, 'client', web);
    expect(await b.podman.podman('exec', 'client', 'ping', '-c', '3', '-i', '0.2', '-W', '2', web)).toMatch(/3 packets received/);
    expect(await a.podman.podman('exec', 'web', 'ping', '-c', '3', '-i', '0.2', '-W', '2', client)).toMatch(/3 packets received/);
    expect(await b.podman.podman('exec', 'client', 'wget', '-q', '-O', '-', `http://${web}/`)).toBe(PAGE);
  });

  it('publishes -p 8080:80 on the node through portmap', async () => {
    const [a, b] = nodes;
    expect(await b.host.exec('curl', ['-s', '-m', '5', `http://${a.host.addr}:8080/`])).toBe(PAGE);
    expect(await b.podman.podman('exec', 'client', 'wget', '-q', '-O', '-', `http://${a.host.addr}:8080/`)).toBe(PAGE);
  });

  it('gives the address, the veth and the port mapping back when the pod stops', async () => {
    const [a] = nodes;
    const ip = await ipOf(a, 'web');
    const leases = (): Promise<string> => a.podman.inside('ls', '/var/lib/cni/weft/ipam/weft');
    const veths = async (): Promise<string[]> => JSON.parse(await a.host.ip('-j', 'link', 'show', 'master', 'cni0')).map((l: { ifname: string }) => l.ifname);
    expect((await leases()).split('\n')).toContain(ip);
    expect(await veths()).toHaveLength(1);
    expect(await a.host.exec('iptables', ['-t', 'nat', '-S'])).toContain('--dport 8080');

    await a.podman.podman('stop', '--time', '0', 'web');
    expect((await leases()).split('\n')).not.toContain(ip);
    expect(await veths()).toEqual([]);
    expect(await a.host.exec('iptables', ['-t', 'nat', '-S'])).not.toContain('--dport 8080');
    expect(await a.podman.inside('ls', '-A', '/var/lib/cni/weft/attachments')).toBe('');

    // and the node can start it again
    await a.podman.podman('start', 'web');
    expect(await ipOf(a, 'web')).toMatch(new RegExp(`^${a.gateway.split('.').slice(0, 3).join('\\.')}\\.`));
  });
});
