// Envelope authentication and body decoding: forged, replayed and malformed input is rejected with
// the right reason, and only an authentic, fresh envelope opens.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authenticator, MAC_SIZE, type Envelope } from '../../../daemon/control/gossip/auth.js';
import { codec, MalformedMessage } from '../../../daemon/control/gossip/codec.js';
import type { MemberRecord } from '../../../daemon/control/gossip/types.js';

const key = randomBytes(32);
const member: MemberRecord = { name: 'a', publicIp: '198.18.0.1', gossipPort: 8473, subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:01', vni: 1, incarnation: 3, state: 'alive' };

function pair(now = () => 1_700_000_000_000): { tx: Authenticator; rx: Authenticator } {
  return { tx: new Authenticator(key, { now }), rx: new Authenticator(key, { now }) };
}

describe('gossip envelope authentication', () => {
  it('opens an authentic envelope once, and rejects the same envelope again as a replay', () => {
    const { tx, rx } = pair();
    const body = codec.encodePing({ target: 'b', seq: 1, updates: [member] });
    const env = tx.seal('Ping', 'a', body);
    const opened = rx.open('Ping', env);
    expect(opened).toMatchObject({ ok: true, sender: 'a' });
    expect(opened.ok && codec.decodePing(opened.body)).toEqual({ target: 'b', seq: 1, updates: [member] });
    expect(rx.open('Ping', env)).toEqual({ ok: false, reason: 'replay' });
  });

  it('rejects a body, sender, timestamp or kind changed after signing, and a different key, as bad_hmac', () => {
    const { tx, rx } = pair();
    const env = tx.seal('Gossip', 'a', codec.encodeGossip({ updates: [member] }));
    const forgedBody = codec.encodeGossip({ updates: [{ ...member, subnet: '10.244.9.0/24' }] });
    expect(rx.open('Gossip', { ...env, body: forgedBody })).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', { ...env, sender: 'b' })).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', { ...env, timestampMs: env.timestampMs + 1 })).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('PushPull', env)).toEqual({ ok: false, reason: 'bad_hmac' });
    const stranger = new Authenticator(randomBytes(32), { now: () => env.timestampMs });
    expect(rx.open('Gossip', stranger.seal('Gossip', 'a', env.body))).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', env)).toMatchObject({ ok: true });
  });

  it('rejects an authentic envelope outside the time window as a replay', () => {
    let now = 1_700_000_000_000;
    const tx = new Authenticator(key, { now: () => now });
    const rx = new Authenticator(key, { now: () => now, windowMs: 30_000 });
    const env = tx.seal('Ping', 'a', Buffer.alloc(0));
    now += 30_001;
    expect(rx.open('Ping', env)).toEqual({ ok: false, reason: 'replay' });
  });

  it('accepts a reply only for the request it names', () => {
    const { tx, rx } = pair();
    const req = tx.seal('Ping', 'a', Buffer.alloc(0));
    const other = tx.seal('Ping', 'a', Buffer.alloc(0));
    const reply = rx.seal('Ping.reply', 'b', codec.encodeAck({ seq: 1, ok: true, updates: [] }), req.nonce);
    expect(tx.open('Ping.reply', reply, other.nonce)).toEqual({ ok: false, reason: 'replay' });
    expect(tx.open('Ping.reply', reply, req.nonce)).toMatchObject({ ok: true });
    // A request may not carry in_reply_to.
    expect(rx.open('Ping', rx.seal('Ping', 'a', Buffer.alloc(0), req.nonce))).toEqual({ ok: false, reason: 'replay' });
  });

  it('rejects envelopes of the wrong shape as malformed', () => {
    const { tx, rx } = pair();
    const env = tx.seal('Ping', 'a', Buffer.alloc(0));
    const bad: Envelope[] = [
      { ...env, nonce: env.nonce.subarray(0, 8) },
      { ...env, mac: Buffer.alloc(MAC_SIZE - 1) },
      { ...env, sender: '' },
      { ...env, sender: 'x'.repeat(300) },
    ];
    for (const e of bad) expect(rx.open('Ping', e)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('remembers a bounded number of nonces', () => {
    const { tx } = pair();
    const rx = new Authenticator(key, { now: () => 1_700_000_000_000, maxNonces: 10 });
    for (let i = 0; i < 25; i++) expect(rx.open('Ping', tx.seal('Ping', 'a', Buffer.alloc(0)))).toMatchObject({ ok: true });
    expect(rx.nonceEvictions).toBe(15);
  });
});

describe('gossip body decoding', () => {
  it('rejects undecodable bytes and invalid members as malformed', () => {
    expect(() => codec.decodePing(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(MalformedMessage);
    const cases: Partial<MemberRecord>[] = [{ publicIp: 'not-an-ip' }, { gossipPort: 0 }, { name: '' }, { subnet: 'x'.repeat(100) }];
    for (const c of cases) expect(() => codec.decodeGossip(codec.encodeGossip({ updates: [{ ...member, ...c }] }))).toThrow(MalformedMessage);
  });

  it('round-trips every message', () => {
    expect(codec.decodeAck(codec.encodeAck({ seq: 7, ok: false, updates: [member] }))).toEqual({ seq: 7, ok: false, updates: [member] });
    expect(codec.decodePingReq(codec.encodePingReq({ target: member, seq: 2, updates: [] }))).toEqual({ target: member, seq: 2, updates: [] });
    const all = (['alive', 'suspect', 'dead', 'left'] as const).map((state, i) => ({ ...member, name: `m${i}`, state }));
    expect(codec.decodePushPull(codec.encodePushPull({ join: true, members: all }))).toEqual({ join: true, members: all });
  });
});
