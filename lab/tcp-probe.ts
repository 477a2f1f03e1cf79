// A one-shot TCP check run inside lab namespaces (`node dist/lab/tcp-probe.js …`):
//   server <ip> <port>          prints "listening", accepts one connection, replies with the SHA-256
//                               (hex) of everything received, exits
//   client <ip> <port> <bytes>  sends <bytes> random bytes, half-closes, prints
//                               {"ok":…,"bytes":…,"ms":…} and exits 0 when the reply matches
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';

const [mode, host, portText, bytesText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'server') {
  const server = createServer((sock) => {
    const hash = createHash('sha256');
    sock.on('data', (d) => hash.update(d));
    sock.on('end', () => {
      sock.end(hash.digest('hex'));
      server.close();
    });
    sock.on('error', (err) => {
      console.error(`server: ${err.message}`);
      process.exit(1);
    });
  });
  server.listen(port, host, () => console.log('listening'));
  setTimeout(() => {
    console.error('server: no connection within 60 s');
    process.exit(1);
  }, 60_000).unref();
} else if (mode === 'client') {
  const total = Number(bytesText);
  const hash = createHash('sha256');
  const started = Date.now();
  const sock = connect({ host, port });
  let reply = '';
  sock.setTimeout(20_000, () => {
    console.error(`client: timed out (${host}:${port})`);
    process.exit(1);
  });
  sock.on('connect', () => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const chunk = randomBytes(Math.min(65536, total - sent));
        hash.update(chunk);
        sent += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.end();
    };
    pump();
  });
  sock.on('data', (d) => (reply += d.toString('utf8')));
  sock.on('end', () => {
    const ok = reply === hash.digest('hex');
    console.log(JSON.stringify({ ok, bytes: total, ms: Date.now() - started }));
    process.exit(ok ? 0 : 1);
  });
  sock.on('error', (err) => {
    console.error(`client: ${err.message}`);
    process.exit(1);
  });
} else {
  console.error('usage: tcp-probe server <ip> <port> | client <ip> <port> <bytes>');
  process.exit(2);
}
