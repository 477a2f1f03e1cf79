// Is a weftd alive as `name` at `publicIp:gossipPort`? One authenticated gossip ping addressed to
// that name, from a short-lived transport (bound to loopback, port 0, serving nothing). An ack
// proves a live member holding the cluster key and that name; no answer, a refusal or a rejected
// reply means no. The ping carries no updates, so the holder learns nothing about the asker. If
// the probe cannot run at all (no loopback), the answer is no, as Flannel would assume, with a warning.
import type { Logger } from 'pino';
import { errorMessage } from '../../errors.js';
import type { AuthOptions } from './auth.js';
import { GrpcTransport } from './grpc-transport.js';
import { newGossipStats } from './stats.js';
import { memberAddress } from './types.js';

export interface HolderProbeOptions {
  readonly key: Buffer | readonly Buffer[];
  /** This node's name, the envelope sender. */
  readonly sender: string;
  readonly logger: Logger;
  readonly auth?: AuthOptions;
  /** Pings before giving up (the first one also connects); default 2. */
  readonly attempts?: number;
  /** Per ping; default 1 000 ms. */
  readonly timeoutMs?: number;
}

export async function gossipAnswers(o: HolderProbeOptions, holder: { readonly name: string; readonly publicIp: string; readonly gossipPort: number }): Promise<boolean> {
  let transport: GrpcTransport;
  try {
    transport = await GrpcTransport.listen({ host: '127.0.0.1', port: 0, key: o.key, sender: o.sender, stats: newGossipStats(), logger: o.logger, auth: o.auth });
  } catch (err) {
    o.logger.warn({ holder: holder.name, err: errorMessage(err) }, `cannot ask ${holder.name} whether it is alive; taking it as gone`);
    return false;
  }
  try {
    const address = memberAddress(holder);
    for (let i = 0; i < (o.attempts ?? 2); i++) {
      const ack = await transport.ping(address, { target: holder.name, seq: i + 1, updates: [] }, o.timeoutMs ?? 1_000).catch(() => undefined);
      if (ack?.ok) return true;
    }
    return false;
  } finally {
    await transport.close(0);
  }
}
