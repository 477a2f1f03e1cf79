#!/usr/bin/env node
// weftd runs with V8's background threads off (--single-threaded): GC and JIT work happen on the
// thread that needs them. An idle weftd's heaps are small and its threads mostly wait, and the
// four V8 helper threads accounted for a third of its wake-ups (measured on Node 24: 32 → 14 per
// second). process.execve keeps the PID, so supervisors and `ip netns exec` see one process.
import process from 'node:process';

const V8_FLAGS = ['--single-threaded'];
if (!V8_FLAGS.every((f) => process.execArgv.includes(f)) && typeof process.execve === 'function') {
  process.removeAllListeners('warning'); // process.execve is experimental in Node 24
  process.execve(process.execPath, [process.execPath, ...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
await import('../dist/daemon/main.js');
