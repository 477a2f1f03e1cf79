// writeFileAtomic: the one way weftd replaces a file (subnet.env, state cache, cached gossip key).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../daemon/control/write-file-atomic.js';

const root = mkdtempSync(join(tmpdir(), 'weft-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates missing folders with dirMode and the file with exactly mode', () => {
    const file = join(root, 'a', 'b', 'f.json');
    writeFileAtomic(file, 'one\n', { mode: 0o600, dirMode: 0o750 });
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o750);
    expect(statSync(join(root, 'a', 'b')).mode & 0o777).toBe(0o750);
  });

  it('replaces an existing file (mode included) and leaves no temp file behind', () => {
    const dir = join(root, 'replace');
    mkdirSync(dir);
    const file = join(dir, 'subnet.env');
    writeFileSync(file, 'old', { mode: 0o600 });
    writeFileAtomic(file, Buffer.from('new'), { mode: 0o644 });
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['subnet.env']);
  });

  it('on failure throws the fs error, keeps the target and removes its temp file', () => {
    const dir = join(root, 'fail');
    const target = join(dir, 'target');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'x', { mode: 0o644 })).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) }));
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('refuses a folder path that runs through a file', () => {
    const blocker = join(root, 'blocker');
    writeFileSync(blocker, '');
    expect(() => writeFileAtomic(join(blocker, 'f'), 'x', { mode: 0o644 })).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/) }));
  });
});
