// HMAC-SHA256 (RFC 2104) and SHA-256 on node:crypto's one-shot hash(): the same bytes as
// createHmac('sha256', key) and createHash('sha256'), without an Hmac or Hash object per message.
// An idle weftd computes a handful per probe, each after the process slept: there the object
// path's setup costs twice the digest itself (measured: a sealed envelope 176 µs → 88 µs).
import { hash } from 'node:crypto';

/** SHA-256's block size: keys are padded (or first hashed) to it. */
export const HMAC_BLOCK = 64;
const DIGEST_SIZE = 32;

export function sha256(data: Buffer): Buffer {
  return hash('sha256', data, 'buffer');
}

export class HmacSha256 {
  private readonly ipad = Buffer.alloc(HMAC_BLOCK);
  private readonly opad = Buffer.alloc(HMAC_BLOCK);

  constructor(key: Buffer) {
    const k = Buffer.alloc(HMAC_BLOCK);
    (key.length > HMAC_BLOCK ? sha256(key) : key).copy(k);
    for (let i = 0; i < HMAC_BLOCK; i++) {
      this.ipad[i] = k[i] ^ 0x36;
      this.opad[i] = k[i] ^ 0x5c;
    }
    k.fill(0);
  }

  /**
   * The MAC of `framed.subarray(HMAC_BLOCK)`: the message sits after HMAC_BLOCK bytes of scratch
   * (left zeroed), so one message buffer serves every key of a rotation without a copy.
   */
  ofFramed(framed: Buffer): Buffer {
    this.ipad.copy(framed, 0);
    const outer = Buffer.allocUnsafe(HMAC_BLOCK + DIGEST_SIZE);
    this.opad.copy(outer, 0);
    sha256(framed).copy(outer, HMAC_BLOCK);
    framed.fill(0, 0, HMAC_BLOCK);
    const mac = sha256(outer);
    outer.fill(0, 0, HMAC_BLOCK);
    return mac;
  }
}
