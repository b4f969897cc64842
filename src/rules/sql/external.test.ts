// SQL functions that reach outside the message: aws_lambda() with real local functions (worker
// threads), get_secret() in substitution templates, decode(…, 'proto', …) with a FileDescriptorSet
// the test builds with protobufjs and writes into an object-store directory.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { createLocalFunctions } from '../lambda.js';
import { compileSql, compileTemplate, ProtoDescriptors, resolveSecret, SqlParseException, toJsonText, type SqlContext, type SqlLookups } from './index.js';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:double';

function ctx(payload: Buffer | string, topic = 'sensors/d1'): SqlContext {
  return {
    topic,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
    clientId: 'c1',
    principal: null,
    sourceIp: null,
    traceId: 'trace-1',
    timestamp: 1_700_000_000_000,
    accountId: '123456789012',
    properties: null,
  };
}

const parseError = (fragment: string) => (e: unknown) => e instanceof SqlParseException && e.message.includes(fragment);

let dir: string;
let calls: string;
let lookups: SqlLookups;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sql-ext-'));
  calls = join(dir, 'calls.log');
  // Each invocation appends a line, so tests can count calls.
  writeFileSync(
    join(dir, 'double.mjs'),
    `import { appendFileSync } from 'node:fs';
export default async (event) => {
  appendFileSync(${JSON.stringify(calls)}, JSON.stringify(event) + '\\n');
  if (event.fail) throw new Error('refused by the function');
  return { doubled: event.n * 2, id: event.id, typeofN: typeof event.n };
};
`,
  );
  writeFileSync(join(dir, 'spin.mjs'), 'export default async () => { for (;;) {} };\n');
  // A generous bound for the calls that must succeed (a worker's cold start on a loaded machine
  // took over 300 ms); the spinning function gets 300 ms, so the timeout test stays short.
  const functions = createLocalFunctions({ double: { module: join(dir, 'double.mjs') }, spin: { module: join(dir, 'spin.mjs') } }, { timeoutMs: 10_000, memoryMb: 64 });
  lookups = { functions: { has: (arn) => functions.resolve(arn) !== null, invoke: (arn, event) => functions.invoke(arn, event, arn === 'spin' ? { timeoutMs: 300 } : {}) } };
});

after(() => rmSync(dir, { recursive: true, force: true }));

const callCount = (): number => {
  try {
    return readFileSync(calls, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

describe('aws_lambda(functionArn, inputJson)', () => {
  test('[aws_lambda] the function result is addressable in SELECT and WHERE; one call serves both', async () => {
    const sql = compileSql(`SELECT aws_lambda('${ARN}', {'n': n}).doubled AS d, traceid() AS t FROM 'sensors/+' WHERE aws_lambda('${ARN}', {'n': n}).doubled > 5`, { lookups });
    assert.equal(sql.async, true);
    const before = callCount();
    const c = ctx('{"n": 4}');
    assert.deepEqual(await sql.evaluateAsync(c, sql.parsePayload(c.payload)), { d: 8, t: 'trace-1' });
    assert.equal(callCount() - before, 1, 'the same (function, input) ran once for WHERE and SELECT');
    const low = ctx('{"n": 2}');
    assert.equal(await sql.evaluateAsync(low, sql.parsePayload(low.payload)), undefined);
  });

  test('[aws_lambda] newuuid() is the same in every evaluation pass (its value can feed a call)', async () => {
    const sql = compileSql(`SELECT aws_lambda('double', {'n': 1, 'id': newuuid()}).id AS echoed, newuuid() AS other FROM 't'`, { lookups });
    const before = callCount();
    const c = ctx('{}');
    const out = (await sql.evaluateAsync(c, undefined)) as { echoed: string; other: string };
    assert.match(out.echoed, /^[0-9a-f-]{36}$/);
    assert.notEqual(out.echoed, out.other);
    assert.equal(callCount() - before, 1);
  });

  test('[aws_lambda] * passes the whole JSON payload; a Decimal 7.0 arrives as a number', async () => {
    const sql = compileSql(`SELECT VALUE aws_lambda('${ARN}', *) FROM 't'`, { lookups });
    const c = ctx('{"n": 7.0}');
    assert.deepEqual(await sql.evaluateAsync(c, sql.parsePayload(c.payload)), { doubled: 14, typeofN: 'number' });
  });

  test('[aws_lambda] two different calls run one after the other and both results are used', async () => {
    const sql = compileSql(`SELECT aws_lambda('${ARN}', {'n': a}).doubled + aws_lambda('${ARN}', {'n': b}).doubled AS s FROM 't'`, { lookups });
    const c = ctx('{"a": 1, "b": 10}');
    assert.deepEqual(await sql.evaluateAsync(c, sql.parsePayload(c.payload)), { s: 22 });
  });

  test('[aws_lambda] a function that throws is an evaluation error naming the function', async () => {
    const sql = compileSql(`SELECT aws_lambda('${ARN}', {'fail': true}) AS r FROM 't'`, { lookups });
    await assert.rejects(sql.evaluateAsync(ctx('{}'), {}), /aws_lambda\(arn:aws:lambda:us-east-1:123456789012:function:double\) failed: refused by the function/);
  });

  test('[aws_lambda] a function that runs past the timeout is an evaluation error', async () => {
    const sql = compileSql("SELECT aws_lambda('spin', {}) AS r FROM 't'", { lookups });
    await assert.rejects(sql.evaluateAsync(ctx('{}'), {}), /timed out after 300 ms/);
  });

  test('[aws_lambda] a function that is not configured is SqlParseException at creation, naming it', () => {
    assert.throws(() => compileSql("SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:nope', *) FROM 't'", { lookups }), parseError('function arn:aws:lambda:us-east-1:1:function:nope is not configured'));
  });

  test('[aws_lambda] in a substitution template is SqlParseException', () => {
    assert.throws(() => compileTemplate(`\${aws_lambda('${ARN}', {})}`, { lookups }), parseError('substitution template'));
  });

  test('rules without aws_lambda evaluate synchronously (evaluateAsync is the same evaluation)', async () => {
    const sql = compileSql("SELECT x FROM 't'", { lookups });
    assert.equal(sql.async, false);
    assert.deepEqual(await sql.evaluateAsync(ctx('{"x": 1}'), { x: 1 }), { x: 1 });
  });
});

describe('get_secret(secretId, secretType, key, roleArn)', () => {
  const secrets = {
    plain: 'hunter2',
    'api-keys': { API_KEY_VALUE: 'k-123', other: 'o' },
    jsonText: '{"user": "u1"}',
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:byarn-AbCdEf': 's-arn',
  };
  const L: SqlLookups = { getSecret: (id) => resolveSecret(secrets, id) };
  const role = 'arn:aws:iam::123456789012:role/getsecret';
  const render = (t: string): string => compileTemplate(t, { lookups: L })({}, ctx('{}'));

  test('[get_secret] SecretString: the secret text; with a key, the value of that key of a JSON secret', () => {
    assert.equal(render(`Bearer \${get_secret('plain', 'SecretString', '${role}')}`), 'Bearer hunter2');
    assert.equal(render(`\${get_secret('api-keys', 'SecretString', 'API_KEY_VALUE', '${role}')}`), 'k-123');
    assert.equal(render(`\${get_secret('jsonText', 'SecretString', 'user', '${role}')}`), 'u1');
    assert.deepEqual(JSON.parse(render(`\${get_secret('api-keys', 'SecretString', '${role}')}`)), { API_KEY_VALUE: 'k-123', other: 'o' });
  });

  test('[get_secret] SecretBinary: the secret as base64', () => {
    assert.equal(render(`\${get_secret('plain', 'SecretBinary', '${role}')}`), Buffer.from('hunter2').toString('base64'));
  });

  test('[get_secret] a secret by ARN, by the name of a configured ARN, and an ARN of a configured name', () => {
    assert.equal(render(`\${get_secret('byarn', 'SecretString', '${role}')}`), 's-arn');
    assert.equal(render(`\${get_secret('arn:aws:secretsmanager:us-east-1:123456789012:secret:plain-Xy12Zq', 'SecretString', '${role}')}`), 'hunter2');
  });

  test('[get_secret] a key of a secret that is not JSON, a key with SecretBinary, a missing key fail at run time', () => {
    assert.throws(() => render(`\${get_secret('plain', 'SecretString', 'k', '${role}')}`), /not a JSON object/);
    assert.throws(() => render(`\${get_secret('api-keys', 'SecretBinary', 'k', '${role}')}`), /cannot be read from the SecretBinary/);
    assert.throws(() => render(`\${get_secret('api-keys', 'SecretString', 'nope', '${role}')}`), /has no key nope/);
  });

  test('[get_secret] an unknown secret or secretType is SqlParseException at creation', () => {
    assert.throws(() => compileTemplate(`\${get_secret('nope', 'SecretString', '${role}')}`, { lookups: L }), parseError('secret nope is not configured'));
    assert.throws(() => compileTemplate(`\${get_secret('plain', 'Secret', '${role}')}`, { lookups: L }), parseError('secretType must be SecretString or SecretBinary'));
  });

  test('[get_secret] only in substitution templates: in SELECT it is SqlParseException', () => {
    assert.throws(() => compileSql(`SELECT get_secret('plain', 'SecretString', '${role}') AS s FROM 't'`, { lookups: L }), parseError('only in the substitution templates'));
  });
});

describe("decode(value, 'proto', bucket, fileDescriptorSetKey, protoFileName, messageType)", () => {
  const PROTO = `syntax = "proto3";
package demo;
enum Color { RED = 0; GREEN = 1; }
message Reading {
  string device_id = 1;
  int64 big_count = 2;
  Color color = 3;
  bytes raw = 4;
  double temp = 5;
  repeated int32 vals = 6;
  map<string, int32> tags = 7;
  Inner inner = 8;
  uint32 zero = 9;
}
message Inner { bool ok = 1; }`;
  let objects: string;
  let Reading: protobuf.Type;

  before(() => {
    objects = join(dir, 's3');
    mkdirSync(join(objects, 'protos'), { recursive: true });
    const root = protobuf.parse(PROTO, { keepCase: true }).root;
    const set = root.toDescriptor('proto3');
    set.file[0]!.name = 'reading.proto';
    writeFileSync(join(objects, 'protos', 'reading.desc'), descriptor.FileDescriptorSet.encode(set).finish());
    Reading = protobuf.Root.fromDescriptor(descriptor.FileDescriptorSet.encode(set).finish()).lookupType('demo.Reading');
  });

  const encoded = (): Buffer =>
    Buffer.from(
      Reading.encode(
        Reading.fromObject({ deviceId: 'd1', bigCount: '9007199254740993', color: 1, raw: Buffer.from([1, 2, 3]), temp: 21.5, vals: [1, 2], tags: { a: 1 }, inner: { ok: true } }),
      ).finish(),
    );

  test("[Protobuf message decoding] the payload decodes to protobuf's JSON form (camelCase names, enum names, 64-bit integers as strings, bytes as base64)", () => {
    const L: SqlLookups = { protoDescriptors: new ProtoDescriptors(objects) };
    const sql = compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'reading.desc', 'reading', 'Reading') FROM 't'", { lookups: L });
    const out = sql.evaluate(ctx(encoded()));
    assert.deepEqual(out, { deviceId: 'd1', bigCount: '9007199254740993', color: 'GREEN', raw: 'AQID', temp: 21.5, vals: [1, 2], tags: { a: 1 }, inner: { ok: true } });
    assert.equal(toJsonText(out).includes('"zero"'), false, 'a field at its default value is left out');
  });

  test('[Protobuf message decoding] decoded fields are addressable, in SELECT and WHERE', () => {
    const L: SqlLookups = { protoDescriptors: new ProtoDescriptors(objects) };
    const sql = compileSql(
      "SELECT decode(*, 'proto', 'protos', 'reading.desc', 'reading.proto', 'Reading').deviceId AS device FROM 't' WHERE decode(*, 'proto', 'protos', 'reading.desc', 'reading', 'Reading').temp > 20",
      { lookups: L },
    );
    assert.deepEqual(sql.evaluate(ctx(encoded())), { device: 'd1' });
  });

  test('[Protobuf message decoding] bytes that are not the message are an evaluation error', () => {
    const L: SqlLookups = { protoDescriptors: new ProtoDescriptors(objects) };
    const sql = compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'reading.desc', 'reading', 'Reading') FROM 't'", { lookups: L });
    assert.throws(() => sql.evaluate(ctx(Buffer.from([0xff, 0xff, 0xff]))), /not a valid demo.Reading message/);
  });

  test('[Protobuf message decoding] a missing descriptor file, proto file or message type is SqlParseException at creation', () => {
    const L: SqlLookups = { protoDescriptors: new ProtoDescriptors(objects) };
    assert.throws(() => compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'missing.desc', 'reading', 'Reading') FROM 't'", { lookups: L }), parseError('s3://protos/missing.desc does not exist'));
    assert.throws(() => compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'reading.desc', 'other', 'Reading') FROM 't'", { lookups: L }), parseError('has no file other.proto'));
    assert.throws(() => compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'reading.desc', 'reading', 'Nope') FROM 't'", { lookups: L }), parseError('declares no message Nope'));
    assert.throws(() => compileSql("SELECT VALUE decode(*, 'proto', bucket, 'reading.desc', 'reading', 'Reading') FROM 't'", { lookups: L }), parseError('bucket must be a string literal'));
  });

  test('[Protobuf message decoding] a descriptor replaced in the object store is read again by the next rule', () => {
    const L: SqlLookups = { protoDescriptors: new ProtoDescriptors(objects) };
    const file = join(objects, 'protos', 'swap.desc');
    const v1 = protobuf.parse('syntax = "proto3"; message M { string a = 1; }').root.toDescriptor('proto3');
    v1.file[0]!.name = 'm.proto';
    writeFileSync(file, descriptor.FileDescriptorSet.encode(v1).finish());
    compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'swap.desc', 'm', 'M') FROM 't'", { lookups: L });
    const v2 = protobuf.parse('syntax = "proto3"; message M2 { string b = 1; } message M { string a = 1; string padding_field_x = 2; }').root.toDescriptor('proto3');
    v2.file[0]!.name = 'm.proto';
    writeFileSync(file, descriptor.FileDescriptorSet.encode(v2).finish());
    // M2 exists only in the new file: compiling succeeds only if the descriptor was read again.
    compileSql("SELECT VALUE decode(*, 'proto', 'protos', 'swap.desc', 'm', 'M2') FROM 't'", { lookups: L });
  });
});

describe('local functions: concurrency', () => {
  test('[rules.functionConcurrency] calls beyond the limit wait for a free worker, then all complete', async () => {
    const d = mkdtempSync(join(tmpdir(), 'fn-conc-'));
    try {
      // Each call reports when it started and ended (wall clock, across worker threads).
      writeFileSync(join(d, 'slow.mjs'), 'export default async (e) => { const start = Date.now(); await new Promise((r) => setTimeout(r, 50)); return { i: e.i, start, end: Date.now() }; };\n');
      const fns = createLocalFunctions({ slow: { module: join(d, 'slow.mjs') } }, { timeoutMs: 5_000, memoryMb: 64, maxConcurrent: 1 });
      const results = (await Promise.all([0, 1, 2].map((i) => fns.invoke('slow', { i })))) as { i: number; start: number; end: number }[];
      assert.deepEqual(results.map((r) => r.i), [0, 1, 2]);
      const byStart = [...results].sort((a, b) => a.start - b.start);
      // With one worker at a time, no call starts before the previous one ended.
      for (let k = 1; k < byStart.length; k++) assert.ok(byStart[k]!.start >= byStart[k - 1]!.end, `call ${byStart[k]!.i} started while ${byStart[k - 1]!.i} ran`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
