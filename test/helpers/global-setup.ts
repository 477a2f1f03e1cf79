// Runs once before the suite: removes test namespaces left by earlier runs whose process is gone
// (a crashed or killed worker cannot run its own cleanup). Only names with the test prefix and a
// dead owner PID are touched.
import { destroyNetns, listNetns } from '../../lab/netns.js';
import { TEST_NETNS_PREFIX } from './netns.js';

export default async function setup(): Promise<void> {
  const pattern = new RegExp(`^${TEST_NETNS_PREFIX}(\\d+)-`);
  for (const name of listNetns()) {
    const m = name.match(pattern);
    if (!m) continue;
    const owner = Number(m[1]);
    let ownerAlive = true;
    try {
      process.kill(owner, 0);
    } catch {
      ownerAlive = false;
    }
    if (!ownerAlive) await destroyNetns(name);
  }
}
