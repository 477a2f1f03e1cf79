// IPv6 address syntax, for the one place weft accepts it (--peers seeds as "[v6]:port"). ipaddr.js
// checks it; weft-cni never loads this file (ipv4.ts and mac.ts stay free of third-party imports).
import ipaddr from 'ipaddr.js';

/** True for an IPv6 address in any RFC 4291 text form ('fd00::1', '::ffff:10.0.0.1'). */
export function isIpv6(s: string): boolean {
  return ipaddr.IPv6.isValid(s);
}
