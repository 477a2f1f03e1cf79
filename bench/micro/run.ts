// Micro benchmark of the data plane's hot-path functions, without syscalls: ns per packet for
// encap (route lookup + VXLAN/Ethernet written in place, via onTun batches), decap (all checks
// including the inner TCP checksum, via onUdp batches), route lookup alone, and TCP segmentation
// of a 64 KiB super-packet; plus bytes allocated per packet (young-generation growth over 1e6
// packets, second of two runs, with no GC seen during the run).
//
//   npm run bench:micro            (node --expose-gc dist/bench/micro/run.js)
//   MICRO_PACKETS=2000000 MICRO_SIZE=1400 npm run bench:micro
// Prints a table; writes JSON to bench/results/micro-<time>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { finish, fold, ipv4PseudoSum, sum16 } from '../../daemon/dataplane/checksum.js';
import { CTL_SIZE, ENCAP_SIZE, HEADROOM, IN_ADDR, IN_GSO_SIZE, IN_LENGTH, IN_OFFSET, META_STRIDE, UDP_RX_OFFSET } from '../../daemon/dataplane/constants.js';
import { Forwarder, maxSegments } from '../../daemon/dataplane/forwarder.js';
import { RouteTable } from '../../daemon/dataplane/route-table.js';
import { segmentTcpInPlace } from '../../daemon/dataplane/segment.js';

const PACKETS = Number(process.env.MICRO_PACKETS ?? 1_000_000);
const SIZE = Number(process.env.MICRO_SIZE ?? 1400);
const BATCH = 64;
const MTU = 1450;
const SLOT = 2048;
const PEERS = 200;

const gcFn = (globalThis as { gc?: () => void }).gc;
if (!gcFn) {
  process.stderr.write('run with --expose-gc (npm run bench:micro does)\n');
  process.exit(2);
}

const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** An IPv4/TCP packet of `size` bytes with correct checksums, written at u8[off]. */
function writeTcp(u8: Uint8Array, off: number, size: number, src: number, dst: number): void {
  u8.fill(0, off, off + size);
  for (let i = off + 40; i < off + size; i++) u8[i] = (i * 31) & 0xff;
  u8[off] = 0x45;
  u8[off + 2] = size >> 8;
  u8[off + 3] = size & 0xff;
  u8[off + 6] = 0x40;
  u8[off + 8] = 64;
  u8[off + 9] = 6;
  for (let i = 0; i < 4; i++) {
    u8[off + 12 + i] = (src >>> (24 - 8 * i)) & 0xff;
    u8[off + 16 + i] = (dst >>> (24 - 8 * i)) & 0xff;
  }
  const h = finish(sum16(u8, off, 20, 0));
  u8[off + 10] = h >> 8;
  u8[off + 11] = h & 0xff;
  u8[off + 32] = 0x50;
  u8[off + 33] = 0x10;
  const c = finish(sum16(u8, off + 20, size - 20, ipv4PseudoSum(u8, off, 6, size - 20)));
  u8[off + 36] = c >> 8;
  u8[off + 37] = c & 0xff;
}

const peers = Array.from({ length: PEERS }, (_, i) => ({
  subnet: `10.244.${i + 2}.0/24`,
  publicIp: `198.18.${i >> 8}.${(i & 255) + 1}`,
  vtepMac: `0e:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
}));
const routes = RouteTable.build({ network: '10.244.0.0/16', subnetLen: 24, localSubnet: '10.244.1.0/24', peers });
/** The same peers, all advertising checksum elision (weft nodes). */
const elidingRoutes = RouteTable.build({ network: '10.244.0.0/16', subnetLen: 24, localSubnet: '10.244.1.0/24', peers: peers.map((p) => ({ ...p, csumElision: true })) });
const localMac = Uint8Array.from([0x0e, 0, 0, 0, 0xff, 0xff]);

function makeForwarder(slot = SLOT, tunOffloads = false, table = routes): { fwd: Forwarder; u8: Uint8Array; tunIn: Int32Array; udpIn: Int32Array } {
  const arena = new ArrayBuffer(BATCH * slot);
  const mem = {
    arena,
    tunIn: new Int32Array(BATCH * META_STRIDE),
    udpIn: new Int32Array(BATCH * META_STRIDE),
    udpOut: new Int32Array(BATCH * META_STRIDE),
    tunOut: new Int32Array(BATCH * maxSegments(MTU) * META_STRIDE),
    ctl: new Int32Array(CTL_SIZE),
  };
  const fwd = new Forwarder(mem, table, { vni: 1, port: 8472, localSubnetBase: ip(10, 244, 1, 0), localVtepMac: localMac, mtu: MTU, udpCapacity: slot - UDP_RX_OFFSET, tunOffloads, csumElision: tunOffloads });
  return { fwd, u8: new Uint8Array(arena), tunIn: mem.tunIn, udpIn: mem.udpIn };
}

interface Result {
  name: string;
  nsPerPacket: number;
  bytesPerPacket: number | null;
  gcDuringRun: boolean;
}

/** Bytes in use in V8's young generation, where per-packet garbage would go. */
function youngUsed(): number {
  return getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')!.space_used_size;
}

let gcSeen = 0;
new PerformanceObserver((list) => (gcSeen += list.getEntries().length)).observe({ entryTypes: ['gc'] });

/** Runs `fn` (which handles `perCall` packets) until `packets` are done: warm-up, then timing, then an allocation run. */
async function measure(name: string, perCall: number, fn: () => void): Promise<Result> {
  const calls = Math.max(1, Math.round(PACKETS / perCall));
  for (let i = 0; i < Math.min(calls, 20000); i++) fn(); // warm up (JIT)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / (calls * perCall);
  // Two allocation runs; the second one counts (the first may still compile or OSR code).
  let bytes: number | null = null;
  let gcDuringRun = false;
  for (let run = 0; run < 2; run++) {
    gcFn!();
    await new Promise((r) => setTimeout(r, 50)); // the gc observer reports asynchronously
    const seenBefore = gcSeen;
    const b0 = youngUsed();
    const before = youngUsed(); // b0 → before: what reading the statistics itself allocates
    for (let i = 0; i < calls; i++) fn();
    const after = youngUsed() - (before - b0);
    await new Promise((r) => setTimeout(r, 50));
    gcDuringRun = gcSeen !== seenBefore;
    bytes = gcDuringRun ? null : Math.max(0, after - before) / (calls * perCall);
  }
  return { name, nsPerPacket: ns, bytesPerPacket: bytes, gcDuringRun };
}

async function main(): Promise<void> {
  const results: Result[] = [];

  // encap: onTun over a batch of BATCH packets to BATCH different peers.
  {
    const { fwd, u8, tunIn } = makeForwarder();
    for (let i = 0; i < BATCH; i++) {
      const off = i * SLOT + HEADROOM;
      writeTcp(u8, off, SIZE, ip(10, 244, 1, 2), ip(10, 244, 2 + (i % PEERS), 2));
      tunIn[i * META_STRIDE + IN_OFFSET] = off;
      tunIn[i * META_STRIDE + IN_LENGTH] = SIZE;
    }
    results.push(await measure(`encap (onTun, batch ${BATCH}, ${SIZE} B)`, BATCH, () => fwd.onTun(BATCH)));
  }

  // decap: onUdp over a batch of valid datagrams from BATCH peers, inner TCP checksum verified.
  for (const size of [SIZE, 64]) {
    const { fwd, u8, udpIn } = makeForwarder();
    for (let i = 0; i < BATCH; i++) {
      const off = i * SLOT + UDP_RX_OFFSET;
      const p = i % PEERS;
      u8[off] = 0x08;
      u8[off + 6] = 1;
      u8.set(localMac, off + 8);
      u8.set(routes.peerMac.subarray(p * 6, p * 6 + 6), off + 14);
      u8[off + 20] = 0x08;
      writeTcp(u8, off + ENCAP_SIZE, size, ip(10, 244, 2 + p, 2), ip(10, 244, 1, 2));
      udpIn[i * META_STRIDE + IN_OFFSET] = off;
      udpIn[i * META_STRIDE + IN_LENGTH] = size + ENCAP_SIZE;
      udpIn[i * META_STRIDE + IN_ADDR] = routes.peerPublicIp[p];
    }
    results.push(await measure(`decap + validation (onUdp, batch ${BATCH}, ${size} B)`, BATCH, () => fwd.onUdp(BATCH)));
    if (fwd.counts[2] === 0) throw new Error('decap benchmark forwarded nothing: its datagrams are invalid');
  }

  // TCP coalescing: one UDP GRO buffer of 40 datagrams of one flow → one GSO TUN write (includes
  // restoring the 59 KiB buffer each time, since coalescing moves payloads in place). From a kernel
  // VXLAN peer every segment's checksum is verified; from a weft peer with checksum elision none is.
  for (const elided of [false, true]) {
    const { fwd, u8, udpIn } = makeForwarder(80 * 1024, true, elided ? elidingRoutes : routes);
    const frames = 40;
    const frame = 1472;
    const pristine = new Uint8Array(frames * frame);
    for (let f = 0; f < frames; f++) {
      const o = f * frame;
      pristine[o] = 0x08;
      pristine[o + 6] = 1;
      pristine.set(localMac, o + 8);
      pristine.set(routes.peerMac.subarray(0, 6), o + 14);
      pristine[o + 20] = 0x08;
      writeTcp(pristine, o + ENCAP_SIZE, frame - ENCAP_SIZE, ip(10, 244, 2, 2), ip(10, 244, 1, 2));
      const seq = 1000 + f * (frame - ENCAP_SIZE - 40);
      const t = o + ENCAP_SIZE + 20;
      pristine[t + 4] = seq >>> 24;
      pristine[t + 5] = (seq >>> 16) & 0xff;
      pristine[t + 6] = (seq >>> 8) & 0xff;
      pristine[t + 7] = seq & 0xff;
      pristine[t + 16] = 0;
      pristine[t + 17] = 0;
      const c = finish(sum16(pristine, t, frame - ENCAP_SIZE - 20, ipv4PseudoSum(pristine, o + ENCAP_SIZE, 6, frame - ENCAP_SIZE - 20)));
      pristine[t + 16] = c >> 8;
      pristine[t + 17] = c & 0xff;
      if (elided) {
        pristine[o + 1] = 0x01; // VXLAN_WEFT_CSUM_PARTIAL: the field holds the pseudo-header sum
        const ps = fold(ipv4PseudoSum(pristine, o + ENCAP_SIZE, 6, frame - ENCAP_SIZE - 20));
        pristine[t + 16] = ps >> 8;
        pristine[t + 17] = ps & 0xff;
      }
    }
    udpIn[IN_OFFSET] = UDP_RX_OFFSET;
    udpIn[IN_LENGTH] = pristine.length;
    udpIn[IN_ADDR] = routes.peerPublicIp[0];
    udpIn[IN_GSO_SIZE] = frame;
    results.push(
      await measure(`decap + TCP coalescing (GRO buffer ${frames} × ${frame} B → 1 GSO write${elided ? ', checksum elided' : ''})`, frames, () => {
        u8.set(pristine, UDP_RX_OFFSET);
        fwd.onUdp(1);
      }),
    );
    if (fwd.coalescer!.runs === 0 || fwd.coalescer!.merged / fwd.coalescer!.runs !== frames) throw new Error('coalescing benchmark did not coalesce');
  }

  // route lookup alone, over random destinations in the network.
  {
    const dsts = new Int32Array(4096);
    let seed = 1;
    for (let i = 0; i < dsts.length; i++) dsts[i] = (ip(10, 244, 0, 0) + ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) & 0xffff)) | 0;
    let sink = 0;
    results.push(
      await measure('route lookup (RouteTable.lookup)', dsts.length, () => {
        for (let i = 0; i < dsts.length; i++) sink += routes.lookup(dsts[i]);
      }),
    );
    if (sink === 0.5) process.stdout.write('');
  }

  // segmentation of a 64 KiB TCP super-packet (kernel TSO) into MTU-sized segments.
  {
    const total = 65000;
    const buf = new Uint8Array(total + 48 * 60);
    const pristine = new Uint8Array(total);
    writeTcp(pristine, 0, total, ip(10, 244, 2, 2), ip(10, 244, 1, 2));
    const k = Math.ceil((total - 40) / (MTU - 40));
    results.push(
      await measure(`TCP segmentation (64 KiB → ${k} × ${MTU} B, per segment)`, k, () => {
        buf.set(pristine);
        segmentTcpInPlace(buf, 0, total, MTU);
      }),
    );
  }

  const rows = results.map((r) => [r.name, r.nsPerPacket.toFixed(1), r.bytesPerPacket === null ? 'n/a (GC ran)' : r.bytesPerPacket.toFixed(3)]);
  const header = ['function', 'ns/packet', 'heap bytes/packet'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`(${PACKETS} packets per row, node ${process.version})\n`);

  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/micro-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, packets: PACKETS, size: SIZE, batch: BATCH, results }, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
  const allocating = results.filter((r) => r.name.startsWith('encap') || r.name.startsWith('decap')).filter((r) => r.bytesPerPacket !== 0);
  if (allocating.length > 0) process.exitCode = 1;
}

await main();
