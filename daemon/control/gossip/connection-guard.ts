// The gossip port's TCP listener, in front of grpc-js (which gets each admitted socket through a
// connection injector). It bounds what a peer can hold before it has proven it holds the cluster
// key:
//   - at most maxConnections connections in all and perSource per remote address; more are
//     closed as they are accepted;
//   - a connection whose first request fails authentication, or that has carried no authenticated
//     request within authTimeoutMs of its accept, is destroyed, streams open or not. This is the
//     handshake timeout: grpc-js's idle timeout only counts time without open streams, and an
//     unauthenticated peer must not hold a connection by keeping a stream open, nor outlive a
//     session Node has given up on. Node 20's http2 answered a protocol
//     error (e.g. a SETTINGS frame of length 1) with nghttp2's GOAWAY, then stopped reading the
//     socket without emitting anything, so the peer's FIN was never read and the socket stayed in
//     CLOSE-WAIT for the life of the process (Node 24 reports it as a session error and closes).
// Once authenticated, a connection is left to grpc-js: idle timeout, keepalive, maximum age.
import net from 'node:net';

export interface ConnectionLimits {
  /** Open connections in all. */
  readonly maxConnections: number;
  /** Open connections from one remote address. */
  readonly perSource: number;
  /** A connection must carry an authenticated request within this long of its accept. */
  readonly authTimeoutMs: number;
}

export interface ConnectionCounters {
  /** Connections open now. */
  open: number;
  accepted: number;
  /** Closed at accept: over maxConnections or perSource. */
  refused: number;
  /** Destroyed for carrying no authenticated request within authTimeoutMs, or a refused one first. */
  unauthenticated: number;
}

interface Tracked {
  readonly socket: net.Socket;
  readonly source: string;
  timer: NodeJS.Timeout | undefined;
}

export class ConnectionGuard {
  readonly counters: ConnectionCounters = { open: 0, accepted: 0, refused: 0, unauthenticated: 0 };
  private readonly server: net.Server;
  private readonly conns = new Set<Tracked>();
  /**
   * "address:port" of the remote end (the form grpc-js's getPeer() gives) → the latest connection
   * from it. A peer's address and port can come back while the socket of their first use is still
   * open here (the attacker reset it; Node no longer reads it), so this is only a lookup.
   */
  private readonly byPeer = new Map<string, Tracked>();
  private readonly perSource = new Map<string, number>();

  /** `admit` hands an accepted socket to the gRPC server. */
  constructor(limits: ConnectionLimits, admit: (socket: net.Socket) => void) {
    this.server = net.createServer((socket) => {
      const source = socket.remoteAddress ?? '?';
      const fromSource = this.perSource.get(source) ?? 0;
      if (this.conns.size >= limits.maxConnections || fromSource >= limits.perSource) {
        this.counters.refused++;
        socket.destroy();
        return;
      }
      const peer = `${source}:${socket.remotePort}`;
      const t: Tracked = { socket, source, timer: undefined };
      t.timer = setTimeout(() => this.expire(t), limits.authTimeoutMs);
      t.timer.unref();
      this.conns.add(t);
      this.byPeer.set(peer, t);
      this.perSource.set(source, fromSource + 1);
      this.counters.accepted++;
      this.counters.open = this.conns.size;
      socket.once('close', () => this.forget(peer, t));
      socket.on('error', () => undefined);
      admit(socket);
    });
  }

  /** Binds; resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** The connection `peer` ("address:port") carried an authenticated request. */
  authenticated(peer: string): void {
    const t = this.byPeer.get(peer);
    if (t?.timer) {
      clearTimeout(t.timer);
      t.timer = undefined;
    }
  }

  /**
   * A request on `peer` failed authentication. A connection that never carried an authenticated
   * request is destroyed once the refusal is on its way: its other streams and any body still
   * arriving would only cost memory and CPU. An authenticated connection stays.
   */
  refused(peer: string): void {
    const t = this.byPeer.get(peer);
    if (!t?.timer) return;
    clearTimeout(t.timer);
    t.timer = undefined;
    this.counters.unauthenticated++;
    setImmediate(() => t.socket.destroy());
  }

  /** Stops accepting and destroys every connection. */
  close(): Promise<void> {
    for (const t of this.conns.values()) t.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private expire(t: Tracked): void {
    t.timer = undefined;
    if (!this.conns.has(t)) return;
    this.counters.unauthenticated++;
    t.socket.destroy();
  }

  private forget(peer: string, t: Tracked): void {
    if (t.timer) clearTimeout(t.timer);
    if (this.byPeer.get(peer) === t) this.byPeer.delete(peer);
    if (!this.conns.delete(t)) return;
    const n = (this.perSource.get(t.source) ?? 1) - 1;
    if (n > 0) this.perSource.set(t.source, n);
    else this.perSource.delete(t.source);
    this.counters.open = this.conns.size;
  }
}
