// MAC addresses (VTEP MACs in leases and gossip): six two-digit hex bytes joined by ':'. One rule:
// parseMac takes either case, normalizeMac gives the canonical lower-case form (and, as Go's
// net.ParseMAC, accepts '-' separators). No third-party imports.
import { WeftError } from '../errors.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** 'aa:bb:cc:dd:ee:ff' → 6 bytes; null if malformed. */
export function parseMac(s: string): Uint8Array | null {
  if (!MAC.test(s)) return null;
  return Uint8Array.from(s.split(':'), (h) => parseInt(h, 16));
}

export function formatMac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[off + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Lower-case colon form; null for anything Go's net.ParseMAC would not give 6 bytes for. */
export function normalizeMac(s: string): string | null {
  const colons = s.replace(/-/g, ':');
  return MAC.test(colons) ? colons.toLowerCase() : null;
}

export function requireMac(field: string, s: string): Uint8Array {
  const m = parseMac(s);
  if (m === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  return m;
}
