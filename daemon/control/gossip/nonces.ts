// Envelope nonces: 16 bytes each from the CSPRNG, drawn a page at a time (one randomBytes call per
// 256 envelopes instead of one per envelope; every nonce is still used once and unpredictable).
import { randomBytes } from 'node:crypto';

const PER_DRAW = 256;

export class NonceSource {
  private pool = Buffer.alloc(0);
  private next = 0;

  constructor(private readonly size: number) {}

  /** A fresh nonce (a copy: the pool's later nonces stay unreachable from the envelope). */
  take(): Buffer {
    if (this.next + this.size > this.pool.length) {
      this.pool = randomBytes(this.size * PER_DRAW);
      this.next = 0;
    }
    const n = Buffer.from(this.pool.subarray(this.next, this.next + this.size));
    this.next += this.size;
    return n;
  }
}
