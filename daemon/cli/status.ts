// `weftd status [--healthz-ip IP] [--healthz-port PORT] [--json]`: reads GET /status from the local
// weftd's health server and prints it as a table (or, with --json, as the daemon sent it).
// Exit codes: 0 printed, 1 weftd unreachable or answered badly, 2 bad flags.
import { request } from 'node:http';
import { WeftError, errorMessage } from '../errors.js';
import { STATUS_VERSION, type WeftStatus } from '../observability/status-types.js';
import { renderStatus } from './status-render.js';

const STATUS_USAGE = `usage: weftd status [--healthz-ip IP] [--healthz-port PORT] [--json]

Shows this node (subnet, public IP, VtepMAC, lease expiry, readiness) and its peers (node,
public IP, subnet, state, last seen, packets, drops), read from weftd's /status endpoint.

  --healthz-ip IP      address of weftd's health server (default 127.0.0.1; env WEFTD_HEALTHZ_IP)
  --healthz-port PORT  port of weftd's health server (default 8471; env WEFTD_HEALTHZ_PORT)
  --json               print the /status document as JSON, for scripts
`;

export interface StatusArgs {
  readonly url: string;
  readonly json: boolean;
  readonly help: boolean;
}

/** Flags > WEFTD_* env > defaults; a wildcard listen address (0.0.0.0, ::) means loopback. */
export function parseStatusArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StatusArgs {
  let ip = env.WEFTD_HEALTHZ_IP || '127.0.0.1';
  let port = env.WEFTD_HEALTHZ_PORT || '8471';
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new WeftError('WEFT_ERR_CONFIG', `${name} needs a value\n\n${STATUS_USAGE}`);
      return next;
    };
    if (name === '--healthz-ip') ip = value();
    else if (name === '--healthz-port') port = value();
    else if (name === '--json' && eq < 0) json = true;
    else if ((name === '--help' || name === '-h') && eq < 0) help = true;
    else throw new WeftError('WEFT_ERR_CONFIG', `unknown flag ${arg} for weftd status\n\n${STATUS_USAGE}`);
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new WeftError('WEFT_ERR_CONFIG', `--healthz-port must be a port number from 1 to 65535, not "${port}"`);
  }
  if (ip === '0.0.0.0') ip = '127.0.0.1';
  if (ip === '::') ip = '::1';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return { url: `http://${host}:${port}/status`, json, help };
}

/** GET `url` and check that it is a /status document; WEFT_ERR_STATUS_UNAVAILABLE otherwise. */
function fetchStatus(url: string, timeoutMs = 3_000): Promise<{ status: WeftStatus; body: string }> {
  const unavailable = (why: string, cause?: unknown): WeftError =>
    new WeftError('WEFT_ERR_STATUS_UNAVAILABLE', `cannot reach weftd at ${url}: ${why}`, { cause });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('error', (err) => reject(unavailable(err.message, err)));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          return reject(unavailable(`it answered HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}`));
        }
        let doc: unknown;
        try {
          doc = JSON.parse(body);
        } catch (err) {
          return reject(unavailable('its answer is not JSON (is that port really weftd\'s --healthz-port?)', err));
        }
        const problem = shapeProblem(doc);
        if (problem) return reject(unavailable(`unexpected /status document (${problem}); is this weftd the same version as the CLI?`));
        resolve({ status: doc as WeftStatus, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        unavailable(
          `is it running? (${err.code ?? err.message}) Check that weftd runs on this node (kubectl -n kube-weft get pods -o wide, ` +
            'or its logs) and that --healthz-ip/--healthz-port match its own flags.',
          err,
        ),
      ),
    );
    req.end();
  });
}

function shapeProblem(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return 'not an object';
  const d = doc as Partial<Record<keyof WeftStatus, unknown>>;
  if (d.version !== STATUS_VERSION) return `version ${String(d.version)}, expected ${STATUS_VERSION}`;
  if (typeof d.node !== 'object' || d.node === null) return 'no node';
  if (!Array.isArray(d.peers)) return 'no peers list';
  if (typeof d.drops !== 'object' || d.drops === null) return 'no drops';
  return undefined;
}

export interface StatusIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now?: () => Date;
  readonly env?: NodeJS.ProcessEnv;
}

const processIo: StatusIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

/** Runs `weftd status <argv>`; resolves to the exit code. */
export async function runStatus(argv: readonly string[], io: StatusIo = processIo): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseStatusArgs(argv, io.env ?? process.env);
  } catch (err) {
    io.stderr(`weftd status: ${errorMessage(err)}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(STATUS_USAGE);
    return 0;
  }
  try {
    const { status, body } = await fetchStatus(args.url);
    io.stdout(args.json ? `${JSON.stringify(JSON.parse(body), null, 2)}\n` : renderStatus(status, io.now?.() ?? new Date()));
    return 0;
  } catch (err) {
    io.stderr(`weftd status: ${errorMessage(err)}\n`);
    return 1;
  }
}
