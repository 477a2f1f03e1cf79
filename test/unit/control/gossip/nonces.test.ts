// Envelope nonces: drawn from the CSPRNG in pages, each of the asked size and never repeated.
import { describe, expect, it } from 'vitest';
import { NonceSource } from '../../../../daemon/control/gossip/nonces.js';

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
