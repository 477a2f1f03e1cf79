// The VtepMAC a node advertises in its lease. Flannel's is random per device, so a reboot changes
// it and peers keep stale neighbour entries (flannel-io/flannel#1795); weft derives it from the
// node's identity, so restarts and reboots keep it: the first 6 bytes of
// SHA-256("<node name>\n<public IP>"), made locally administered and unicast.
import { createHash } from 'node:crypto';
import { formatMac } from '../../net/mac.js';

export function deriveVtepMac(nodeName: string, publicIp: string): string {
  const b = createHash('sha256').update(`${nodeName}\n${publicIp}`).digest();
  b[0] = (b[0] & 0xfe) | 0x02;
  return formatMac(b);
}
