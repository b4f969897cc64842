#!/usr/bin/env node
// Generates src/http/models/*.gen.ts from AWS's published service models (npm run gen:models).
//
// Two sources, merged, because neither alone has everything:
//  - npm `aws-sdk` v2 `apis/<service>.min.json`: the newest operation list, HTTP bindings and
//    members, but minified: no constraints, no error shapes, shapes inlined.
//  - Debian `python3-botocore` `botocore/data/<service>/<version>/service-2.json`: the full model
//    (lengths, patterns, enums, ranges, errors with HTTP status), but older.
// Operations, routes, members and locations come from aws-sdk when it has the operation; every
// constraint and the error table come from botocore, walked in parallel by member name.
// Either source may be absent (its part is then missing, and the header says so).
//
// Neither is a dependency. Fetch them for a run:
//   (cd /tmp && npm pack aws-sdk && tar xzf aws-sdk-*.tgz)      # -> /tmp/package
//   apt-get install -y python3-botocore
//   npm run gen:models -- --aws-sdk /tmp/package        # or: npm install --no-save aws-sdk && npm run gen:models
// Both sources are required (a missing one would silently drop routes or constraints) unless
// --allow-missing is given.
//
// A third, small source is in the repository: scripts/aws-models-supplement.json holds operations,
// shapes and errors AWS added after the versions above (written from AWS's API reference and
// checked against what the installed @aws-sdk/client-* sends). It only adds names the models lack.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SERVICES = [
  { file: 'iot', v2: 'iot-2015-05-28', bc: 'iot/2015-05-28', prefix: 'iot', types: 'Iot' },
  { file: 'iot-data', v2: 'iot-data-2015-05-28', bc: 'iot-data/2015-05-28', prefix: 'iotData', types: 'IotData' },
  { file: 'iot-jobs-data', v2: 'iot-jobs-data-2017-09-29', bc: 'iot-jobs-data/2017-09-29', prefix: 'iotJobsData', types: 'IotJobsData' },
];
const BUILTINS = new Set(['string', 'boolean', 'integer', 'long', 'float', 'double', 'timestamp', 'blob', 'document']);

function parseArgs(argv) {
  const awsSdk = ['node_modules/aws-sdk', '/tmp/package', '/tmp/aws-sdk/package'].find((d) => existsSync(join(d, 'apis'))) ?? 'node_modules/aws-sdk';
  const out = { awsSdk, botocore: '/usr/lib/python3/dist-packages/botocore/data', outDir: 'src/http/models', allowMissing: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--allow-missing') {
      out.allowMissing = true;
      continue;
    }
    if (k === '--aws-sdk') out.awsSdk = v;
    else if (k === '--botocore') out.botocore = v;
    else if (k === '--out') out.outDir = v;
    else throw new Error(`unknown argument ${k}`);
    i++;
  }
  return out;
}

const readJson = (p) => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null);

// Java's POSIX classes are US-ASCII; JavaScript has no \p{Graph} etc.
const POSIX = {
  Lower: 'a-z', Upper: 'A-Z', ASCII: '\\x00-\\x7F', Alpha: 'a-zA-Z', Digit: '0-9', Alnum: 'a-zA-Z0-9',
  Punct: '!-\\/:-@\\[-`{-~', Graph: '\\x21-\\x7E', Print: '\\x20-\\x7E', Blank: ' \\t', Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F', Space: '\\t\\n\\x0B\\f\\r ',
};

/** A Java (Coral) regex as a JavaScript `u` regex source, or null when it cannot be translated. */
function javaRegexToJs(p) {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const m = /^\\p\{(\w+)\}/.exec(p.slice(i));
      if (m && POSIX[m[1]]) {
        out += inClass ? POSIX[m[1]] : `[${POSIX[m[1]]}]`;
        i += m[0].length - 1;
        continue;
      }
      out += p.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  for (const flags of ['u', '']) {
    try {
      new RegExp(`^(?:${out})$`, flags);
      return { source: out, unicode: flags === 'u' };
    } catch {
      /* try the next */
    }
  }
  return null;
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function generate(svc, v2, bc) {
  const shapes = new Map(); // name -> definition
  const memo = new Map(); // key -> name
  const dropped = [];
  let inline = 0;
  const objId = new WeakMap();
  const keyOf = (node) => {
    if (!node) return '-';
    if (node.shape) return `v2:${node.shape}`;
    if (!objId.has(node)) objId.set(node, `i${inline++}`);
    return objId.get(node);
  };
  const uniqueName = (base) => {
    let name = BUILTINS.has(base) ? `${base}Shape` : base;
    for (let n = 2; shapes.has(name); n++) name = `${base}_${n}`;
    return name;
  };

  /** Shape reference (a name in `shapes` or a builtin) for a v2 node and/or botocore shape name. */
  function conv(v2node, bcName, hint) {
    const v2Shape = v2node ? (v2node.shape ? v2.shapes[v2node.shape] : v2node) : undefined;
    const bcShape = bcName ? bc?.shapes[bcName] : undefined;
    const type = v2Shape ? (v2Shape.type ?? 'string') : (bcShape?.type ?? 'string');
    const bcOk = bcShape && bcShape.type === type ? bcShape : undefined;
    const def = { type };
    if (bcOk) {
      for (const k of ['min', 'max']) if (bcOk[k] !== undefined) def[k] = bcOk[k];
      if (bcOk.enum) def.enum = bcOk.enum;
      if (bcOk.pattern) {
        const js = javaRegexToJs(bcOk.pattern);
        if (js) {
          def.pattern = js.source;
          if (!js.unicode) def.patternFlags = '';
        } else dropped.push(`${bcName}: ${bcOk.pattern}`);
      }
    }
    const tsf = v2Shape?.timestampFormat ?? bcOk?.timestampFormat;
    if (tsf) def.timestampFormat = tsf;
    const scalar = !['structure', 'list', 'map'].includes(type);
    if (scalar && Object.keys(def).length === 1) return type;

    // A scalar is its botocore shape (v2 adds nothing but the type); a structure, list or map is
    // the pair (v2 node, botocore shape), since v2 may have members botocore lacks.
    const key = scalar ? `scalar|${bcName}|${JSON.stringify(def)}` : `${keyOf(v2node?.shape ? v2node : v2Shape)}|${bcName ?? ''}`;
    if (memo.has(key)) return memo.get(key);
    const name = uniqueName(bcName ?? hint);
    memo.set(key, name);
    shapes.set(name, def); // registered before descending: recursive shapes refer to it by name

    if (type === 'structure') {
      const v2m = v2Shape?.members;
      const bcm = bcOk?.members ?? {};
      const members = {};
      for (const [m, vm] of Object.entries(v2m ?? bcm)) {
        const bm = bcm[m];
        const src = v2m ? vm : bm;
        const md = { shape: conv(v2m ? vm : undefined, bm?.shape, `${name}${cap(m)}`) };
        for (const k of ['location', 'locationName', 'jsonvalue', 'idempotencyToken', 'timestampFormat', 'hostLabel']) {
          const v = src[k] ?? (v2m ? undefined : bm?.[k]);
          if (v !== undefined) md[k] = v;
        }
        // A member with no binding is just its shape name (keeps the file small).
        members[m] = Object.keys(md).length === 1 ? md.shape : md;
      }
      const required = v2Shape?.required ?? bcOk?.required;
      if (required?.length) def.required = required;
      const payload = v2Shape?.payload ?? bcOk?.payload;
      if (payload) def.payload = payload;
      def.members = members;
    } else if (type === 'list') {
      def.member = conv(v2Shape?.member, bcOk?.member?.shape, `${name}Member`);
    } else if (type === 'map') {
      def.key = conv(v2Shape?.key, bcOk?.key?.shape, `${name}Key`);
      def.value = conv(v2Shape?.value, bcOk?.value?.shape, `${name}Value`);
    }
    return name;
  }

  const opNames = [...new Set([...Object.keys(v2?.operations ?? {}), ...Object.keys(bc?.operations ?? {})])].sort();
  const operations = {};
  const onlyBotocore = [];
  for (const op of opNames) {
    const a = v2?.operations[op];
    const b = bc?.operations[op];
    if (!a) onlyBotocore.push(op);
    const http = a?.http ?? b.http;
    const o = { method: http.method ?? 'POST', requestUri: http.requestUri };
    if (http.responseCode && http.responseCode !== 200) o.responseCode = http.responseCode;
    const input = a ? a.input : undefined;
    if (a ? input : b.input) o.input = conv(input, b?.input?.shape, `${op}Request`);
    if (a ? a.output : b.output) o.output = conv(a?.output, b?.output?.shape, `${op}Response`);
    if (b?.errors?.length) o.errors = b.errors.map((e) => e.shape);
    operations[op] = o;
  }

  const errors = {};
  for (const [name, s] of Object.entries(bc?.shapes ?? {}).sort()) {
    if (s.exception) errors[name] = s.error?.httpStatusCode ?? (s.fault ? 500 : 400);
  }
  const meta = v2?.metadata ?? bc.metadata;
  const metadata = {
    serviceId: meta.serviceId,
    apiVersion: meta.apiVersion,
    protocol: meta.protocol,
    endpointPrefix: meta.endpointPrefix,
    // botocore's old iot model says "execute-api"; the SDKs sign with the aws-sdk model's name.
    signingName: v2?.metadata.signingName ?? meta.signingName ?? meta.endpointPrefix,
  };
  return { metadata, operations, shapes: Object.fromEntries([...shapes].sort(([a], [b]) => (a < b ? -1 : 1))), errors, dropped, onlyBotocore };
}

function tsType(ref, shapes) {
  switch (ref) {
    case 'string': return 'string';
    case 'boolean': return 'boolean';
    case 'integer': case 'long': case 'float': case 'double': return 'number';
    case 'timestamp': return 'Date';
    case 'blob': return 'Uint8Array';
    case 'document': return 'unknown';
  }
  const s = shapes[ref];
  switch (s.type) {
    case 'string': return s.enum ? s.enum.map((e) => JSON.stringify(e)).join(' | ') : 'string';
    case 'list': { const t = tsType(s.member, shapes); return /[ |]/.test(t) ? `Array<${t}>` : `${t}[]`; }
    case 'map': return `Record<string, ${tsType(s.value, shapes)}>`;
    case 'structure': return ref;
    default: return tsType(s.type, shapes);
  }
}

function render(svc, model, sources) {
  const { metadata, operations, shapes, errors } = model;
  const L = [];
  L.push('// GENERATED by scripts/gen-aws-models.mjs (npm run gen:models). Do not edit.');
  L.push(`// Service ${metadata.serviceId} ${metadata.apiVersion}, protocol ${metadata.protocol}, signing name ${metadata.signingName}.`);
  for (const s of sources) L.push(`// Source: ${s}`);
  L.push(`// ${Object.keys(operations).length} operations, ${Object.keys(shapes).length} named shapes, ${Object.keys(errors).length} error shapes; documentation stripped.`);
  if (model.onlyBotocore.length) L.push(`// Operations only in botocore (routes from there): ${model.onlyBotocore.join(', ')}`);
  if (model.dropped.length) L.push(`// Patterns not translatable to JavaScript (not enforced): ${model.dropped.join('; ')}`);
  L.push("import type { ServiceModel } from '../service-model.js';");
  L.push('');
  L.push(`/** The ${metadata.serviceId} service model: operations, HTTP bindings, shapes with constraints, errors. */`);
  L.push(`export const ${svc.prefix}Model: ServiceModel = {`);
  L.push(`  metadata: ${JSON.stringify(metadata)},`);
  L.push('  operations: {');
  for (const [n, o] of Object.entries(operations)) L.push(`    ${n}: ${JSON.stringify(o)},`);
  L.push('  },');
  L.push('  shapes: {');
  for (const [n, s] of Object.entries(shapes)) L.push(`    ${JSON.stringify(n)}: ${JSON.stringify(s)},`);
  L.push('  },');
  L.push(`  errors: ${JSON.stringify(errors)},`);
  L.push('};');
  L.push('');
  L.push(`/** Input and output types of every ${metadata.serviceId} operation (timestamps are Date, blobs Uint8Array). */`);
  L.push(`export interface ${svc.types}Operations {`);
  for (const [n, o] of Object.entries(operations)) {
    L.push(`  ${n}: { input: ${o.input ? tsType(o.input, shapes) : 'EmptyStructure'}; output: ${o.output ? tsType(o.output, shapes) : 'EmptyStructure'} };`);
  }
  L.push('}');
  L.push('');
  if (L.some((l) => l.includes(': EmptyStructure'))) L.push('type EmptyStructure = Record<string, never>;');
  for (const [n, s] of Object.entries(shapes)) {
    if (s.type !== 'structure') continue;
    const req = new Set(s.required ?? []);
    const fields = Object.entries(s.members).map(([m, md]) => `${/^[A-Za-z_$][\w$]*$/.test(m) ? m : JSON.stringify(m)}${req.has(m) ? '' : '?'}: ${tsType(typeof md === 'string' ? md : md.shape, shapes)}`);
    // An empty interface would accept any value (and lint says so): an empty structure is `{}` only.
    L.push(fields.length ? `export interface ${n} { ${fields.join('; ')} }` : `export type ${n} = Record<string, never>;`);
  }
  L.push('');
  return L.join('\n');
}

/**
 * Adds the supplement's operations, shapes, members and errors that `model` lacks; returns the
 * operations and members (`Shape.member`) it added. `members` adds members to a structure the
 * model already has (AWS added `enableBatching` and `batchConfig` to HttpAction later).
 */
function applySupplement(model, sup) {
  const added = [];
  const addedMembers = [];
  if (!sup) return { added, addedMembers };
  for (const [name, op] of Object.entries(sup.operations ?? {})) {
    if (name in model.operations) continue;
    model.operations[name] = op;
    added.push(name);
  }
  model.operations = Object.fromEntries(Object.entries(model.operations).sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const [name, shape] of Object.entries(sup.shapes ?? {})) if (!(name in model.shapes)) model.shapes[name] = shape;
  model.shapes = Object.fromEntries(Object.entries(model.shapes).sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const [shapeName, members] of Object.entries(sup.members ?? {})) {
    const shape = model.shapes[shapeName];
    if (shape?.type !== 'structure') throw new Error(`supplement: members for ${shapeName}, which is not a structure of the model`);
    for (const [name, member] of Object.entries(members)) {
      if (name in shape.members) continue;
      shape.members[name] = member;
      addedMembers.push(`${shapeName}.${name}`);
    }
  }
  for (const [name, status] of Object.entries(sup.errors ?? {})) if (!(name in model.errors)) model.errors[name] = status;
  model.errors = Object.fromEntries(Object.entries(model.errors).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { added, addedMembers };
}

const args = parseArgs(process.argv.slice(2));
const supplement = readJson(new URL('./aws-models-supplement.json', import.meta.url).pathname);
const v2Pkg = readJson(join(args.awsSdk, 'package.json'));
const bcInit = existsSync(join(args.botocore, '..', '__init__.py')) ? readFileSync(join(args.botocore, '..', '__init__.py'), 'utf8') : '';
const bcVersion = /__version__ = '([^']+)'/.exec(bcInit)?.[1] ?? 'unknown';
mkdirSync(args.outDir, { recursive: true });
for (const svc of SERVICES) {
  const v2 = v2Pkg ? readJson(join(args.awsSdk, 'apis', `${svc.v2}.min.json`)) : null;
  const bc = readJson(join(args.botocore, svc.bc, 'service-2.json'));
  if (!v2 && !bc) throw new Error(`${svc.file}: neither source found (see the header of this script)`);
  if ((!v2 || !bc) && !args.allowMissing) {
    throw new Error(`${svc.file}: ${!v2 ? `aws-sdk model not found under ${args.awsSdk}` : `botocore model not found under ${args.botocore}`} (see the header of this script, or pass --allow-missing)`);
  }
  const sources = [];
  if (v2) sources.push(`npm aws-sdk@${v2Pkg.version} apis/${svc.v2}.min.json (operations, HTTP bindings, members)`);
  else sources.push('npm aws-sdk: absent (operations and routes from botocore only)');
  if (bc) sources.push(`botocore ${bcVersion} (Debian python3-botocore) data/${svc.bc}/service-2.json (constraints, errors)`);
  else sources.push('botocore: absent (no constraints, no error table)');
  const model = generate(svc, v2, bc);
  const { added, addedMembers } = applySupplement(model, supplement?.[svc.file]);
  const supplemented = [added.length > 0 ? `operations ${added.join(', ')}` : '', addedMembers.length > 0 ? `members ${addedMembers.join(', ')}` : ''].filter((x) => x !== '');
  if (supplemented.length > 0) sources.push(`scripts/aws-models-supplement.json (${supplemented.join('; ')})`);
  const out = resolve(args.outDir, `${svc.file}.gen.ts`);
  const text = render(svc, model, sources);
  writeFileSync(out, text);
  console.log(`${out}: ${Object.keys(model.operations).length} operations, ${Object.keys(model.shapes).length} shapes, ${(text.length / 1024).toFixed(0)} KiB`);
}
