// The health endpoint (--healthz-ip:--healthz-port):
//   GET /healthz → 200 "ok" while the process runs
//   GET /readyz  → 200 "ok" when every readiness condition holds, else 503 "not ready: a, b";
//                  either followed by "; <note>" per readiness note (e.g. etcd unreachable)
//   GET /status  → 200 JSON from the status provider (node, subnet, VtepMAC, lease expiry, etcd)
//   GET /metrics → whatever handler setMetrics() installed (issue 6), else 404
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from './readiness.js';

export type MetricsHandler = () => Promise<{ contentType: string; body: string }>;

export interface HealthServerOptions {
  readonly host: string;
  /** 0 picks a free port (see .port after listen). */
  readonly port: number;
  readonly readiness: Readiness;
  readonly status: () => unknown;
}

export class HealthServer {
  private readonly server: Server;
  private metrics: MetricsHandler | undefined;

  constructor(private readonly o: HealthServerOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1_000;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Installs the /metrics handler. */
  setMetrics(handler: MetricsHandler): void {
    this.metrics = handler;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    try {
      switch (path) {
        case '/healthz':
          return send(200, 'ok\n');
        case '/readyz': {
          const missing = this.o.readiness.missing();
          const notes = this.o.readiness.notes().map((n) => `; ${n}`).join('');
          return this.o.readiness.ready ? send(200, `ok${notes}\n`) : send(503, `not ready: ${missing.join(', ') || 'starting'}${notes}\n`);
        }
        case '/status':
          return send(200, `${JSON.stringify(this.o.status(), null, 2)}\n`, 'application/json');
        case '/metrics': {
          if (!this.metrics) return send(404, 'metrics not enabled\n');
          const m = await this.metrics();
          return send(200, m.body, m.contentType);
        }
        default:
          return send(404, 'not found (try /healthz, /readyz, /status, /metrics)\n');
      }
    } catch (err) {
      return send(500, `${(err as Error).message}\n`);
    }
  }
}
