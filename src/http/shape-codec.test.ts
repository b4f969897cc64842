import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iotModel } from './models/iot.gen.js';
import { formatProblems, ShapeCodec, type Problem } from './shape-codec.js';

const codec = new ShapeCodec(iotModel);

test('JSON reading checks types, lengths, patterns, enums and ranges, naming every bad field', () => {
  const problems: Problem[] = [];
  codec.readJson(
    'CreateJobRequest',
    { jobId: 'j1', targets: 'not-a-list', targetSelection: 'SOMETIMES', timeoutConfig: { inProgressTimeoutInMinutes: 1.5 }, description: 'x'.repeat(2029) },
    '',
    problems,
  );
  const text = formatProblems(problems);
  // jobId is a URI label (readJson sees only the body) and targets was unreadable: both count as missing.
  assert.match(text, /^6 validation errors detected: /);
  assert.match(text, /Value null at 'jobId' failed to satisfy constraint: Member must not be null/);
  assert.match(text, /at 'targets' failed to satisfy constraint: Member must be a list/);
  assert.match(text, /at 'targetSelection' failed to satisfy constraint: Member must satisfy enum value set: \[CONTINUOUS, SNAPSHOT\]/);
  assert.match(text, /at 'timeoutConfig.inProgressTimeoutInMinutes' failed to satisfy constraint: Member must be an integer/);
  assert.match(text, /at 'description' failed to satisfy constraint: Member must have length less than or equal to 2028/);
});

test('timestamps: epoch seconds in JSON, HTTP-date in headers, ISO 8601 in the query', () => {
  const at = new Date('2026-01-02T03:04:05.500Z');
  assert.equal(codec.writeJson('timestamp', at), 1767323045.5);
  assert.equal((codec.readJson('timestamp', 1767323045.5, 't', []) as Date).getTime(), at.getTime());
  assert.equal(codec.writeHeader('timestamp', at), 'Fri, 02 Jan 2026 03:04:05 GMT');
  assert.equal((codec.readText('timestamp', '2026-01-02T03:04:05.500Z', 't', [], 'querystring') as Date).getTime(), at.getTime());
});

test('blobs are base64 in JSON; booleans and integers in text must be exact', () => {
  assert.equal(codec.writeJson('blob', Buffer.from('hi')), 'aGk=');
  assert.deepEqual(codec.readJson('blob', 'aGk=', 'b', []), Buffer.from('hi'));
  const problems: Problem[] = [];
  codec.readText('boolean', 'yes', 'setAsActive', problems, 'querystring');
  codec.readText('integer', '1e3', 'maxResults', problems, 'querystring');
  assert.deepEqual(problems.map((p) => p.path), ['setAsActive', 'maxResults']);
});
