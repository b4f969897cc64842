/**
 * The load generator process. The orchestrator (bench/run.mjs) forks one per run and sends
 * { cmd: 'run', test, port, brokerPid, params }; the worker answers { type: 'result', result }
 * or { type: 'error', message } and exits. The crash check also asks the orchestrator to
 * kill and restart the broker ({ type: 'kill-broker' } -> { cmd: 'broker-restarted', ... }).
 *
 * It needs no broker code: only mqtt-packet for encoding and node:net.
 */
import { runThroughput } from './throughput.mjs';
import { runLatency } from './latency.mjs';
import { runIdle } from './idle.mjs';
import { runRetained } from './retained.mjs';
import { runCrashCheck } from './crash-check.mjs';
import { SetupError } from './common.mjs';

const tests = {
  throughput: runThroughput,
  latency: runLatency,
  idle: runIdle,
  retained: runRetained,
  'crash-check': runCrashCheck,
};

/** Messages from the orchestrator other than the first `run` go to whoever waits for them. */
const inbox = [];
const waiting = [];
export function nextMessage() {
  if (inbox.length > 0) return Promise.resolve(inbox.shift());
  return new Promise((resolve) => waiting.push(resolve));
}

export function send(msg) {
  process.send(msg);
}

process.on('message', (msg) => {
  if (msg.cmd === 'run') {
    start(msg);
    return;
  }
  if (waiting.length > 0) waiting.shift()(msg);
  else inbox.push(msg);
});

async function start(msg) {
  const fn = tests[msg.test];
  try {
    if (!fn) throw new Error(`unknown test ${msg.test}`);
    const result = await fn({ port: msg.port, brokerPid: msg.brokerPid, params: msg.params, send, nextMessage });
    send({ type: 'result', result });
  } catch (err) {
    const message = err instanceof SetupError ? err.message : (err.stack ?? String(err));
    send({ type: 'error', message });
  }
  // Let the IPC message flush before leaving; sockets may still be open.
  setTimeout(() => process.exit(0), 100);
}
