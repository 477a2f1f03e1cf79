// The simulator's byte counts equal what the real codec and Envelope encoding produce.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { codec, gossipProtoPath } from '../../../daemon/control/gossip/codec.js';
import type { MemberRecord } from '../../../daemon/control/gossip/types.js';
import { memberInfo } from '../../../sim/gossip/cluster.js';
import { bodySize, envelopeSize } from '../../../sim/gossip/wire-size.js';

const records: MemberRecord[] = [
  { ...memberInfo(0), incarnation: 0, state: 'alive' },
  { ...memberInfo(7), incarnation: 1, state: 'suspect', accuser: 'n12' },
  { ...memberInfo(4_999), incarnation: 300, state: 'dead' },
  { ...memberInfo(70_000), incarnation: 2 ** 31, state: 'left' },
  { name: 'ip-10-0-12-34.eu-west-1.compute.internal', publicIp: '2001:db8::1', gossipPort: 65_535, subnet: '10.244.200.0/24', vtepMac: 'aa:bb:cc:dd:ee:ff', vni: 4_096, incarnation: 5, state: 'alive' },
];

describe('sim wire sizes', () => {
  it('match the codec for every message kind', () => {
    for (let k = 0; k <= records.length; k++) {
      const updates = records.slice(0, k);
      for (const seq of [0, 1, 200, 2 ** 31]) {
        expect(bodySize.ping({ target: 'n3', seq, updates })).toBe(codec.encodePing({ target: 'n3', seq, updates }).length);
        for (const ok of [true, false]) expect(bodySize.ack({ seq, ok, updates })).toBe(codec.encodeAck({ seq, ok, updates }).length);
        expect(bodySize.pingReq({ target: records[1], seq, updates })).toBe(codec.encodePingReq({ target: records[1], seq, updates }).length);
      }
      for (const join of [true, false]) expect(bodySize.pushPull({ join, members: updates })).toBe(codec.encodePushPull({ join, members: updates }).length);
      for (const digest of [[0], [1, 0xffffffff], Array.from({ length: 1_024 }, (_, i) => (i * 2_654_435_761) >>> 0)]) {
        for (const differing of [[], [0], [1, 127, 128, 4_095]]) {
          const m = { join: false, members: updates, digest, differing };
          expect(bodySize.pushPull(m)).toBe(codec.encodePushPull(m).length);
        }
      }
      expect(bodySize.gossip({ updates })).toBe(codec.encodeGossip({ updates }).length);
    }
  });

  it('match a real Envelope of requests and replies', () => {
    const Envelope = protobuf.loadSync(gossipProtoPath()).lookupType('weft.gossip.v1.Envelope');
    for (const body of [0, 20, 127, 128, 300_000]) {
      for (const reply of [false, true]) {
        for (const recipient of ['', 'n12']) {
          const env = { sender: 'n4999', recipient, timestampMs: Date.now(), nonce: Buffer.alloc(16, 1), inReplyTo: reply ? Buffer.alloc(16, 2) : Buffer.alloc(0), body: Buffer.alloc(body, 3), mac: Buffer.alloc(32, 4), bodySha256: Buffer.alloc(32, 5) };
          expect(envelopeSize('n4999', recipient, body, reply)).toBe(Envelope.encode(Envelope.fromObject(env)).finish().length);
        }
      }
    }
  });
});
