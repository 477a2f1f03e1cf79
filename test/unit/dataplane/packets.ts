// Plain, slow packet builders for data plane unit tests: an independent reference for the hot path.
import { RouteTable } from '../../../daemon/dataplane/route-table.js';
import { Forwarder, maxSegments } from '../../../daemon/dataplane/forwarder.js';
import { CTL_SIZE, META_STRIDE, UDP_RX_OFFSET } from '../../../daemon/dataplane/constants.js';

export function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

export function u32(s: string): number {
  return ip4(s).reduce((a, b) => a * 256 + b, 0);
}

/** RFC 1071 checksum, written plainly. */
export function refChecksum(bytes: number[] | Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

export function pseudo(src: string, dst: string, proto: number, len: number): number[] {
  return [...ip4(src), ...ip4(dst), 0, proto, len >> 8, len & 255];
}

export function ipv4Header(src: string, dst: string, proto: number, payloadLen: number, id = 0x1234): number[] {
  const total = 20 + payloadLen;
  const h = [0x45, 0, total >> 8, total & 255, id >> 8, id & 255, 0x40, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst)];
  const c = refChecksum(h);
  h[10] = c >> 8;
  h[11] = c & 255;
  return h;
}

/** IPv4/UDP packet with a correct UDP checksum. */
export function udpPacket(src: string, dst: string, payload: number[]): number[] {
  const len = 8 + payload.length;
  const udp = [0x30, 0x39, 0x1f, 0x90, len >> 8, len & 255, 0, 0, ...payload];
  const c = refChecksum([...pseudo(src, dst, 17, len), ...udp]) || 0xffff;
  udp[6] = c >> 8;
  udp[7] = c & 255;
  return [...ipv4Header(src, dst, 17, len), ...udp];
}

/** IPv4/TCP packet; checksum 'good', or 'partial' (pseudo-header sum only, as CHECKSUM_PARTIAL leaves it). */
export function tcpPacket(src: string, dst: string, payload: number[], csum: 'good' | 'partial' = 'good', seq = 1000, flags = 0x18): number[] {
  const len = 20 + payload.length;
  const tcp = [0x30, 0x39, 0x1f, 0x90, (seq >>> 24) & 255, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0, ...payload];
  let c: number;
  if (csum === 'good') c = refChecksum([...pseudo(src, dst, 6, len), ...tcp]);
  else c = ~refChecksum(pseudo(src, dst, 6, len)) & 0xffff;
  tcp[16] = c >> 8;
  tcp[17] = c & 255;
  return [...ipv4Header(src, dst, 6, len), ...tcp];
}

export function mac(s: string): number[] {
  return s.split(':').map((h) => parseInt(h, 16));
}

/** VXLAN header (flags 0x08, VNI) + inner Ethernet + packet. */
export function vxlan(vni: number, dstMac: string, srcMac: string, packet: number[], ethertype = 0x0800): number[] {
  return [0x08, 0, 0, 0, (vni >> 16) & 255, (vni >> 8) & 255, vni & 255, 0, ...mac(dstMac), ...mac(srcMac), ethertype >> 8, ethertype & 255, ...packet];
}

export const LOCAL_MAC = '0e:00:00:00:00:01';
export const PEER_MAC = '0e:00:00:00:00:02';
export const PEER_IP = '198.18.0.2';

export const table = (): RouteTable =>
  RouteTable.build({
    network: '10.244.0.0/16',
    subnetLen: 24,
    localSubnet: '10.244.1.0/24',
    peers: [
      { subnet: '10.244.2.0/24', publicIp: PEER_IP, vtepMac: PEER_MAC, nodeName: 'b' },
      { subnet: '10.244.3.0/24', publicIp: '198.18.0.3', vtepMac: '0e:00:00:00:00:03', nodeName: 'c' },
    ],
  });

export interface Rig {
  fwd: Forwarder;
  u8: Uint8Array;
  tunIn: Int32Array;
  udpIn: Int32Array;
  udpOut: Int32Array;
  tunOut: Int32Array;
  ctl: Int32Array;
}

export const SLOT = 70 * 1024;
export const MTU = 1450;

/** A Forwarder over plain memory laid out as the native engine would (no syscalls). */
export function rig(batch = 8, mtu = MTU, tunOffloads = false, routes = table(), csumElision = false): Rig {
  const arena = new ArrayBuffer(batch * SLOT);
  const mem = {
    arena,
    tunIn: new Int32Array(batch * META_STRIDE),
    udpIn: new Int32Array(batch * META_STRIDE),
    udpOut: new Int32Array(batch * maxSegments(mtu) * META_STRIDE),
    tunOut: new Int32Array(batch * maxSegments(mtu) * META_STRIDE),
    ctl: new Int32Array(CTL_SIZE),
  };
  const fwd = new Forwarder(mem, routes, {
    vni: 1,
    port: 8472,
    localSubnetBase: u32('10.244.1.0'),
    localVtepMac: Uint8Array.from(mac(LOCAL_MAC)),
    mtu,
    udpCapacity: SLOT - UDP_RX_OFFSET,
    tunOffloads,
    csumElision,
  });
  return { fwd, u8: new Uint8Array(arena), ...mem };
}
