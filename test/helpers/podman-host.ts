// Debian's podman (CNI backend, runc) as a node's container runtime, inside a test node's network
// namespace. Each node gets a holder process in that network namespace and in a private mount
// namespace where /run and /var/lib are fresh tmpfs and /run/weft is the node's weftd subnet-file
// folder: the shipped conflist's absolute paths (/run/weft/subnet.env, /var/lib/cni/weft) then
// mean this node, as on a real host, and nothing reaches the machine's /run or /var/lib. Every
// podman command enters both namespaces of the holder (`nsenter -t PID -m -n`), with its storage,
// state and config in a temp folder: CONTAINERS_CONF selects the CNI backend, CNI config dir and
// plugin dirs, runc (crun refuses hybrid cgroups) and ulimits within this machine's hard limits.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../../lab/netns.js';
import { run, spawnTracked, type TrackedChild } from '../../lab/processes.js';

const BUSYBOX = '/bin/busybox';
export const IMAGE = 'localhost/weft-busybox:test';

/** Fails loudly, naming the Debian package, when a tool the podman test needs is missing. */
export function requirePodmanTools(): void {
  for (const [tool, pkg] of [['podman', 'podman'], ['runc', 'runc'], ['nsenter', 'util-linux'], ['unshare', 'util-linux']]) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`this test needs ${tool}: apt-get install ${pkg} (bash .ci/install does)`);
    }
  }
  if (!existsSync(BUSYBOX)) throw new Error(`this test needs ${BUSYBOX}: apt-get install busybox-static (bash .ci/install does)`);
}

/** A tarball of a busybox root filesystem (one static binary, its applets as links, /www/index.html). */
export function busyboxRootfsTar(dir: string, page: string): string {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(join(root, 'www/index.html'), page);
  const tar = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  return tar;
}

export interface PodmanHostOptions {
  /** The node's network namespace (cni0, the veths and portmap's rules go there). */
  readonly node: Netns;
  /** Folder of this node's weftd subnet.env, seen as /run/weft by the runtime and the plugin. */
  readonly weftRunDir: string;
  /** Folder for storage, state and config; removed by the caller. */
  readonly dir: string;
  /** CNI plugin directories, in order. */
  readonly pluginDirs: readonly string[];
  /** CNI network config directory. */
  readonly confDir: string;
}

export class PodmanHost {
  private constructor(
    private readonly holder: TrackedChild,
    private readonly args: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(o: PodmanHostOptions): Promise<PodmanHost> {
    mkdirSync(o.weftRunDir, { recursive: true });
    mkdirSync(join(o.dir, 'tmp'), { recursive: true });
    const conf = join(o.dir, 'containers.conf');
    const list = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
    writeFileSync(
      conf,
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ${list(o.pluginDirs)}`,
        `network_config_dir = ${JSON.stringify(o.confDir)}`,
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${JSON.stringify(join(o.dir, 'events.log'))}`,
        `image_copy_tmp_dir = ${JSON.stringify(join(o.dir, 'tmp'))}`,
        '',
      ].join('\n'),
    );
    const setup = [
      'mount -t tmpfs weft-test-run /run',
      'mkdir /run/weft',
      `mount --bind '${o.weftRunDir}' /run/weft`,
      'mount -t tmpfs weft-test-varlib /var/lib',
      'echo mounts-ready',
      'exec sleep infinity',
    ].join(' && ');
    const holder = spawnTracked('nsenter', [`--net=/run/netns/${o.node.name}`, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', setup]);
    await holder.waitForOutput(/mounts-ready/);
    const args = ['-t', String(holder.pid), '-m', '-n', 'podman', '--root', join(o.dir, 'storage'), '--runroot', join(o.dir, 'runroot'), '--tmpdir', join(o.dir, 'libpod'), '--storage-driver', 'vfs'];
    return new PodmanHost(holder, args, { ...process.env, CONTAINERS_CONF: conf });
  }

  /** `podman <args>` on this node; resolves to its stdout, rejects with its output on failure. */
  podman(...args: string[]): Promise<string> {
    return run('nsenter', [...this.args, ...args], { env: this.env });
  }

  /** A command in this node's mount and network namespaces (to look at /var/lib/cni). */
  inside(cmd: string, ...args: string[]): Promise<string> {
    return run('nsenter', ['-t', String(this.holder.pid), '-m', '-n', cmd, ...args]);
  }

  /** Removes every container (their CNI DEL runs), then ends the holder and with it the mounts. */
  async stop(): Promise<void> {
    try {
      await this.podman('rm', '--all', '--force', '--time', '0');
    } finally {
      await this.holder.stop('SIGKILL');
    }
  }
}

