// Appending entries to the engine's out lists (udpOut, tunOut; layout in weft_native.h). Each
// function writes entry `n` and returns n + 1. Callers own the bounds: the engine's arrays are
// sized for the most one batch can produce.
import {
  META_STRIDE,
  OUT_DATAGRAM,
  OUT_TSO,
  TUN_OUT_CSUM_OFFSET,
  TUN_OUT_CSUM_START,
  TUN_OUT_FLAGS,
  TUN_OUT_GSO_SIZE,
  TUN_OUT_GSO_TYPE,
  TUN_OUT_HDR_LEN,
  TUN_OUT_LENGTH,
  TUN_OUT_OFFSET,
  UDP_OUT_ADDR,
  UDP_OUT_CSUM,
  UDP_OUT_HDR_LEN,
  UDP_OUT_KIND,
  UDP_OUT_LENGTH,
  UDP_OUT_MSS,
  UDP_OUT_OFFSET,
  UDP_OUT_PORT,
  VIRTIO_NEEDS_CSUM,
} from './constants.js';

/**
 * One VXLAN datagram at arena[off, off+len) to addr:port (addr as int32); with v6 = OUT_V6, addr is
 * a peer slot and the datagram goes over the IPv6 underlay to that slot's address (setPeer6).
 */
export function putDatagram(udpOut: Int32Array, n: number, off: number, len: number, addr: number, port: number, v6 = 0): number {
  const o = n * META_STRIDE;
  udpOut[o + UDP_OUT_OFFSET] = off;
  udpOut[o + UDP_OUT_LENGTH] = len;
  udpOut[o + UDP_OUT_ADDR] = addr;
  udpOut[o + UDP_OUT_PORT] = port;
  udpOut[o + UDP_OUT_KIND] = OUT_DATAGRAM | v6;
  return n + 1;
}

/**
 * One TCP super-packet with its encap header at arena[off, off+len) (hdrLen bytes of encap + IPv4 +
 * TCP headers), for the engine to cut into segments of at most mss payload bytes; csum is
 * CSUM_FULL or CSUM_PARTIAL; addr and v6 as putDatagram's.
 */
export function putTso(udpOut: Int32Array, n: number, off: number, len: number, addr: number, port: number, mss: number, hdrLen: number, csum: number, v6 = 0): number {
  const o = n * META_STRIDE;
  udpOut[o + UDP_OUT_OFFSET] = off;
  udpOut[o + UDP_OUT_LENGTH] = len;
  udpOut[o + UDP_OUT_ADDR] = addr;
  udpOut[o + UDP_OUT_PORT] = port;
  udpOut[o + UDP_OUT_KIND] = OUT_TSO | v6;
  udpOut[o + UDP_OUT_MSS] = mss;
  udpOut[o + UDP_OUT_HDR_LEN] = hdrLen;
  udpOut[o + UDP_OUT_CSUM] = csum;
  return n + 1;
}

/** One plain IP packet at arena[off, off+len) for the TUN. */
export function putTunPacket(tunOut: Int32Array, n: number, off: number, len: number): number {
  const o = n * META_STRIDE;
  tunOut[o + TUN_OUT_OFFSET] = off;
  tunOut[o + TUN_OUT_LENGTH] = len;
  tunOut[o + TUN_OUT_FLAGS] = 0;
  tunOut[o + TUN_OUT_GSO_TYPE] = 0;
  return n + 1;
}

/**
 * One IP packet whose L4 checksum at csumStart + csumOffset holds only the pseudo-header sum:
 * written with VIRTIO_NET_HDR_F_NEEDS_CSUM (needs a vnet-header TUN), the kernel finishes it when
 * it must (never, for a pod on this node).
 */
export function putTunPartial(tunOut: Int32Array, n: number, off: number, len: number, csumStart: number, csumOffset: number): number {
  const o = n * META_STRIDE;
  tunOut[o + TUN_OUT_OFFSET] = off;
  tunOut[o + TUN_OUT_LENGTH] = len;
  tunOut[o + TUN_OUT_FLAGS] = VIRTIO_NEEDS_CSUM;
  tunOut[o + TUN_OUT_GSO_TYPE] = 0;
  tunOut[o + TUN_OUT_HDR_LEN] = 0;
  tunOut[o + TUN_OUT_GSO_SIZE] = 0;
  tunOut[o + TUN_OUT_CSUM_START] = csumStart;
  tunOut[o + TUN_OUT_CSUM_OFFSET] = csumOffset;
  return n + 1;
}
