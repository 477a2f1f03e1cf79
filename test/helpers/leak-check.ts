// Loaded before every test file (vitest setupFiles). After the file's own cleanup has run, it
// asserts that no namespace and no child process of this file is left, removes whatever is, and
// fails the file if it had to: a test that leaks is a failing test.
import { afterAll } from 'vitest';
import { destroyAllOwnNetns, ownNetns } from './netns.js';
import { liveChildren, stopAllChildren } from '../../lab/processes.js';

afterAll(async () => {
  const children = liveChildren().map((c) => `${c.pid} ${c.proc.spawnfile} ${c.proc.spawnargs.slice(1, 6).join(' ')}`);
  const namespaces = ownNetns();
  await stopAllChildren();
  await destroyAllOwnNetns();
  const leaks = [
    ...children.map((c) => `child process still running: ${c}`),
    ...namespaces.map((n) => `network namespace left behind: ${n}`),
  ];
  if (leaks.length > 0) throw new Error(`test file leaked resources:\n${leaks.join('\n')}`);
});
