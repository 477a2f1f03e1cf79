// What a process costs, read from /proc: CPU seconds (utime + stime of the thread group) and context
// switches summed over its threads (voluntary ones are wake-ups after waiting; involuntary ones are
// preemptions). Used by bench:e2e (CPU per GB) and the idle test (wake-ups of a quiet weftd).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessUsage {
  readonly cpuSeconds: number;
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc times (getconf CLK_TCK; 100 on Linux). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds of the process (all its threads), or NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** CPU time and context switches of the process's live threads; throws when it is gone. */
export function processUsage(pid: number): ProcessUsage {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  const cpu = cpuSeconds(pid);
  if (Number.isNaN(cpu)) throw new Error(`process ${pid} is gone`);
  return { cpuSeconds: cpu, voluntarySwitches: voluntary, involuntarySwitches: involuntary };
}
