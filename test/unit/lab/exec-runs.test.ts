// lab/exec.ts runs(): a process whose thread group leader has exited (a zombie) still runs while
// another of its threads does, because that thread still holds the process's files (weftd's data
// plane thread holds the TUN). A real python3 process whose main thread calls pthread_exit while a
// second thread sleeps on a pipe the test controls.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runs, waitFor } from '../../../lab/exec.js';

const SCRIPT = `
import ctypes, sys, threading
t = threading.Thread(target=lambda: sys.stdin.read())
t.start()
print('ready', flush=True)
ctypes.CDLL(None).pthread_exit(None)
`;

const state = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
};

describe('lab runs()', () => {
  it('counts a zombie leader as running until its last thread has exited', async () => {
    const proc = spawn('python3', ['-c', SCRIPT, 'weft-runs-marker'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const pid = proc.pid!;
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    await new Promise<void>((resolve) => proc.stdout!.once('data', () => resolve()));
    await waitFor(async () => (state(pid) === 'Z' ? true : undefined), 5_000, () => new Error(`leader of ${pid} never became a zombie`), 10);
    expect(runs(pid, 'weft-runs-marker')).toBe(true);
    proc.stdin!.end();
    await exited;
    expect(runs(pid, 'weft-runs-marker')).toBe(false);
  });

  it('is false for a pid running something else', () => {
    expect(runs(process.pid, 'no-such-marker-in-this-command-line')).toBe(false);
  });
});
