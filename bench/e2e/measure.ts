// One measurement of one plane: iperf3 (client in pod 1, server in pod 2, over IPv4, or IPv6 for
// tcp1v6), ping, or TCP request/response (rr.ts, server in pod 2), parsed into numbers. A failed measurement is a sample with an error, so one bad
// plane cannot end the run.
import { fileURLToPath } from 'node:url';
import { nsRun } from '../../lab/exec.js';
import { addressOf, ping } from '../../lab/probe.js';
import { cpuSnapshot, cpuSpent, type CpuSnapshot } from './cpu.js';
import type { PlaneLab } from './planes.js';

export type MetricId = 'tcp1' | 'tcp1v6' | 'tcp4' | 'udp1400' | 'udp64' | 'pingAvg' | 'pingP99' | 'rrAvg' | 'rrP99';

export interface MetricInfo {
  id: MetricId;
  label: string;
  unit: string;
}

export const METRICS: readonly MetricInfo[] = [
  { id: 'tcp1', label: 'TCP 1 stream (iperf3 -C cubic)', unit: 'Mbit/s' },
  { id: 'tcp1v6', label: 'TCP 1 stream IPv6 (iperf3 -C cubic)', unit: 'Mbit/s' },
  { id: 'tcp4', label: 'TCP 4 streams', unit: 'Mbit/s' },
  { id: 'udp1400', label: 'UDP 1400 B received (loss)', unit: 'kpps' },
  { id: 'udp64', label: 'UDP 64 B received (loss)', unit: 'kpps' },
  { id: 'pingAvg', label: 'ping RTT avg', unit: 'ms' },
  { id: 'pingP99', label: 'ping RTT p99', unit: 'ms' },
  { id: 'rrAvg', label: 'TCP request/response RTT avg', unit: 'ms' },
  { id: 'rrP99', label: 'TCP request/response RTT p99', unit: 'ms' },
];

export interface Sample {
  metric: MetricId;
  value: number | null;
  /** UDP: percent of datagrams lost. */
  lossPct?: number;
  error?: string;
  /** What the test carried: bytes received (TCP) or datagrams received (UDP). */
  carried?: number;
  /** CPU seconds the test cost: weftd on node1 and node2, and the machine. */
  cpu?: CpuSnapshot;
}

/** Every test; `ping` and `rr` yield an average and a p99 RTT metric, the others the metric of their name. */
export const TESTS = ['tcp1', 'tcp1v6', 'tcp4', 'udp1400', 'udp64', 'ping', 'rr'] as const;
export type TestId = (typeof TESTS)[number];
/** The tests of one round unless asked for others, in order. */
export const DEFAULT_TESTS: readonly TestId[] = ['tcp1', 'tcp4', 'udp1400', 'udp64', 'ping', 'rr'];
/** Tests between the pods' IPv6 addresses: they need dual-stack labs. */
export const IPV6_TESTS: readonly TestId[] = ['tcp1v6'];

/** The metrics `tests` yield, in METRICS order (the table's rows). */
export function metricsOf(tests: readonly TestId[]): MetricInfo[] {
  return METRICS.filter((m) => tests.includes(testOf(m.id)));
}

function testOf(metric: MetricId): TestId {
  if (metric === 'pingAvg' || metric === 'pingP99') return 'ping';
  if (metric === 'rrAvg' || metric === 'rrP99') return 'rr';
  return metric;
}

/** The request/response tool (rr.ts) and the port its server listens on in pod 2. */
export const RR_SCRIPT = fileURLToPath(new URL('./rr.js', import.meta.url));
export const RR_PORT = 7000;
/** Request/response round trips per measurement, one every RR_GAP_MS (after rr.ts's lead-in). */
const RR_COUNT = 1000;
const RR_GAP_MS = 2;

/**
 * The planes in the order round `round` (1, 2, …) measures them: rotated by one each round, so that
 * each plane takes each position in turn and no plane's figures carry an effect of its position
 * (two runs with the order fixed had the weft plane right after kernel VXLAN pinging slower than
 * the other, whichever it was; bench/README.md).
 */
export function roundOrder<T>(planes: readonly T[], round: number): T[] {
  const k = (round - 1) % planes.length;
  return [...planes.slice(k), ...planes.slice(0, k)];
}

/** Pings sent, and not counted, before a plane's measured ones. */
export const PING_LEAD_IN = 50;

export async function measure(p: PlaneLab, test: TestId, duration: number, pings: number): Promise<Sample[]> {
  const before = cpuSnapshot(p.weftdPids);
  const samples = await measureOnce(p, test, duration, pings);
  const cpu = cpuSpent(before, cpuSnapshot(p.weftdPids));
  return samples.map((s) => (s.carried === undefined ? s : { ...s, cpu }));
}

async function measureOnce(p: PlaneLab, test: TestId, duration: number, pings: number): Promise<Sample[]> {
  try {
    switch (test) {
      case 'tcp1':
        return [await tcp(p, p.server.ip, duration, 1, 'tcp1')];
      case 'tcp1v6':
        return [await tcp(p, addressOf(p.server, 6), duration, 1, 'tcp1v6')];
      case 'tcp4':
        return [await tcp(p, p.server.ip, duration, 4, 'tcp4')];
      case 'udp1400':
        return [await udp(p, duration, 1400, 'udp1400')];
      case 'udp64':
        return [await udp(p, duration, 64, 'udp64')];
      case 'ping': {
        // Unrecorded lead-in: the plane measured right after kernel VXLAN (which leaves the vCPUs
        // near idle) pinged 10-25% slower than the next (bench/README.md); half a second of pings
        // first puts every plane's measurement in the same state.
        await ping(p.client.ns, p.server.ip, { count: PING_LEAD_IN, intervalS: 0.01, deadlineS: 5 });
        const r = await ping(p.client.ns, p.server.ip, { count: pings, intervalS: 0.01, deadlineS: Math.ceil(pings * 0.01 + 5) });
        if (r.received === 0) throw new Error(`no ping reply out of ${r.sent}`);
        return [
          { metric: 'pingAvg', value: r.avgMs, lossPct: (100 * (r.sent - r.received)) / r.sent },
          { metric: 'pingP99', value: r.p99Ms },
        ];
      }
      case 'rr': {
        const out = await nsRun(p.client.ns, process.execPath, [RR_SCRIPT, 'client', p.server.ip, String(RR_PORT), String(RR_COUNT), String(RR_GAP_MS)], { timeout: 60_000 });
        const r = JSON.parse(out) as { avgMs: number; p99Ms: number };
        return [
          { metric: 'rrAvg', value: r.avgMs },
          { metric: 'rrP99', value: r.p99Ms },
        ];
      }
    }
  } catch (err) {
    const error = (err as Error).message.split('\n').slice(0, 3).join(' ');
    return metricsOf([test]).map((m) => ({ metric: m.id, value: null, error }));
  }
}

interface IperfSum {
  seconds: number;
  bytes: number;
  bits_per_second: number;
  packets?: number;
  lost_packets?: number;
  lost_percent?: number;
}

/** iperf3 from the client pod to the server pod's `serverIp` (either family: the plane runs a server on each). */
async function iperf(p: PlaneLab, serverIp: string, duration: number, extra: string[]): Promise<{ sum_received: IperfSum }> {
  let out: string;
  try {
    out = await nsRun(p.client.ns, 'iperf3', ['-c', serverIp, '-t', String(duration), '-J', ...extra], { timeout: (duration + 20) * 1000 });
  } catch (err) {
    // iperf3 -J reports its own failures as JSON on stdout, with a non-zero exit.
    const m = /"error":\s*"([^"]+)"/.exec((err as Error).message);
    throw m ? new Error(`iperf3: ${m[1]}`) : err;
  }
  const body = JSON.parse(out) as { error?: string; end?: { sum_received: IperfSum } };
  if (body.error || !body.end) throw new Error(`iperf3: ${body.error ?? 'no result'}`);
  return body.end;
}

async function tcp(p: PlaneLab, serverIp: string, duration: number, streams: number, metric: MetricId): Promise<Sample> {
  const end = await iperf(p, serverIp, duration, ['-C', 'cubic', '-P', String(streams)]);
  return { metric, value: end.sum_received.bits_per_second / 1e6, carried: end.sum_received.bytes };
}

async function udp(p: PlaneLab, duration: number, size: number, metric: MetricId): Promise<Sample> {
  // Unpaced sender; 4 MiB socket buffers (net.core.rmem_max here) so that bursts are not lost in the
  // receiving pod's socket: with the 208 KiB default, kernel VXLAN loses 10–17% and reads far below
  // ANCHORS.md; with 4 MiB it matches (≈67 kpps at 1400 B, ≈74 kpps at 64 B, no loss).
  const end = await iperf(p, p.server.ip, duration, ['-u', '-b', '0', '-w', '4M', '-l', String(size)]);
  const s = end.sum_received;
  const received = (s.packets ?? 0) - (s.lost_packets ?? 0);
  return { metric, value: received / s.seconds / 1000, lossPct: s.lost_percent ?? 0, carried: received };
}
