// --peers parsing, seeds from leases, and --gossip-key-file reading.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../../../daemon/control/gossip/cluster-key.js';
import { parsePeers, seedsFromLeases } from '../../../../daemon/control/gossip/seeds.js';

describe('gossip seeds', () => {
  it('parses --peers with default ports, IPv6 and duplicates', () => {
    expect(parsePeers('198.18.0.2:9000, 198.18.0.3,node-a.example:1,[fd00::1]:7,198.18.0.3:8473')).toEqual([
      '198.18.0.2:9000',
      '198.18.0.3:8473',
      'node-a.example:1',
      '[fd00::1]:7',
    ]);
    expect(parsePeers('')).toEqual([]);
  });

  it('names the bad entry', () => {
    expect(() => parsePeers('198.18.0.2:99999')).toThrow(/"198.18.0.2:99999" has an invalid port/);
    expect(() => parsePeers('a b:1')).toThrow(/--peers: "a b:1"/);
    for (const bad of ['010.18.0.2:7', '0x0a.1.1.1', '198.18.0.256', '198.18.2']) expect(() => parsePeers(bad)).toThrow(/is not a valid IPv4 address/);
  });

  it('takes leased weft peers as seeds, skipping Flannel nodes and itself', () => {
    const leases = [
      { publicIp: '198.18.0.1', gossipPort: 8473 },
      { publicIp: '198.18.0.2', gossipPort: undefined },
      { publicIp: '198.18.0.3', gossipPort: 9000 },
    ];
    expect(seedsFromLeases(leases, '198.18.0.1:8473')).toEqual(['198.18.0.3:9000']);
  });

  it('takes an IPv6-only weft lease (PublicIP 0.0.0.0) at its PublicIPv6, in brackets, and skips itself there too', () => {
    const leases = [
      { publicIp: '0.0.0.0', gossipPort: 8473, v6: { publicIp: 'fd00:198:18::1' } },
      { publicIp: '0.0.0.0', gossipPort: 8473, v6: { publicIp: 'fd00:198:18::2' } },
      { publicIp: '0.0.0.0', gossipPort: 8473 },
      { publicIp: '0.0.0.0', gossipPort: undefined, v6: { publicIp: 'fd00:198:18::4' } },
    ];
    expect(seedsFromLeases(leases, '[fd00:198:18::1]:8473')).toEqual(['[fd00:198:18::2]:8473']);
  });
});

describe('--gossip-key-file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a base64 key (or the keys of a rotation, one per line) and refuses short or garbled ones with a hint', () => {
    const key = Buffer.alloc(32, 9);
    writeFileSync(join(dir, 'ok'), key.toString('base64') + '\n');
    expect(readKeyFile(join(dir, 'ok'))).toEqual([key]);
    // A rotation: the new key first (it signs), the old one after it (still verifies).
    const next = Buffer.alloc(32, 7);
    writeFileSync(join(dir, 'rotation'), `${next.toString('base64')}\n\n${key.toString('base64')}\n`);
    expect(readKeyFile(join(dir, 'rotation'))).toEqual([next, key]);
    writeFileSync(join(dir, 'many'), `${key.toString('base64')}\n`.repeat(5));
    expect(() => readKeyFile(join(dir, 'many'))).toThrow(/at most 4/);
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => readKeyFile(join(dir, 'empty'))).toThrow(/not base64/);
    writeFileSync(join(dir, 'short'), Buffer.alloc(8).toString('base64'));
    expect(() => readKeyFile(join(dir, 'short'))).toThrow(/at least 16 bytes.*urandom/);
    writeFileSync(join(dir, 'garbled'), 'not base64 at all!');
    expect(() => readKeyFile(join(dir, 'garbled'))).toThrow(/not base64/);
    expect(() => readKeyFile(join(dir, 'missing'))).toThrow(/cannot read --gossip-key-file/);
  });
});
