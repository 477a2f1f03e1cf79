// bench:e2e options: flags win over env (ROUNDS, DURATION, PLANES, TESTS, PINGS, WEFTD_ARGS), which win over defaults.
import { parseArgs } from 'node:util';
import { DEFAULT_TESTS, IPV6_TESTS, TESTS, type TestId } from './measure.js';

export const PLANES = ['kernel', 'weft', 'weft-nooffload', 'weft-nocache', 'underlay'] as const;
export type Plane = (typeof PLANES)[number];

export interface BenchOptions {
  rounds: number;
  /** Seconds per iperf3 test. */
  duration: number;
  /** Pings per RTT measurement, 10 ms apart. */
  pings: number;
  planes: Plane[];
  /** The tests of each round, in order (default DEFAULT_TESTS); an IPv6 one makes every plane's lab dual-stack. */
  tests: TestId[];
  /** JSON results file. */
  out: string | undefined;
  /** Extra weftd flags for the weft plane. */
  weftdArgs: string[];
  /** Namespace prefix base; plane labs are `<base><k|w|u>-`. */
  prefix: string;
}

export const USAGE = `usage: npm run bench:e2e -- [--rounds N] [--duration S] [--planes kernel,weft,weft-nooffload,weft-nocache,underlay] [--tests ${TESTS.join(',')}] [--ipv6] [--pings N] [--quick] [--out FILE] [--weftd-args="..."] [--prefix wb]
  env: ROUNDS (default 3), DURATION (s, default 10), PLANES (default kernel,weft,weft-nooffload), TESTS (default ${DEFAULT_TESTS.join(',')}), PINGS (default 200), WEFTD_ARGS
  --ipv6   add tcp1v6 (TCP 1 stream over IPv6) after tcp1; with it, or with tcp1v6 in --tests, every plane's lab is dual-stack
  --quick  CI smoke: 1 round of 1-second tests and 50 pings`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      planes: { type: 'string' },
      tests: { type: 'string' },
      ipv6: { type: 'boolean', default: false },
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
  const tests = testList(values.tests ?? env.TESTS, values.ipv6);
  if (tests.some((t) => IPV6_TESTS.includes(t)) && planeList.includes('underlay')) {
    throw new UsageError('--planes: the underlay plane is IPv4 only (the lab builds host-gw for IPv4); leave it out when measuring over IPv6');
  }
  const weftdArgs = (values['weftd-args'] ?? env.WEFTD_ARGS ?? '').split(' ').filter(Boolean);
  return { rounds, duration, pings, planes: planeList as Plane[], tests, out: values.out, weftdArgs, prefix: values.prefix };
}

/** `--tests` (or TESTS) as a list, DEFAULT_TESTS without it; `--ipv6` adds tcp1v6 after tcp1. */
function testList(text: string | undefined, ipv6: boolean): TestId[] {
  const list = (text ?? DEFAULT_TESTS.join(',')).split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of list) if (!(TESTS as readonly string[]).includes(t)) throw new UsageError(`--tests: unknown test ${t} (known: ${TESTS.join(', ')})`);
  if (list.length === 0) throw new UsageError('--tests: name at least one test');
  if (new Set(list).size !== list.length) throw new UsageError(`--tests: a test is named twice in ${list.join(',')}`);
  const tests = list as TestId[];
  if (!ipv6 || tests.includes('tcp1v6')) return tests;
  const at = tests.indexOf('tcp1');
  return at < 0 ? [...tests, 'tcp1v6'] : [...tests.slice(0, at + 1), 'tcp1v6', ...tests.slice(at + 1)];
}

export class UsageError extends Error {}

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}, got ${text}`);
  return n;
}
