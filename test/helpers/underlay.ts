// A test underlay, all in namespaces this test file creates (names carry ownPrefix(), so the leak
// check covers them), wired by the lab's underlay (lab/underlay.ts): a "switch" namespace with
// bridge br0 holding 198.18.0.254/15 (etcd can listen there), and hosts with eth0 at ip/15 on a veth
// whose other end is a br0 port. Nothing is added to the root namespace.
import type { Netns } from '../../lab/netns.js';
import { attach, createSwitch } from '../../lab/underlay.js';
import { createNetns } from './netns.js';

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
      await createSwitch(sw.name, SWITCH_IP);
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
    await attach(this.switchNs.name, `p${++this.ports}`, ns.name, ip, opts.mtu);
    return Object.assign(ns, { addr: ip });
  }

  /** Destroys every host, then the switch (killing whatever still runs in them). */
  async destroy(): Promise<void> {
    for (const h of this.hosts.splice(0)) await h.destroy();
    await this.switchNs.destroy();
  }
}
