// bench:e2e options: flags win over env (ROUNDS, DURATION, PLANES, PINGS, WEFTD_ARGS), which win over defaults.
import { parseArgs } from 'node:util';

export const PLANES = ['kernel', 'weft', 'weft-nooffload', 'underlay'] as const;
export type Plane = (typeof PLANES)[number];

export interface BenchOptions {
  rounds: number;
  /** Seconds per iperf3 test. */
  duration: number;
  /** Pings per RTT measurement, 10 ms apart. */
  pings: number;
  planes: Plane[];
  /** JSON results file. */
  out: string | undefined;
  /** Extra weftd flags for the weft plane. */
  weftdArgs: string[];
  /** Namespace prefix base; plane labs are `<base><k|w|u>-`. */
  prefix: string;
}

export const USAGE = `usage: npm run bench:e2e -- [--rounds N] [--duration S] [--planes kernel,weft,weft-nooffload,underlay] [--pings N] [--quick] [--out FILE] [--weftd-args="..."] [--prefix wb]
  env: ROUNDS (default 3), DURATION (s, default 10), PLANES (default kernel,weft,weft-nooffload), PINGS (default 200), WEFTD_ARGS
  --quick  CI smoke: 1 round of 1-second tests and 50 pings`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      planes: { type: 'string' },
      pings: { type: 'string' },
      out: { type: 'string' },
      'weftd-args': { type: 'string' },
      prefix: { type: 'string', default: 'wb' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) throw new UsageError('');
  const quick = values.quick;
  const rounds = int('--rounds', values.rounds ?? env.ROUNDS ?? (quick ? '1' : '3'), 1, 50);
  const duration = int('--duration', values.duration ?? env.DURATION ?? (quick ? '1' : '10'), 1, 600);
  const pings = int('--pings', values.pings ?? env.PINGS ?? (quick ? '50' : '200'), 10, 100_000);
  const planeList = (values.planes ?? env.PLANES ?? 'kernel,weft,weft-nooffload').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of planeList) if (!(PLANES as readonly string[]).includes(p)) throw new UsageError(`--planes: unknown plane ${p} (known: ${PLANES.join(', ')})`);
  if (planeList.length === 0) throw new UsageError('--planes: name at least one plane');
  const weftdArgs = (values['weftd-args'] ?? env.WEFTD_ARGS ?? '').split(' ').filter(Boolean);
  return { rounds, duration, pings, planes: planeList as Plane[], out: values.out, weftdArgs, prefix: values.prefix };
}

export class UsageError extends Error {}

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}, got ${text}`);
  return n;
}
