// TCP request/response between two pods, as an application sees a round trip (ping's answer is the
// kernel's; this one needs a process on the far side to run):
//   node rr.js server <ip> <port>                 echoes every byte; prints LISTENING
//   node rr.js client <ip> <port> <count> <gap ms> sends 1 byte, waits for it, `gap` ms apart;
//                                                 prints {"avgMs","p99Ms","count"} over all but the
//                                                 first LEAD_IN round trips
import net from 'node:net';

/** Round trips sent first and not counted (connection warm-up, JIT). */
const LEAD_IN = 100;

function serve(ip: string, port: number): void {
  net
    .createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
      s.on('error', () => s.destroy());
    })
    .listen(port, ip, () => process.stdout.write('LISTENING\n'));
}

function measure(ip: string, port: number, count: number, gapMs: number): void {
  const rtts: number[] = [];
  let sentAt = 0n;
  const s = net.connect(port, ip, () => {
    s.setNoDelay(true);
    send();
  });
  const send = (): void => {
    sentAt = process.hrtime.bigint();
    s.write('x');
  };
  s.on('data', () => {
    rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    if (rtts.length < LEAD_IN + count) return void setTimeout(send, gapMs);
    s.end();
    const r = rtts.slice(LEAD_IN).sort((a, b) => a - b);
    const avgMs = r.reduce((a, b) => a + b, 0) / r.length;
    process.stdout.write(`${JSON.stringify({ avgMs, p99Ms: r[Math.min(r.length - 1, Math.floor(r.length * 0.99))], count: r.length })}\n`);
  });
  s.on('error', (err) => {
    process.stderr.write(`rr: ${err.message}\n`);
    process.exit(1);
  });
}

const [mode, ip, port, count, gap] = process.argv.slice(2);
if (mode === 'server') serve(ip, Number(port));
else if (mode === 'client') measure(ip, Number(port), Number(count), Number(gap));
else {
  process.stderr.write('usage: rr.js server <ip> <port> | client <ip> <port> <count> <gap ms>\n');
  process.exit(2);
}
