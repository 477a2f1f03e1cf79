// The lab with weft nodes: two weftd nodes and one Flannel-style kernel VXLAN node (the lab acting
// as flanneld), one pod each. Pods reach each other weft↔weft and weft↔kernel, ping and TCP both ways.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/exec.js';
import { Lab } from '../../lab/lab.js';
import { ping, tcpExchange, waitReachable } from '../../lab/probe.js';
import { processUsage } from '../../lab/proc-usage.js';
import type { PodRecord } from '../../lab/state.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

describe('lab: two weft nodes and a kernel VXLAN node', () => {
  let lab: Lab;
  let weft1: PodRecord;
  let weft2: PodRecord;
  let kernel: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}w-` });
    await lab.addNode('weft');
    await lab.addNode('weft');
    await lab.addNode('kernel');
    weft1 = await lab.addPod('node1');
    weft2 = await lab.addPod('node2');
    kernel = await lab.addPod('node3');
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  /** Waits until `from` gets a ping reply from `to` (weftd learns new leases by watching etcd). */
  async function reachable(from: PodRecord, to: PodRecord): Promise<void> {
    let last = '';
    await waitFor(
      async () => {
        const r = await ping(from.ns, to.ip, { count: 1, deadlineS: 1 });
        last = r.output;
        return r.received === 1 ? true : undefined;
      },
      10_000,
      () => new Error(`${from.name} (${from.ip}) never reached ${to.name} (${to.ip}):\n${last}`),
    );
  }

  it('the weft nodes hold Flannel-format vxlan leases that the kernel node routes to', async () => {
    const leases = await lab.leases();
    for (const name of ['node1', 'node2']) {
      const node = lab.node(name);
      expect(leases).toContainEqual(expect.objectContaining({ subnet: node.subnet, publicIp: node.underlayIp, backendType: 'vxlan', vni: 1 }));
    }
    const routes = await lab.exec(lab.node('node3').ns, 'ip', ['route', 'show', 'dev', 'flannel.1']);
    expect(routes).toContain(`${lab.node('node1').subnet} via ${lab.node('node1').subnet?.split('/')[0]} onlink`);
  });

  it('weft ↔ weft: ping and TCP both ways', async () => {
    await reachable(weft1, weft2);
    await reachable(weft2, weft1);
    expect((await ping(weft1.ns, weft2.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
    await expect(tcpExchange(weft1.ns, weft2.ns, weft2.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    await expect(tcpExchange(weft2.ns, weft1.ns, weft1.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
  });

  it('weft ↔ kernel VXLAN: ping and TCP both ways', async () => {
    await reachable(weft1, kernel);
    await reachable(kernel, weft1);
    expect((await ping(kernel.ns, weft1.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
    await expect(tcpExchange(weft1.ns, kernel.ns, kernel.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    await expect(tcpExchange(kernel.ns, weft1.ns, weft1.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
  });

  it('status shows the peers of each node: weftd /status for weft nodes, flannel.1 routes for the kernel node', async () => {
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => lab.node(n));
    const st = await lab.status();
    const peers = (name: string): string[] => st.nodes.find((n) => n.name === name)?.peers ?? [];
    expect(st.nodes.find((n) => n.name === 'node1')?.running).toBe(true);
    expect(peers('node1')).toContain(`${n3.subnet} (lease-only)`);
    expect(peers('node1').some((p) => p.startsWith(`${n2.subnet} `))).toBe(true);
    expect([...peers('node3')].sort()).toEqual([n1.subnet, n2.subnet].sort());
  });

  it('a lone ping waits for its answer by busy polling (--busy-poll); a TCP stream does not poll per packet', async () => {
    await reachable(weft1, weft2);
    const counters = async (): Promise<{ answered: number; expired: number; packetsOut: number }> => {
      const text = await lab.exec(lab.node('node1').ns, 'curl', ['-s', '127.0.0.1:8471/metrics']);
      const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
      return {
        answered: value(/^weft_dataplane_busy_polls_total\{result="answered"\} (\d+)$/m),
        expired: value(/^weft_dataplane_busy_polls_total\{result="expired"\} (\d+)$/m),
        packetsOut: value(/^weft_packets_total\{direction="out"\} (\d+)$/m),
      };
    };
    const before = await counters();
    // 20 ms apart, each request wakes node1's data plane out of silence, which then polls for the reply.
    expect((await ping(weft1.ns, weft2.ip, { count: 20, intervalS: 0.02 })).received).toBe(20);
    // The counters reach the metrics with the data plane's next stats snapshot (STATS_INTERVAL_MS).
    const polls = (c: { answered: number; expired: number }): number => c.answered + c.expired - before.answered - before.expired;
    let pinged = before;
    await waitFor(async () => ((pinged = await counters()), polls(pinged) >= 20 ? true : undefined), 5_000, () => new Error(`busy polls after 20 pings: ${polls(pinged)}, expected 20`));
    // At most two per ping: the request, and a reply that came back after the window (itself out of
    // silence); `before` may also miss the last reachable() ping.
    expect(polls(pinged)).toBeLessThanOrEqual(42);
    expect(pinged.answered - before.answered).toBeGreaterThan(0);
    await expect(tcpExchange(weft1.ns, weft2.ns, weft2.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    let streamed = pinged;
    await waitFor(async () => ((streamed = await counters()), streamed.packetsOut - pinged.packetsOut > 100 ? true : undefined), 5_000, () => new Error(`packets out during the stream: ${streamed.packetsOut - pinged.packetsOut}`));
    // Only pauses of the stream (its start, its end, a stall of the loaded machine) are quiet.
    const streamPolls = streamed.answered + streamed.expired - pinged.answered - pinged.expired;
    console.log(`busy polls: ${polls(pinged)} for 20 pings; ${streamPolls} for a 4 MiB stream of ${streamed.packetsOut - pinged.packetsOut} packets out`);
    expect(streamPolls * 20).toBeLessThan(streamed.packetsOut - pinged.packetsOut);
  });

  it('runs the data plane thread of each weftd at SCHED_FIFO 1 and every other thread normally', () => {
    for (const pid of lab.state.processes.filter((p) => p.role.startsWith('weftd')).map((p) => p.pid)) {
      const threads = readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
        return { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), rtPriority: Number(f[37]), policy: Number(f[38]) };
      });
      const realtime = threads.filter((t) => t.policy !== 0);
      expect(realtime).toEqual([{ name: 'WorkerThread', rtPriority: 1, policy: 1 }]);
    }
  });

  // An idle node should cost next to nothing: weftd's timers (gossip probes, the event-loop lag
  // sampler) and nothing per packet. Measured over 10 s after 15 s without pod traffic, so that
  // start-up work (JIT compilation, the first route swaps) is over. Issue 10's budget is 20
  // wake-ups/s and 0.5% CPU; measured here 11/s and 0.43-0.47%. The CPU bound asserted is 1%,
  // since CPU time per timer grows on a loaded machine while the wake-up count does not.
  // The CPU bound is a regression guard, not issue 10's target (0.5%, not met): with its timers on
  // time, an idle weftd makes its gossip calls at the configured rate, 0.6–0.9% of a CPU here
  // (bench/README.md, "Idle"), more when other tests load the machine; a timer firing every few
  // milliseconds would show far above it, and in the wake-ups.
  it('an idle weftd wakes fewer than 20 times a second and uses under 1.5% of a CPU', async () => {
    const pids = lab.state.processes.filter((p) => p.role.startsWith('weftd')).map((p) => p.pid);
    expect(pids).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 15_000));
    const before = pids.map(processUsage);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const seconds = (performance.now() - t0) / 1000;
    const after = pids.map(processUsage);
    pids.forEach((pid, i) => {
      const wakeups = (after[i].voluntarySwitches - before[i].voluntarySwitches) / seconds;
      const cpu = (100 * (after[i].cpuSeconds - before[i].cpuSeconds)) / seconds;
      console.log(`idle weftd ${pid}: ${wakeups.toFixed(1)} wake-ups/s, ${cpu.toFixed(2)}% CPU`);
      expect(wakeups).toBeLessThan(20);
      expect(cpu).toBeLessThan(1.5);
    });
  });

  // Last: it removes the kernel node's lease. A Flannel node does not gossip, so its lease is its
  // only route: deleting it must unroute it everywhere within a second.
  it('a deleted lease stops being routed by the weft nodes within a second', async () => {
    const n3 = lab.node('node3');
    await waitReachable(weft1.ns, kernel.ip); // routed before (one lost ping under load is not the point)
    const key = `${lab.state.etcdPrefix}/subnets/${n3.subnet?.replace('/', '-')}`;
    await lab.etcdctl('del', key);
    const deleted = Date.now();
    await waitFor(
      async () => {
        const routed = await Promise.all(['node1', 'node2'].map(async (n) => (await lab.exec(lab.node(n).ns, 'curl', ['-s', '127.0.0.1:8471/status'])).includes(`"${n3.subnet}"`)));
        return routed.every((r) => !r) ? true : undefined;
      },
      1_000,
      () => new Error(`${n3.subnet} still routed by a weft node 1 s after its lease was deleted`),
    );
    expect(Date.now() - deleted).toBeLessThan(1_000);
    const r = await ping(weft1.ns, kernel.ip, { count: 1, deadlineS: 1 });
    expect(r.received).toBe(0);
    expect(r.output).toMatch(/Destination Net Unreachable/);
  });
});
