// Envelope authentication and body decoding: forged, replayed, misdirected and malformed input is
// rejected with the right reason, and only an authentic, fresh envelope for this member opens.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authenticator, MAC_SIZE, MAX_SENDER_LENGTH, type Envelope } from '../../../../daemon/control/gossip/auth.js';
import protobuf from 'protobufjs';
import { codec, decodeHeader, encodeHeader, gossipProtoPath, MalformedMessage, MAX_BODY_SIZE, MAX_MEMBERS_PER_MESSAGE } from '../../../../daemon/control/gossip/codec.js';
import type { MemberRecord } from '../../../../daemon/control/gossip/types.js';

const key = randomBytes(32);
const member: MemberRecord = { name: 'a', publicIp: '198.18.0.1', gossipPort: 8473, subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:01', vni: 1, incarnation: 3, state: 'alive' };

function pair(now = () => 1_700_000_000_000): { tx: Authenticator; rx: Authenticator } {
  return { tx: new Authenticator(key, { now }), rx: new Authenticator(key, { now }) };
}

const B = { self: 'b' };
const A = (replyTo?: Buffer) => ({ self: 'a', replyTo });

describe('gossip envelope authentication', () => {
  it('opens an authentic envelope once, and rejects the same envelope again as a replay', () => {
    const { tx, rx } = pair();
    const body = codec.encodePing({ target: 'b', seq: 1, updates: [member] });
    const env = tx.seal('Ping', 'a', 'b', body);
    const opened = rx.open('Ping', env, B);
    expect(opened).toMatchObject({ ok: true, sender: 'a' });
    expect(opened.ok && codec.decodePing(opened.body)).toEqual({ target: 'b', seq: 1, updates: [member] });
    expect(rx.open('Ping', env, B)).toEqual({ ok: false, reason: 'replay' });
  });

  it('rejects a body, sender, recipient, timestamp or kind changed after signing, and a different key, as bad_hmac', () => {
    const { tx, rx } = pair();
    const env = tx.seal('Gossip', 'a', 'b', codec.encodeGossip({ updates: [member] }));
    const forgedBody = codec.encodeGossip({ updates: [{ ...member, subnet: '10.244.9.0/24' }] });
    // A header that authenticates uses up its nonce, even if the body then fails its digest.
    const other = tx.seal('Gossip', 'a', 'b', env.body);
    expect(rx.open('Gossip', { ...other, body: forgedBody }, B)).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', { ...env, sender: 'c' }, B)).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', { ...env, recipient: 'c' }, { self: 'c' })).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', { ...env, timestampMs: env.timestampMs + 1 }, B)).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('PushPull', env, B)).toEqual({ ok: false, reason: 'bad_hmac' });
    const stranger = new Authenticator(randomBytes(32), { now: () => env.timestampMs });
    expect(rx.open('Gossip', stranger.seal('Gossip', 'a', 'b', env.body), B)).toEqual({ ok: false, reason: 'bad_hmac' });
    expect(rx.open('Gossip', env, B)).toMatchObject({ ok: true });
  });

  it('authenticates a header before its body, then binds the body to it by its digest', () => {
    const { tx, rx } = pair();
    const env = tx.seal('Gossip', 'a', 'b', codec.encodeGossip({ updates: [member] }));
    const { body: _body, ...header } = env;
    expect(rx.openHeader('Gossip', header, B)).toMatchObject({ ok: true, sender: 'a' });
    expect(rx.matchBody(header, env.body)).toBe(true);
    expect(rx.matchBody(header, codec.encodeGossip({ updates: [] }))).toBe(false);
    expect(rx.openHeader('Gossip', header, B)).toEqual({ ok: false, reason: 'replay' });
  });

  it('refuses an envelope captured on its way to another member (misdirected), even with a fresh nonce cache', () => {
    const { tx } = pair();
    const env = tx.seal('Gossip', 'a', 'b', codec.encodeGossip({ updates: [member] }));
    const elsewhere = new Authenticator(key, { now: () => env.timestampMs });
    expect(elsewhere.open('Gossip', env, { self: 'c' })).toEqual({ ok: false, reason: 'misdirected' });
    // Only a PushPull may leave its recipient empty (a join through a seed whose name is unknown).
    const join = tx.seal('PushPull', 'a', '', Buffer.alloc(0));
    expect(elsewhere.open('PushPull', join, { self: 'c' })).toEqual({ ok: false, reason: 'misdirected' });
    expect(elsewhere.open('PushPull', join, { self: 'c', allowUnnamed: true })).toMatchObject({ ok: true });
  });

  it('signs with the MAC proto/gossip.proto specifies, byte for byte', () => {
    const { tx, rx } = pair();
    const request = tx.seal('Ping', 'a', 'b', Buffer.alloc(0));
    const reply = rx.seal('Ping.reply', 'nœud-b', 'a', Buffer.from('body'), request.nonce);
    const lengthPrefixed = (part: Buffer): Buffer[] => [Buffer.from([0, 0, part.length >> 8, part.length & 0xff]), part];
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(reply.timestampMs));
    const fields = [Buffer.from('weft-gossip-v2'), Buffer.from('Ping.reply'), Buffer.from('nœud-b'), Buffer.from('a'), ts, reply.nonce, request.nonce, createHash('sha256').update('body').digest()];
    expect(reply.bodySha256).toEqual(fields[7]);
    expect(reply.mac).toEqual(createHmac('sha256', key).update(Buffer.concat(fields.flatMap(lengthPrefixed))).digest());
    expect(tx.open('Ping.reply', reply, A(request.nonce))).toMatchObject({ ok: true, sender: 'nœud-b' });
  });

  it('verifies with every key of a rotation and signs with the first', () => {
    const next = randomBytes(32);
    const now = () => 1_700_000_000_000;
    const old = new Authenticator(key, { now });
    const rotating = new Authenticator([next, key], { now });
    const renewed = new Authenticator(next, { now });
    expect(rotating.open('Ping', old.seal('Ping', 'a', 'b', Buffer.alloc(0)), B)).toMatchObject({ ok: true });
    expect(rotating.open('Ping', renewed.seal('Ping', 'a', 'b', Buffer.alloc(0)), B)).toMatchObject({ ok: true });
    expect(renewed.open('Ping', rotating.seal('Ping', 'a', 'b', Buffer.alloc(0)), B)).toMatchObject({ ok: true });
    expect(old.open('Ping', rotating.seal('Ping', 'a', 'b', Buffer.alloc(0)), B)).toEqual({ ok: false, reason: 'bad_hmac' });
  });

  it('rejects an authentic envelope outside the time window as a replay', () => {
    let now = 1_700_000_000_000;
    const tx = new Authenticator(key, { now: () => now });
    const rx = new Authenticator(key, { now: () => now, windowMs: 30_000 });
    const env = tx.seal('Ping', 'a', 'b', Buffer.alloc(0));
    now += 30_001;
    expect(rx.open('Ping', env, B)).toEqual({ ok: false, reason: 'replay' });
  });

  it('accepts a reply only for the request it names', () => {
    const { tx, rx } = pair();
    const req = tx.seal('Ping', 'a', 'b', Buffer.alloc(0));
    const other = tx.seal('Ping', 'a', 'b', Buffer.alloc(0));
    const reply = rx.seal('Ping.reply', 'b', 'a', codec.encodeAck({ seq: 1, ok: true, updates: [] }), req.nonce);
    expect(tx.open('Ping.reply', reply, A(other.nonce))).toEqual({ ok: false, reason: 'replay' });
    expect(tx.open('Ping.reply', reply, A(req.nonce))).toMatchObject({ ok: true });
    // A request may not carry in_reply_to.
    expect(rx.open('Ping', rx.seal('Ping', 'a', 'b', Buffer.alloc(0), req.nonce), B)).toEqual({ ok: false, reason: 'replay' });
  });

  it('rejects envelopes of the wrong shape as malformed', () => {
    const { tx, rx } = pair();
    const env = tx.seal('Ping', 'a', 'b', Buffer.alloc(0));
    const bad: Envelope[] = [
      { ...env, nonce: env.nonce.subarray(0, 8) },
      { ...env, mac: Buffer.alloc(MAC_SIZE - 1) },
      { ...env, bodySha256: Buffer.alloc(0) },
      { ...env, sender: '' },
      { ...env, sender: 'x'.repeat(300) },
      { ...env, recipient: 'x'.repeat(300) },
    ];
    for (const e of bad) expect(rx.open('Ping', e, B)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('remembers a bounded number of nonces', () => {
    const { tx } = pair();
    const rx = new Authenticator(key, { now: () => 1_700_000_000_000, maxNonces: 10 });
    for (let i = 0; i < 25; i++) expect(rx.open('Ping', tx.seal('Ping', 'a', 'b', Buffer.alloc(0)), B)).toMatchObject({ ok: true });
    expect(rx.nonceEvictions).toBe(15);
  });
});

describe('gossip body decoding', () => {
  it('rejects undecodable bytes and invalid members as malformed', () => {
    expect(() => codec.decodePing(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(MalformedMessage);
    const cases: Partial<MemberRecord>[] = [{ publicIp: 'not-an-ip' }, { gossipPort: 0 }, { name: '' }, { subnet: 'x'.repeat(100) }, { vtepMac: 'x'.repeat(18) }, { incarnation: 2 ** 60 }];
    for (const c of cases) expect(() => codec.decodeGossip(codec.encodeGossip({ updates: [{ ...member, ...c }] }))).toThrow(MalformedMessage);
  });

  it('carries incarnations beyond 32 bits (the old wire field overflowed at 2^32)', () => {
    const big = { ...member, incarnation: 2 ** 32 };
    expect(codec.decodeGossip(codec.encodeGossip({ updates: [big, { ...member, incarnation: Number.MAX_SAFE_INTEGER }] })).updates.map((u) => u.incarnation)).toEqual([2 ** 32, Number.MAX_SAFE_INTEGER]);
  });

  it('sizes the largest message from the member list limit', () => {
    expect(MAX_BODY_SIZE).toBeGreaterThan(MAX_MEMBERS_PER_MESSAGE * 600);
    expect(MAX_BODY_SIZE).toBeLessThan(8 << 20);
    const many = Array.from({ length: MAX_MEMBERS_PER_MESSAGE }, (_, i) => ({ ...member, name: `node-${i}.`.padEnd(MAX_SENDER_LENGTH, 'x'), accuser: 'y'.repeat(MAX_SENDER_LENGTH), state: 'suspect' as const, incarnation: Number.MAX_SAFE_INTEGER }));
    expect(codec.encodePushPull({ join: true, members: many }).length).toBeLessThanOrEqual(MAX_BODY_SIZE);
    expect(() => codec.decodePushPull(codec.encodePushPull({ join: true, members: [...many, member] }))).toThrow(/too many members/);
  });

  it('bounds push-pull digests: a power of two of at most 4096 buckets, differing indices below 4096', () => {
    const ok = { join: false, members: [], digest: [1, 2, 0xffffffff, 0], differing: [0, 4_095] };
    expect(codec.decodePushPull(codec.encodePushPull(ok))).toEqual(ok);
    expect(codec.decodePushPull(codec.encodePushPull({ join: false, members: [] }))).toEqual({ join: false, members: [] });
    for (const bad of [{ digest: [1, 2, 3] }, { digest: new Array<number>(8_192).fill(1) }, { differing: [4_096] }, { differing: new Array<number>(4_097).fill(0) }]) {
      expect(() => codec.decodePushPull(codec.encodePushPull({ join: false, members: [], ...bad }))).toThrow(MalformedMessage);
    }
  });

  it('encodes the bytes of protobufjs\'s fromObject path, states by their proto names', () => {
    const Gossip = protobuf.loadSync(gossipProtoPath()).lookupType('weft.gossip.v1.GossipUpdates');
    const states = { alive: 'MEMBER_STATE_ALIVE', suspect: 'MEMBER_STATE_SUSPECT', dead: 'MEMBER_STATE_DEAD', left: 'MEMBER_STATE_LEFT' } as const;
    const updates = (['alive', 'suspect', 'dead', 'left'] as const).map((state, i) => ({ ...member, name: `m${i}`, state, incarnation: 2 ** (8 * i + 20) }));
    const viaFromObject = Gossip.encode(Gossip.fromObject({ updates: updates.map((u) => ({ ...u, state: states[u.state], accuser: '' })) })).finish();
    expect(codec.encodeGossip({ updates })).toEqual(Buffer.from(viaFromObject));
  });

  it('reads a request header back as it was sent; a timestamp beyond 2^53 cannot pass as a safe integer', () => {
    const header = { sender: 'a', recipient: '', timestampMs: 1_700_000_000_000, nonce: randomBytes(16), inReplyTo: Buffer.alloc(0), bodySha256: randomBytes(32), mac: randomBytes(32) };
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
    expect(Number.isSafeInteger(decodeHeader(encodeHeader({ ...header, timestampMs: 2 ** 60 })).timestampMs)).toBe(false);
    expect(() => decodeHeader(Buffer.from([0xff, 0xff, 0xff]))).toThrow(MalformedMessage);
  });

  it('round-trips every message', () => {
    expect(codec.decodeAck(codec.encodeAck({ seq: 7, ok: false, updates: [member] }))).toEqual({ seq: 7, ok: false, updates: [member] });
    expect(codec.decodePingReq(codec.encodePingReq({ target: member, seq: 2, updates: [] }))).toEqual({ target: member, seq: 2, updates: [] });
    const all = (['alive', 'suspect', 'dead', 'left'] as const).map((state, i) => ({ ...member, name: `m${i}`, state }));
    expect(codec.decodePushPull(codec.encodePushPull({ join: true, members: all }))).toEqual({ join: true, members: all });
  });
});
