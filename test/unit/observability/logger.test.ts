// subsystemLogger: every line names one subsystem, however the child was derived (pino repeats a
// key bound twice, and a JSON reader would then see only the last one).
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { subsystemLogger } from '../../../daemon/observability/logger.js';

function capture(): { root: Logger; lines: () => string[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { root: pino({ base: null, timestamp: false }, sink), lines: () => out };
}

describe('subsystemLogger', () => {
  it('gives a child of a subsystem child exactly one subsystem key, its own', async () => {
    const { root, lines } = capture();
    const weftd = subsystemLogger(root, 'weftd');
    const gossip = subsystemLogger(weftd, 'gossip');
    const routes = subsystemLogger(gossip, 'routes');
    weftd.info('a');
    gossip.info({ publicIP: '198.18.0.1' }, 'b');
    routes.info('c');
    await new Promise((r) => setImmediate(r));
    expect(lines()).toEqual([
      '{"level":30,"subsystem":"weftd","msg":"a"}',
      '{"level":30,"subsystem":"gossip","publicIP":"198.18.0.1","msg":"b"}',
      '{"level":30,"subsystem":"routes","msg":"c"}',
    ]);
  });
});
