// The VtepMAC a node advertises in its lease. Flannel's is random per device, so a reboot changes
// it and peers keep stale neighbour entries (flannel-io/flannel#1795); weft derives it from the
// node's identity, so restarts and reboots keep it: the first 6 bytes of
// SHA-256("<node name>\n<public IP>"), made locally administered and unicast.
import { createHash } from 'node:crypto';

export function deriveVtepMac(nodeName: string, publicIp: string): string {
  const b = createHash('sha256').update(`${nodeName}\n${publicIp}`).digest();
  b[0] = (b[0] & 0xfe) | 0x02;
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case colon form; null for anything Go's net.ParseMAC would not give 6 bytes for. */
export function normalizeMac(s: string): string | null {
  const lower = s.toLowerCase().replace(/-/g, ':');
  return MAC_RE.test(lower) ? lower : null;
}
