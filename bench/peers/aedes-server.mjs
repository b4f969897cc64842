/**
 * Aedes (the Node.js reference broker) on plain TCP for the benchmark:
 *   node bench/peers/aedes-server.mjs --port 18830 [--host 127.0.0.1]
 * Persistence is aedes' default in-memory store (aedes-persistence): sessions survive a
 * reconnect but not a restart, so scenario f's crash check is expected to lose messages.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', '1884'));
const host = arg('host', '127.0.0.1');
const broker = await Aedes.createBroker();
// Aedes' defaults (Nagle's algorithm on): on this machine it measured no slower than noDelay.
const server = net.createServer(broker.handle);
server.listen(port, host, () => {
  process.stdout.write(`aedes listening on ${host}:${port}\n`);
});

function stop() {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
