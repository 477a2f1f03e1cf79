// ThreadedDataplane runs the data plane on a worker thread: setup errors must cross the thread as
// the same typed WeftError (code, message, errno cause) that Dataplane.open throws. The happy path
// (forwarding, route swaps, stats, close) runs in every weftd of the lab and netns tests. The worker
// entry is compiled JavaScript, so this loads the build (npm test builds first).
import { describe, expect, it } from 'vitest';
import type { ThreadedDataplane as ThreadedDataplaneType } from '../../../daemon/dataplane/threaded-dataplane.js';

const { ThreadedDataplane } = (await import(new URL('../../../dist/daemon/dataplane/threaded-dataplane.js', import.meta.url).href)) as {
  ThreadedDataplane: typeof ThreadedDataplaneType;
};

describe('ThreadedDataplane', () => {
  it('rejects bad options with the WeftError of Dataplane.open, before touching any device', async () => {
    const open = ThreadedDataplane.open({
      tunMtu: 1450,
      network: '10.244.0.0/16',
      subnetLen: 24,
      localSubnet: '10.245.1.0/24',
      localIp: '198.18.0.1',
      localVtepMac: '02:00:00:00:00:01',
    });
    await expect(open).rejects.toMatchObject({ name: 'WeftError', code: 'WEFT_ERR_CONFIG', message: 'localSubnet 10.245.1.0/24 is outside network 10.244.0.0/16' });
  });
});
