// The CPU a measurement cost: seconds weftd spent on each node (all its threads: utime + stime of
// /proc/<pid>/stat, which sums the thread group) and on the whole machine (/proc/stat, every CPU,
// everything but idle and iowait), so that a change that saves CPU shows even where the machine's
// load hides it in throughput. Kernel VXLAN has no process to charge: its work is in softirq and
// shows only in the machine figure.
import { readFileSync } from 'node:fs';
import { clockTicks, cpuSeconds } from '../../lab/proc-usage.js';

export interface CpuSnapshot {
  /** CPU seconds of each watched process (NaN once it is gone). */
  readonly processes: readonly number[];
  /** Non-idle CPU seconds of the machine, all CPUs. */
  readonly machine: number;
}

function machineSeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7];
  return busy / clockTicks();
}

export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  return { processes: pids.map(cpuSeconds), machine: machineSeconds() };
}

/** CPU seconds spent between two snapshots. */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return { processes: after.processes.map((s, i) => s - before.processes[i]), machine: after.machine - before.machine };
}
