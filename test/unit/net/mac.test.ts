// daemon/net/mac.ts: the one MAC rule.
import { describe, expect, it } from 'vitest';
import { formatMac, normalizeMac, parseMac, requireMac } from '../../../daemon/net/mac.js';

describe('MAC addresses', () => {
  it.each(['c6:d2:32:6f:8f:44', 'C6:D2:32:6F:8F:44', '00:00:00:00:00:00'])('accepts %s', (s) => {
    const b = parseMac(s)!;
    expect(b).toHaveLength(6);
    expect(formatMac(b)).toBe(s.toLowerCase());
    expect(normalizeMac(s)).toBe(s.toLowerCase());
  });
  it.each(['c6:d2:32:6f:8f', 'c6:d2:32:6f:8f:44:00', 'c6d2.326f.8f44', 'c6:d2:32:6f:8f:4', 'g6:d2:32:6f:8f:44', ' c6:d2:32:6f:8f:44', ''])('refuses %j', (s) => {
    expect(parseMac(s)).toBeNull();
    expect(normalizeMac(s)).toBeNull();
    expect(() => requireMac('localVtepMac', s)).toThrow(/localVtepMac: '.*' is not a MAC address/);
  });
  it("normalizes Go's dash form", () => {
    expect(normalizeMac('C6-D2-32-6F-8F-44')).toBe('c6:d2:32:6f:8f:44');
    expect(parseMac('c6-d2-32-6f-8f-44')).toBeNull();
  });
  it('formats from an offset', () => {
    expect(formatMac(Uint8Array.of(9, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff), 1)).toBe('aa:bb:cc:dd:ee:ff');
  });
});
