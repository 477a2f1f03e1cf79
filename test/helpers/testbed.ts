// The set-up every weftd integration test file shares: an underlay switch with etcd on it
// (198.18.0.254) and a temporary folder for subnet files, created in beforeAll and removed in
// afterAll. `setup` adds the file's own hosts (and anything else it needs) once they exist.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { EtcdServer } from './etcd.js';
import { liveChildren } from '../../lab/processes.js';
import { SWITCH_IP, Underlay } from './underlay.js';

export interface Testbed {
  readonly underlay: Underlay;
  readonly etcd: EtcdServer;
  /** Parent folder of the daemons' subnet files. */
  readonly dir: string;
}

export interface TestbedOptions {
  /**
   * Kill every daemon a test left running after each test (a failed test may leave some), so the
   * next test starts from a quiet etcd. etcd itself is kept.
   */
  readonly killDaemonsAfterEach?: boolean;
}

/** Registers the hooks; the returned getter is valid inside tests (after beforeAll ran). */
export function useTestbed(label: string, setup: (bed: Testbed) => Promise<void>, opts: TestbedOptions = {}): () => Testbed {
  let bed: Testbed | undefined;
  beforeAll(async () => {
    const underlay = await Underlay.create();
    const etcd = await EtcdServer.start({ netns: underlay.switchNs, host: SWITCH_IP });
    bed = { underlay, etcd, dir: mkdtempSync(join(tmpdir(), `weft-${label}-`)) };
    await setup(bed);
  });
  if (opts.killDaemonsAfterEach) {
    afterEach(async () => {
      await Promise.all(liveChildren().filter((c) => c.pid !== bed?.etcd.pid).map((c) => c.stop('SIGKILL')));
    });
  }
  afterAll(async () => {
    await bed?.etcd.close();
    await bed?.underlay.destroy();
    if (bed) rmSync(bed.dir, { recursive: true, force: true });
  });
  return () => {
    if (!bed) throw new Error('the testbed is used before beforeAll ran');
    return bed;
  };
}
