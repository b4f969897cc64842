/**
 * Runs the in-process shadow server (shadow-server.ts) as its own process on a SQLite file, for
 * kill -9 tests: `node shadow-server-main.js DBFILE` prints one JSON line {mqttUrl, httpUrl}.
 */
import { startShadowServer } from './shadow-server.js';

const dbFile = process.argv[2];
if (dbFile === undefined) {
  process.stderr.write('usage: shadow-server-main DBFILE\n');
  process.exit(2);
}
// Pipelined test publishers may deliver more than 10 requests in one read; AWS's 429 rule is tested in src/shadow/topics.test.ts.
const s = await startShadowServer({ dbFile, maxInFlight: 1000 });
process.stdout.write(`${JSON.stringify({ mqttUrl: s.mqttUrl, httpUrl: s.httpUrl })}\n`);
process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
