// Minimal IPv4 CIDR arithmetic for subnet.env values (no dependency: weft-cni must start fast).

export interface Ipv4Cidr {
  /** Address as written (host bits may be set, as in FLANNEL_SUBNET=10.244.1.1/24). */
  readonly ip: number;
  readonly prefix: number;
}

/** Parses "a.b.c.d/n"; undefined when it is not a valid IPv4 CIDR. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { ip, prefix };
}

export function networkOf(c: Ipv4Cidr): number {
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return (c.ip & mask) >>> 0;
}

export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** "10.244.1.1/24" → "10.244.1.0/24". */
export function networkCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(networkOf(c))}/${c.prefix}`;
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && networkOf({ ip: inner.ip, prefix: outer.prefix }) === networkOf(outer);
}
