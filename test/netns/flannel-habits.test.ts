// Flannel habits on a 2-node weft lab started without --ip-masq: the FORWARD accept rules for the
// pod network are installed by default (--iptables-forward-rules), restored after deletion within
// --iptables-resync and removed on SIGTERM; repeated --iface values are tried in order (the first
// absent); --iface-can-reach, given as FLANNELD_IFACE_CAN_REACH, picks the interface the kernel
// routes a peer through, and an unsupported FLANNELD_* variable is named in the log. The lab nodes
// have no default route and node1 gets a spare IPv4 interface that sorts last, so the choice
// matters: without the flags weftd refuses to guess, and a last-wins --iface would take the spare.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDetached, stopPid, waitFor } from '../../lab/exec.js';
import { run } from '../../lab/processes.js';
import { Lab } from '../../lab/lab.js';
import { ping, waitReachable } from '../../lab/probe.js';
import type { PodRecord, ProcessRecord } from '../../lab/state.js';
import { waitWeftdReady, weftdArgs } from '../../lab/weft-node.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { LogEvent } from '../../daemon/observability/log-events.js';

interface LogLine {
  readonly msg: string;
  readonly subsystem?: string;
  readonly [field: string]: unknown;
}

const SPARE = 'spare0';
const SPARE_IP = '198.19.255.1';

describe('Flannel habits carry over', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}f-` });
    await lab.addNode('weft');
    await lab.addNode('weft');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
    await waitReachable(pod1.ns, pod2.ip, 15_000);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  const ns = (node: string): string => lab.node(node).ns;
  const weftRules = async (node: string): Promise<string[]> => (await lab.exec(ns(node), 'iptables-save', [])).split('\n').filter((l) => l.includes('WEFT-')).sort();
  const logOf = (file: string): LogLine[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  const FORWARD_RULES = [
    '-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD',
    '-A WEFT-FWD -d 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
    '-A WEFT-FWD -s 10.244.0.0/16 -m comment --comment "weft forward" -j ACCEPT',
    ':WEFT-FWD - [0:0]',
  ];

  function weftdLog(node: string): string {
    const p = lab.state.processes.find((x) => x.ns === ns(node) && x.role.startsWith('weftd'));
    if (!p) throw new Error(`no weftd recorded for ${node}`);
    return p.log;
  }

  /** weftd's arguments for `node` as the lab gives them, without the lab's `--iface eth0`. */
  function argsWithoutIface(node: string, extra: readonly string[]): string[] {
    const args = weftdArgs(lab.node(node), lab.state.etcdEndpoint, lab.state.etcdPrefix, extra);
    const at = args.indexOf('--iface');
    args.splice(at, 2);
    return args;
  }

  it('installs the FORWARD accept rules without --ip-masq, restores them within --iptables-resync, removes them on SIGTERM', async () => {
    expect(await weftRules('node1')).toEqual(FORWARD_RULES);
    const n = logOf(weftdLog('node1')).length;
    // One iptables-restore, so that an --iptables-resync check cannot fall between the steps.
    const deletion = ['*filter', '-D FORWARD -m comment --comment "weft forward" -j WEFT-FWD', '-F WEFT-FWD', '-X WEFT-FWD', 'COMMIT', ''].join('\n');
    await run('ip', ['netns', 'exec', ns('node1'), 'iptables-restore', '-w', '--noflush'], { input: deletion });
    await waitFor(async () => ((await weftRules('node1')).length === 4 ? true : undefined), 7_000, () => new Error('the forward rules were not restored within 7 s'), 200);
    expect(await weftRules('node1')).toEqual(FORWARD_RULES);
    // weftd's log writes are asynchronous: the fixes may be in place before their records are in the file
    const reasserted = (): LogLine[] => logOf(weftdLog('node1')).slice(n).filter((l) => l.event === LogEvent.reasserted);
    const fixes = await waitFor(async () => (reasserted().length >= 2 ? reasserted() : undefined), 5_000, () => new Error(`fewer than 2 reasserted records: ${JSON.stringify(reasserted())}`));
    expect(fixes.map((l) => [l.subsystem, l.msg])).toEqual([
      ['ip_masq', 're-asserted: chain filter/WEFT-FWD missing'],
      ['ip_masq', 're-asserted: hook filter/FORWARD → WEFT-FWD missing'],
    ]);
    await lab.stopWeftd('node2');
    try {
      expect(await weftRules('node2')).toEqual([]);
    } finally {
      await lab.startWeftd('node2');
    }
    expect(await weftRules('node2')).toEqual(FORWARD_RULES);
  }, 30_000);

  describe('with a spare IPv4 interface on node1', () => {
    beforeAll(async () => {
      await lab.stopWeftd('node1');
      // The persistent TUN stays, and is running (so Node lists it) until the kernel has closed the
      // exited weftd's fds, which may be a moment after its /proc entry stopped naming it.
      await waitFor(
        async () => (/LOWER_UP/.test(await lab.exec(ns('node1'), 'ip', ['-o', 'link', 'show', 'dev', 'weft0']).catch(() => '')) ? undefined : true),
        5_000,
        () => new Error('weft0 on node1 still has a carrier 5 s after weftd stopped'),
      );
      await lab.exec(ns('node1'), 'ip', ['link', 'add', SPARE, 'type', 'veth', 'peer', 'name', 'spare1']);
      await lab.exec(ns('node1'), 'ip', ['addr', 'add', `${SPARE_IP}/24`, 'dev', SPARE]);
      await lab.exec(ns('node1'), 'ip', ['link', 'set', SPARE, 'up']);
      await lab.exec(ns('node1'), 'ip', ['link', 'set', 'spare1', 'up']); // running: Node lists only interfaces that are up and running
    }, 30_000);

    afterAll(async () => {
      await lab.exec(ns('node1'), 'ip', ['link', 'del', SPARE]).catch(() => undefined);
      await lab.startWeftd('node1');
    }, 30_000);

    /** Starts weftd on node1 with `args` (and `env` added), waits until ready, returns its 'underlay' log line. */
    async function runNode1(role: string, args: string[], env: Record<string, string>, check: (log: LogLine[]) => Promise<void>): Promise<void> {
      const node = lab.node('node1');
      const log = `${lab.state.stateDir}/${role}.log`;
      const pid = startDetached(node.ns, process.execPath, args, log, { ...process.env, ...env });
      const proc: ProcessRecord = { pid, role, ns: node.ns, marker: process.execPath, log };
      try {
        await waitWeftdReady(node, proc);
        await check(logOf(log));
      } finally {
        await stopPid(proc.pid, proc.marker);
      }
    }

    it('without --iface, --iface-regex or --iface-can-reach weftd refuses to guess between eth0, cni0 and spare0', async () => {
      const err = await lab.exec(ns('node1'), process.execPath, argsWithoutIface('node1', [])).then(() => undefined, (e: Error) => e);
      const listed = /no default route and several IPv4 interfaces \(([^)]*)\); choose one with --iface/.exec(err?.message ?? '');
      expect(listed?.[1].split(', ').sort()).toEqual(['cni0', 'eth0', SPARE]);
    }, 20_000);

    it('tries repeated --iface values in order: absent0, then eth0 (not the last, spare0)', async () => {
      await runNode1('weftd node1 ifaces', argsWithoutIface('node1', ['--iface', 'absent0', '--iface', 'eth0', '--iface', SPARE]), {}, async (log) => {
        expect(log.find((l) => l.msg === 'underlay')).toMatchObject({ iface: 'eth0', ifaceIP: lab.node('node1').underlayIp, publicIP: lab.node('node1').underlayIp });
        await waitReachable(pod1.ns, pod2.ip, 10_000);
        expect((await ping(pod1.ns, pod2.ip, { count: 3, intervalS: 0.1 })).received).toBe(3);
      });
    }, 40_000);

    it('FLANNELD_IFACE_CAN_REACH picks the interface routed to node2; FLANNELD_IPTABLES_FORWARD_RULES=false is honoured; an unknown FLANNELD_* is named', async () => {
      const env = { FLANNELD_IFACE_CAN_REACH: lab.node('node2').underlayIp, FLANNELD_IPTABLES_FORWARD_RULES: 'false', FLANNELD_KUBE_SUBNET_MGR: 'false' };
      await runNode1('weftd node1 can-reach', argsWithoutIface('node1', []), env, async (log) => {
        expect(log.find((l) => l.msg === 'underlay')).toMatchObject({ iface: 'eth0', ifaceIP: lab.node('node1').underlayIp });
        expect(log.find((l) => l.msg.startsWith('ignoring FLANNELD_*'))).toMatchObject({ env: ['FLANNELD_KUBE_SUBNET_MGR'] });
        expect(await weftRules('node1')).toEqual([]);
        await waitReachable(pod1.ns, pod2.ip, 10_000);
      });
    }, 40_000);
  });
});
