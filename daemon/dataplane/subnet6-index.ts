// The IPv6 half of the route lookup: which of Network6's subnets (each IPv6SubnetLen long) an
// address falls in, as an array index, read straight from packet bytes. Flannel's IPv6 subnets are
// /64 (or shorter, IPv6SubnetLen ≤ 64 here), so the index lives in an address's first 64 bits,
// compared and shifted as two 32-bit words: no BigInt on the hot path.
//
// Contracts: built once per network by the control plane's side (from a validated Subnet6) or the
// data plane thread (from its wire); indexOf and slotAt are hot-path calls, allocation-free.
import { WeftError } from '../errors.js';
import type { Subnet6 } from '../net/ipv6.js';

/** Largest index array: 2^20 subnets, as for IPv4. */
export const MAX_SUBNET6_BITS = 20;

export class Subnet6Index {
  /** Network6's first 64 bits and their mask, as uint32 words. */
  private readonly netHi: number;
  private readonly netLo: number;
  private readonly maskHi: number;
  private readonly maskLo: number;
  private readonly subnetLen: number;
  private readonly bits: number;
  /** Subnet index → peer slot, −1 where none. */
  private readonly slots: Int32Array;

  constructor(
    readonly network: Subnet6,
    subnetLen: number,
  ) {
    if (!Number.isInteger(subnetLen) || subnetLen < network.len || subnetLen > 64 || subnetLen - network.len > MAX_SUBNET6_BITS) {
      throw new WeftError('WEFT_ERR_CONFIG', `IPv6SubnetLen ${subnetLen} does not fit IPv6Network /${network.len} for the data plane (need ${network.len} <= IPv6SubnetLen <= 64, at most 2^${MAX_SUBNET6_BITS} subnets)`);
    }
    const top = network.base >> 64n;
    this.netHi = Number(top >> 32n) >>> 0;
    this.netLo = Number(top & 0xffffffffn) >>> 0;
    this.maskHi = wordMask(network.len);
    this.maskLo = wordMask(network.len - 32);
    this.subnetLen = subnetLen;
    this.bits = subnetLen - network.len;
    this.slots = new Int32Array(2 ** this.bits).fill(-1);
  }

  /** Subnets in the network (the index range). */
  get size(): number {
    return this.slots.length;
  }

  /** The subnet index of the 16-byte address at u8[at], or −1 outside the network. Hot path. */
  indexOf(u8: Uint8Array, at: number): number {
    const hi = ((u8[at] << 24) | (u8[at + 1] << 16) | (u8[at + 2] << 8) | u8[at + 3]) >>> 0;
    const lo = ((u8[at + 4] << 24) | (u8[at + 5] << 16) | (u8[at + 6] << 8) | u8[at + 7]) >>> 0;
    return this.indexOfWords(hi, lo);
  }

  /** The same for an address's first 64 bits as uint32 words. */
  indexOfWords(hi: number, lo: number): number {
    if (((hi & this.maskHi) >>> 0) !== this.netHi || ((lo & this.maskLo) >>> 0) !== this.netLo) return -1;
    if (this.bits === 0) return 0;
    const end = this.subnetLen; // the index is bits [subnetLen − bits, subnetLen) of the 64
    const span = 2 ** this.bits;
    if (end <= 32) return Math.floor(hi / 2 ** (32 - end)) % span;
    const fromLo = Math.floor(lo / 2 ** (64 - end)); // bits of the index in the low word
    const loBits = end - 32;
    return (((hi % 2 ** Math.max(0, this.bits - loBits)) * 2 ** loBits) + fromLo) % span;
  }

  /** The subnet index of a subnet of this network (validated by the caller's encoder), or −1. */
  indexOfSubnet(s: Subnet6): number {
    if (s.len !== this.subnetLen) return -1;
    const top = s.base >> 64n;
    return this.indexOfWords(Number(top >> 32n) >>> 0, Number(top & 0xffffffffn) >>> 0);
  }

  /** Peer slot of a subnet index (−1: none). Hot path. */
  slotAt(index: number): number {
    return index < 0 ? -1 : this.slots[index];
  }

  set(index: number, slot: number): void {
    this.slots[index] = slot;
  }

  clear(index: number): void {
    this.slots[index] = -1;
  }
}

/** Mask of the first `len` bits of a 32-bit word (len ≤ 0: none, ≥ 32: all), as uint32. */
function wordMask(len: number): number {
  if (len <= 0) return 0;
  if (len >= 32) return 0xffffffff;
  return (0xffffffff << (32 - len)) >>> 0;
}
