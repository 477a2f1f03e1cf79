// A test underlay, all in namespaces this test file creates (names carry ownPrefix(), so the leak
// check covers them): a "switch" namespace with bridge br0 holding 198.18.0.254/15 (etcd can listen
// there), and hosts with eth0 at ip/15 on a veth whose other end is a br0 port. Every link is created
// from inside a test namespace; nothing is added to the root namespace.
import { createNetns, vethPair, type Netns } from './netns.js';

export const UNDERLAY_PREFIX_LEN = 15;
/** The switch's own address on br0 (etcd runs there). */
export const SWITCH_IP = '198.18.0.254';

export interface UnderlayHost extends Netns {
  /** eth0's address (no prefix length). */
  readonly addr: string;
}

export class Underlay {
  private ports = 0;
  private readonly hosts: Netns[] = [];

  private constructor(readonly switchNs: Netns) {}

  static async create(): Promise<Underlay> {
    const sw = await createNetns('sw');
    try {
      await sw.ip('link', 'add', 'br0', 'type', 'bridge');
      await sw.ip('addr', 'add', `${SWITCH_IP}/${UNDERLAY_PREFIX_LEN}`, 'dev', 'br0');
      await sw.ip('link', 'set', 'br0', 'up');
    } catch (err) {
      await sw.destroy();
      throw err;
    }
    return new Underlay(sw);
  }

  /** A namespace `label` with eth0 at `ip`/15 on the switch (MTU 1500 unless given) and lo up. */
  async addHost(label: string, ip: string, opts: { mtu?: number } = {}): Promise<UnderlayHost> {
    const ns = await createNetns(label);
    this.hosts.push(ns);
    const port = `p${++this.ports}`;
    const mtu = String(opts.mtu ?? 1500);
    await vethPair(this.switchNs, port, ns, 'eth0');
    await this.switchNs.ip('link', 'set', port, 'mtu', mtu, 'master', 'br0', 'up');
    await ns.ip('link', 'set', 'eth0', 'mtu', mtu);
    await ns.ip('addr', 'add', `${ip}/${UNDERLAY_PREFIX_LEN}`, 'dev', 'eth0');
    await ns.ip('link', 'set', 'eth0', 'up');
    return Object.assign(ns, { addr: ip });
  }

  /** Destroys every host, then the switch (killing whatever still runs in them). */
  async destroy(): Promise<void> {
    for (const h of this.hosts.splice(0)) await h.destroy();
    await this.switchNs.destroy();
  }
}
