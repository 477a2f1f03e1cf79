// The JIT warm-up (warm-up.ts): its synthetic traffic must take the forwarding paths of every
// configuration (no drop, TCP runs coalesced), and afterwards V8 must have optimized the per-packet
// code with TurboFan, which is the point: checked in a fresh process with V8's natives syntax, on
// the build (npm test builds first).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEADROOM, UDP_RX_OFFSET } from '../../../daemon/dataplane/constants.js';
import type { ForwarderOptions } from '../../../daemon/dataplane/forwarder.js';
import { ipv6OnlyLayout, RouteTable, type RouteTableOptions } from '../../../daemon/dataplane/route-table.js';
import { warmUp } from '../../../daemon/dataplane/warm-up.js';

const SLOT = Math.ceil((HEADROOM + 65535) / 64) * 64;
const UDP_SLOT = Math.ceil((UDP_RX_OFFSET + 65535 + 47 * 120) / 64) * 64;
const MAC = Uint8Array.of(2, 0, 0, 0, 0, 0x99);

function options(over: Partial<ForwarderOptions> = {}): ForwarderOptions {
  return { vni: 1, port: 8472, localSubnetBase: 0x0af40700, localVtepMac: MAC, mtu: 1450, udpCapacity: UDP_SLOT - UDP_RX_OFFSET, tunOffloads: true, csumElision: true, ...over };
}

const V4: RouteTableOptions = { network: '10.244.0.0/16', subnetLen: 24, localSubnet: '10.244.7.0/24', peers: [] };
const DUAL: RouteTableOptions = { ...V4, network6: 'fd00:10:244::/56', subnetLen6: 64, localSubnet6: 'fd00:10:244:7::/64' };
const V6ONLY: RouteTableOptions = { ...ipv6OnlyLayout('fd00:10:244::/56', 64, 'fd00:10:244:7::/64'), network6: 'fd00:10:244::/56', subnetLen6: 64, localSubnet6: 'fd00:10:244:7::/64', ipv6Only: true, peers: [] };

describe('warmUp', () => {
  const cases: [string, RouteTableOptions, Partial<ForwarderOptions>][] = [
    ['IPv4, TUN and UDP offloads, checksum elision', V4, {}],
    ['IPv4, checksum elision off', V4, { csumElision: false }],
    ['IPv4, no TUN offloads', V4, { tunOffloads: false, csumElision: false }],
    ['dual-stack over the IPv4 underlay', DUAL, { localSubnet6Index: 7, localVtepMac6: MAC }],
    ['dual-stack with an IPv6 underlay to Flannel nodes', DUAL, { localSubnet6Index: 7, localVtepMac6: MAC, underlay6: true }],
    ['IPv6-only', V6ONLY, { localSubnetBase: 28, localSubnet6Index: 7, localVtepMac6: MAC, underlay6: true }],
  ];
  for (const [name, table, over] of cases) {
    it(`${name}: every synthetic packet is forwarded (none dropped), TCP runs coalesced with TUN offloads`, () => {
      const r = warmUp(options(over), { routes: RouteTable.fromWire(RouteTable.build(table).toWire()), slotSize: SLOT, udpSlotSize: UDP_SLOT }, 3);
      if (!('ms' in r)) throw new Error(`skipped: ${r.skipped}`);
      expect(r.drops).toEqual({});
      expect(r.packets).toBeGreaterThan(100);
      if (over.tunOffloads === false) expect(r.coalesced).toBe(0);
      else expect(r.coalesced).toBeGreaterThan(0);
    });
  }

  it('is skipped, with the reason, where the network has no room for three synthetic nodes beside ours', () => {
    const routes = RouteTable.build({ network: '10.244.6.0/23', subnetLen: 24, localSubnet: '10.244.7.0/24', peers: [] });
    expect(warmUp(options(), { routes, slotSize: SLOT, udpSlotSize: UDP_SLOT }, 3)).toEqual({ skipped: 'network /23 has fewer than 4 subnets of /24' });
  });

  it('reports a failure as skipped rather than throwing (the data plane opens without it)', () => {
    const r = warmUp(options({ mtu: -1 }), { routes: RouteTable.build(V4), slotSize: SLOT, udpSlotSize: UDP_SLOT }, 3);
    expect(r).toMatchObject({ skipped: expect.stringMatching(/^failed: /) });
  });

  it('leaves the per-packet code optimized by TurboFan, and the batch entry points optimized through the thread\'s first hook (a fresh V8, as weftd runs it: --single-threaded)', () => {
    const dist = (f: string): string => new URL(`../../../dist/daemon/dataplane/${f}`, import.meta.url).href;
    const script = `
      const { warmUp } = await import(${JSON.stringify(dist('warm-up.js'))});
      const { RouteTable } = await import(${JSON.stringify(dist('route-table.js'))});
      const { Inside } = await import(${JSON.stringify(dist('inside.js'))});
      const { Outside } = await import(${JSON.stringify(dist('outside.js'))});
      const routes = RouteTable.fromWire(RouteTable.build(${JSON.stringify(V4)}).toWire());
      const opts = { vni: 1, port: 8472, localSubnetBase: 0x0af40700, localVtepMac: Uint8Array.of(2, 0, 0, 0, 0, 0x99), mtu: 1450, udpCapacity: ${UDP_SLOT - UDP_RX_OFFSET}, tunOffloads: true, csumElision: true };
      const status = (f) => eval('%GetOptimizationStatus(f)');
      const fns = { 'Inside.onBatch': Inside.prototype.onBatch, 'Inside.encap': Inside.prototype.encap, 'Outside.onBatch': Outside.prototype.onBatch, 'Outside.decap': Outside.prototype.decap };
      const before = Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, status(f)]));
      const result = warmUp(opts, { routes, slotSize: ${SLOT}, udpSlotSize: ${UDP_SLOT} });
      const after = Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, status(f)]));
      // The data plane's own forwarder, as its thread drives it: a next-packet hook, then batches.
      const { Forwarder, allocateBatchMemory } = await import(${JSON.stringify(dist('forwarder.js'))});
      const real = new Forwarder(allocateBatchMemory(4, ${SLOT}, ${UDP_SLOT}, 1450), routes, opts);
      let hooked = 0;
      real.onNextPacket(() => void hooked++);
      real.onTun(0);
      real.onUdp(0);
      const wrappers = { onTun: status(real.onTun), onUdp: status(real.onUdp), hooked };
      console.log(JSON.stringify({ before, after, result, wrappers }));`;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--single-threaded', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const { before, after, result, wrappers } = JSON.parse(out) as { before: Record<string, number>; after: Record<string, number>; result: { ms: number; drops: object }; wrappers: { onTun: number; onUdp: number; hooked: number } };
    const TURBOFANNED = 1 << 6; // V8's OptimizationStatus::kTurboFanned
    const OPTIMIZED = 1 << 4; // kOptimized: Maglev or TurboFan code
    // The thread's first onNextPacket must not throw the wrappers' code away (it did while the
    // warm-up never set a hook), nor must the hook's first run.
    expect(wrappers.hooked).toBe(1);
    expect({ onTun: (wrappers.onTun & OPTIMIZED) !== 0, onUdp: (wrappers.onUdp & OPTIMIZED) !== 0 }).toEqual({ onTun: true, onUdp: true });
    for (const [fn, s] of Object.entries(before)) expect({ fn, turbofanned: (s & TURBOFANNED) !== 0 }).toEqual({ fn, turbofanned: false });
    for (const [fn, s] of Object.entries(after)) expect({ fn, turbofanned: (s & TURBOFANNED) !== 0 }).toEqual({ fn, turbofanned: true });
    expect(result.drops).toEqual({});
    console.log(`warm-up: ${Math.round(result.ms)} ms`);
  });
});
