// The gossip MAC's primitives: HMAC-SHA256 and SHA-256 on the one-shot hash() give the bytes of
// node:crypto's createHmac and createHash for every key length, and nonces never repeat.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HMAC_BLOCK, HmacSha256, sha256 } from '../../../../daemon/control/gossip/hmac.js';
import { NonceSource } from '../../../../daemon/control/gossip/nonces.js';

describe('gossip HMAC-SHA256', () => {
  it('matches createHmac for keys shorter than, equal to and longer than a block, and any message', () => {
    for (const keyLength of [1, 16, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha256(key);
      for (const messageLength of [0, 1, 55, 56, 64, 300]) {
        const message = randomBytes(messageLength);
        const framed = Buffer.concat([randomBytes(HMAC_BLOCK), message]);
        expect(hmac.ofFramed(framed)).toEqual(createHmac('sha256', key).update(message).digest());
        expect(framed.subarray(0, HMAC_BLOCK)).toEqual(Buffer.alloc(HMAC_BLOCK));
        expect(framed.subarray(HMAC_BLOCK)).toEqual(message);
      }
    }
  });

  it('computes SHA-256 as createHash does', () => {
    for (const n of [0, 1, 64, 1000]) {
      const data = randomBytes(n);
      expect(sha256(data)).toEqual(createHash('sha256').update(data).digest());
    }
  });
});

describe('gossip nonces', () => {
  it('gives nonces of the asked size that do not repeat across draws from the CSPRNG', () => {
    const source = new NonceSource(16);
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const n = source.take();
      expect(n.length).toBe(16);
      seen.add(n.toString('hex'));
    }
    expect(seen.size).toBe(2_000);
  });
});
