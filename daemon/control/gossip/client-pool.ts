// gRPC clients to gossip peers, one per address per process, shared by every transport in the
// process (clients carry no identity: each envelope names and signs its sender). A client is
// closed when the last transport using it closes, or after CLIENT_IDLE_MS without calls.
import * as grpc from '@grpc/grpc-js';
import type { GossipClient } from '../../../proto/generated/weft/gossip/v1/Gossip.js';
import { MAX_MESSAGE_SIZE } from './codec.js';

/**
 * Reconnect fast: a restarted peer must be reachable again within a probe interval or two. No
 * channelz (as on the server): nothing reads it, and it timestamps every call.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.enable_channelz': 0,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.enable_retries': 0,
  'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
  'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
};
const CLIENT_IDLE_MS = 60_000;

type ClientConstructor = new (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions) => GossipClient;

interface Pooled {
  client: GossipClient;
  readonly Client: ClientConstructor;
  users: Set<object>;
  lastUsed: number;
}

const pool = new Map<string, Pooled>();
let sweep: NodeJS.Timeout | undefined;

/** The shared client for `address`, on behalf of `user` (released by releaseClients(user)). */
export function gossipClient(Client: ClientConstructor, address: string, user: object): GossipClient {
  let p = pool.get(address);
  if (!p) {
    p = { client: newClient(Client, address), Client, users: new Set(), lastUsed: 0 };
    pool.set(address, p);
    if (!sweep) {
      sweep = setInterval(closeIdle, CLIENT_IDLE_MS / 2);
      sweep.unref();
    }
  }
  p.users.add(user);
  p.lastUsed = Date.now();
  return p.client;
}

/**
 * Dials `address` now: a channel waiting out its reconnect backoff (the peer was down) is replaced
 * by a fresh one, so a peer that just came back answers the next probe instead of being suspected.
 */
export function redial(address: string): void {
  const p = pool.get(address);
  if (!p) return;
  const channel = p.client.getChannel();
  if (channel.getConnectivityState(true) !== grpc.connectivityState.TRANSIENT_FAILURE) return;
  p.client.close();
  p.client = newClient(p.Client, address);
  p.client.getChannel().getConnectivityState(true);
}

function newClient(Client: ClientConstructor, address: string): GossipClient {
  return new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** `user` no longer needs its clients; those nobody else uses are closed. */
export function releaseClients(user: object): void {
  for (const [addr, p] of pool) {
    if (p.users.delete(user) && p.users.size === 0) drop(addr, p);
  }
}

function closeIdle(): void {
  const cutoff = Date.now() - CLIENT_IDLE_MS;
  for (const [addr, p] of pool) if (p.lastUsed < cutoff) drop(addr, p);
}

function drop(addr: string, p: Pooled): void {
  p.client.close();
  pool.delete(addr);
  if (pool.size === 0 && sweep) {
    clearInterval(sweep);
    sweep = undefined;
  }
}
