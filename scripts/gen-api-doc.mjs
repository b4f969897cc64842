#!/usr/bin/env node
// Writes the list of AWS IoT operations into docs/api.md, between
// `<!-- operations:start -->` and `<!-- operations:end -->`: each operation of the IoT service
// model (src/http/models/iot.gen.ts) with its HTTP route, and whether Thingport serves it.
//
// "Supported" is asked of the server itself, not of a hand-kept list: the script starts the built
// server in-process (dist/src/main.js, exactly as `thingport serve` composes it, on a temporary
// data directory and a free port), sends every operation's route one SigV4-signed request with
// the admin key, and records whether the answer is 501 NotImplementedException (no handler) or
// anything else (the operation has a handler; a 400 for the placeholder input is fine).
//
//   npm run build && node scripts/gen-api-doc.mjs          rewrite docs/api.md
//   npm run build && node scripts/gen-api-doc.mjs --check  exit 1 when docs/api.md is out of date
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { URLSearchParams, fileURLToPath, pathToFileURL } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = join(ROOT, 'docs', 'api.md');
const START = '<!-- operations:start -->';
const END = '<!-- operations:end -->';
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href;

class Sha256 {
  constructor(secret) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret));
  }
  update(data) {
    this.h.update(typeof data === 'string' ? data : Buffer.from(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

/** The request path and query of a model route, labels filled with a placeholder. */
function probeTarget(requestUri) {
  const [path, query = ''] = requestUri.split('?');
  const filled = path.replace(/\{[^}]+\}/g, 'gen-api-doc-probe');
  const q = {};
  for (const part of query.split('&').filter(Boolean)) {
    const [k, v = ''] = part.split('=');
    q[decodeURIComponent(k)] = decodeURIComponent(v);
  }
  return { path: filled, query: q };
}

/** Asks a running server, operation by operation, whether it has a handler. */
async function probe(model, httpUrl, region, key) {
  const signer = new SignatureV4({ service: model.metadata.signingName, region, credentials: key, sha256: Sha256 });
  const base = new URL(httpUrl);
  const out = new Map();
  for (const [name, op] of Object.entries(model.operations)) {
    const { path, query } = probeTarget(op.requestUri);
    const hasBody = ['POST', 'PUT', 'PATCH'].includes(op.method);
    const body = hasBody ? '{}' : undefined;
    const signed = await signer.sign({
      method: op.method,
      protocol: base.protocol,
      hostname: base.hostname,
      port: Number(base.port),
      path,
      query,
      headers: { host: base.host, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
      body,
    });
    const headers = { ...signed.headers };
    delete headers.host;
    const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
    const res = await fetch(`${httpUrl}${path}${qs ? `?${qs}` : ''}`, { method: op.method, headers, body });
    await res.arrayBuffer();
    const type = res.headers.get('x-amzn-errortype');
    if (res.status === 404 && type === 'UnknownOperationException') throw new Error(`${name}: the router does not know ${op.method} ${op.requestUri}`);
    if (res.status === 403) throw new Error(`${name}: the probe was refused (${type}); signing is broken`);
    out.set(name, !(res.status === 501 && type === 'NotImplementedException'));
  }
  return out;
}

/** Starts the built server on a temporary data dir (HTTP only), probes it, stops it. */
async function supportedOperations(model) {
  const { loadConfig } = await import(dist('src/core/index.js'));
  const { createLogger } = await import(dist('src/lib/index.js'));
  const { startThingport } = await import(dist('src/main.js'));
  const dir = mkdtempSync(join(tmpdir(), 'thingport-gen-api-doc-'));
  const argv = ['--data-dir', join(dir, 'data'), '--host', '127.0.0.1', '--http-port', '0', '--mqtt-port', 'off', '--mqtts-port', 'off', '--https-port', 'off', '--log-level', 'silent'];
  const loaded = loadConfig({ argv, env: {}, cwd: dir });
  if (!loaded.ok) throw new Error(`config: ${loaded.problems.join('; ')}`);
  const tp = await startThingport(loaded.config, { logger: createLogger('silent') });
  try {
    const keys = JSON.parse(readFileSync(join(dir, 'data', 'keys.json'), 'utf8'));
    const admin = keys.accessKeys.find((k) => k.user === 'admin');
    return await probe(model, tp.endpoints.http, tp.endpoints.region, { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey });
  } finally {
    await tp.stop('gen-api-doc done');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The generated section (markers included). */
async function generateSection() {
  const { iotModel } = await import(dist('src/http/models/iot.gen.js'));
  const supported = await supportedOperations(iotModel);
  const names = Object.keys(iotModel.operations).sort();
  const served = names.filter((n) => supported.get(n));
  const esc = (s) => s.replace(/\|/g, '\\|');
  const lines = [
    START,
    '<!-- Generated by scripts/gen-api-doc.mjs from the IoT service model (src/http/models/iot.gen.ts) and the handlers the server registers. Do not edit by hand: run `npm run build && node scripts/gen-api-doc.mjs`. -->',
    '',
    `Thingport serves **${served.length} of the ${names.length} operations** of the AWS IoT API (\`${iotModel.metadata.serviceId}\` ${iotModel.metadata.apiVersion}). Every route of the model is known to the router; an operation marked "no" answers \`501 NotImplementedException\` naming it.`,
    '',
    '| Operation | HTTP route | Supported |',
    '|---|---|---|',
    ...names.map((n) => {
      const op = iotModel.operations[n];
      return `| ${supported.get(n) ? `**${n}**` : n} | \`${op.method} ${esc(op.requestUri)}\` | ${supported.get(n) ? 'yes' : 'no'} |`;
    }),
    END,
  ];
  return lines.join('\n');
}

/** docs/api.md with the section replaced. */
function replaceSection(doc, section) {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a === -1 || b === -1 || b < a) throw new Error(`docs/api.md must contain ${START} ... ${END}`);
  return doc.slice(0, a) + section + doc.slice(b + END.length);
}

async function main() {
  const check = process.argv.includes('--check');
  const doc = readFileSync(DOC, 'utf8');
  const next = replaceSection(doc, await generateSection());
  if (check) {
    if (next !== doc) {
      console.error('docs/api.md is out of date: its list of operations differs from what the server serves.\nRun: npm run build && node scripts/gen-api-doc.mjs');
      process.exit(1);
    }
    console.log('docs/api.md is up to date');
    return;
  }
  if (next === doc) console.log('docs/api.md is already up to date');
  else {
    writeFileSync(DOC, next);
    console.log('docs/api.md: operations list rewritten');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
