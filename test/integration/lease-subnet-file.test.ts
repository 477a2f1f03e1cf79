// subnet.env on a real filesystem: Flannel's content and order, modes, atomic replacement, and
// the previous-subnet reader tolerating missing and corrupt files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSubnet, type Subnet4 } from '../../daemon/net/ipv4.js';
import { readPreviousSubnet, writeSubnetFile } from '../../daemon/control/lease/subnet-file.js';
import { isWeftError } from '../../daemon/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-subnetenv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sn(cidr: string): Subnet4 {
  const c = parseSubnet(cidr);
  if (!c) throw new Error(cidr);
  return { base: c.base, len: c.len };
}

describe('subnet.env', () => {
  it('is written like Flannel, creating its folder 0755 and the file 0644', async () => {
    const path = join(dir, 'a', 'b', 'subnet.env');
    const old = process.umask(0o077);
    try {
      await writeSubnetFile(path, { network: sn('10.244.0.0/16'), subnet: sn('10.244.1.0/24'), mtu: 1450, ipMasq: false });
    } finally {
      process.umask(old);
    }
    expect(readFileSync(path, 'utf8')).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o755);
  });

  it('replaces the file atomically and leaves no temporary file', async () => {
    const path = join(dir, 'c', 'subnet.env');
    await writeSubnetFile(path, { network: sn('10.244.0.0/16'), subnet: sn('10.244.1.0/24'), mtu: 1450, ipMasq: false });
    const inode = statSync(path).ino;
    await writeSubnetFile(path, { network: sn('10.244.0.0/16'), subnet: sn('10.244.7.0/24'), mtu: 8950, ipMasq: true });
    expect(statSync(path).ino).not.toBe(inode);
    expect(readFileSync(path, 'utf8')).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=8950\nFLANNEL_IPMASQ=true\n');
    expect(readdirSync(join(dir, 'c'))).toEqual(['subnet.env']);
    expect(readPreviousSubnet(path)).toEqual({ subnet: sn('10.244.7.0/24'), network: sn('10.244.0.0/16') });
  });

  it('reports a folder it cannot write, naming --subnet-file', async () => {
    const ro = join(dir, 'ro');
    await writeSubnetFile(join(ro, 'x.env'), { network: sn('10.244.0.0/16'), subnet: sn('10.244.1.0/24'), mtu: 1450, ipMasq: false });
    writeFileSync(join(ro, 'blocker'), '');
    const err = await writeSubnetFile(join(ro, 'blocker', 'subnet.env'), { network: sn('10.244.0.0/16'), subnet: sn('10.244.1.0/24'), mtu: 1450, ipMasq: false }).catch((e: unknown) => e);
    expect(isWeftError(err, 'WEFT_ERR_SUBNET_FILE')).toBe(true);
    expect((err as Error).message).toMatch(/^cannot write .*blocker\/subnet.env: .*; check that its folder is writable \(--subnet-file\)$/);
  });

  it('reads back the previous subnet; a missing file is silent, a corrupt one is reported, not fatal', () => {
    expect(readPreviousSubnet(join(dir, 'none', 'subnet.env'))).toEqual({});
    const bad = join(dir, 'bad.env');
    writeFileSync(bad, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.300.1/24\n');
    expect(readPreviousSubnet(bad)).toEqual({ problem: `${bad}: FLANNEL_SUBNET=10.244.300.1/24 is not an IPv4 subnet` });
    writeFileSync(bad, '\u0000\u0001garbage');
    expect(readPreviousSubnet(bad)).toEqual({ problem: `${bad} has no FLANNEL_SUBNET line` });
    const flannel = join(dir, 'flannel.env');
    writeFileSync(flannel, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.42.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    expect(readPreviousSubnet(flannel)).toEqual({ subnet: sn('10.244.42.0/24'), network: sn('10.244.0.0/16') });
  });
});
