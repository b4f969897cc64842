// The document algebra conformance suite: one table row per rule, each named after the AWS rule
// it checks (developer guide pages "Device Shadow service documents", "Shadow document syntax",
// "Device Shadow error messages", "Diagnosing problems with shadows"; AWS IoT quotas).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyUpdate, computeDelta, decodeSimpleRequest, decodeUpdateRequest, DEFAULT_SHADOW_LIMITS, requestMetadata, type ShadowDocument } from './document.js';
import { writeJson, type JsonObject } from './json.js';
import { deltaMessage, documentsMessage, getAccepted, updateAccepted } from './payloads.js';

const T = 1700000000;
const L = DEFAULT_SHADOW_LIMITS;
const w = (v: JsonObject | null): string | null => (v === null ? null : writeJson(v));

/** A document from plain desired/reported texts, every leaf stamped T0. */
function doc(desired: string | null, reported: string | null, version = 1): ShadowDocument {
  let d: ShadowDocument | null = null;
  const req = decodeUpdateRequest(Buffer.from(`{"state":{${[desired && `"desired":${desired}`, reported && `"reported":${reported}`].filter(Boolean).join(',')}}}`), L);
  assert.ok(req.ok);
  const out = applyUpdate(null, version - 1, req.value, T - 100, L, writeJson);
  assert.ok(out.ok);
  d = out.next;
  return d;
}

interface Case {
  rule: string;
  current?: ShadowDocument | null;
  floor?: number;
  request: string | Buffer;
  /** Stored sections after the update. */
  desired?: string | null;
  reported?: string | null;
  delta?: string | null;
  version?: number;
  accepted?: string;
  error?: string;
}

const cases: Case[] = [
  { rule: 'AWS: an update creates the shadow at version 1', request: '{"state":{"reported":{"color":"green"}}}', reported: '{"color":"green"}', desired: null, version: 1 },
  {
    rule: 'AWS: update/accepted echoes only the sections sent, with per-leaf metadata, version, timestamp, clientToken',
    current: doc('{"color":"red"}', '{"color":"green"}', 4),
    request: '{"state":{"desired":{"color":"blue"}},"clientToken":"t-1"}',
    accepted: `{"state":{"desired":{"color":"blue"}},"metadata":{"desired":{"color":{"timestamp":${T}}}},"version":5,"timestamp":${T},"clientToken":"t-1"}`,
  },
  { rule: 'AWS: updates affect only the fields specified (objects merge key by key)', current: doc('{"a":1,"b":{"x":1,"y":2}}', null), request: '{"state":{"desired":{"b":{"y":3},"c":true}}}', desired: '{"a":1,"b":{"x":1,"y":3},"c":true}' },
  { rule: 'AWS: a null leaf deletes its key', current: doc('{"a":1,"b":2}', null), request: '{"state":{"desired":{"a":null}}}', desired: '{"b":2}' },
  { rule: 'AWS: a nested null leaf deletes only that key', current: doc('{"o":{"x":1,"y":2}}', null), request: '{"state":{"desired":{"o":{"x":null}}}}', desired: '{"o":{"y":2}}' },
  { rule: 'AWS: "desired": null clears the whole desired section', current: doc('{"a":1}', '{"a":2}'), request: '{"state":{"desired":null}}', desired: null, reported: '{"a":2}', delta: null },
  { rule: 'Greengrass shadow manager: "state": null clears both sections, the shadow stays', current: doc('{"a":1}', '{"a":2}'), request: '{"state":null}', desired: null, reported: null, version: 2 },
  { rule: 'AWS: arrays are replaced whole, never merged', current: doc('{"l":[1,2,3]}', null), request: '{"state":{"desired":{"l":[9]}}}', desired: '{"l":[9]}' },
  { rule: 'AWS: keys keep the order sent and numbers their spelling', request: '{"state":{"reported":{"b":1.0,"10":2,"a":1e2}}}', reported: '{"b":1.0,"10":2,"a":1e2}' },
  { rule: 'Greengrass shadow manager: nulls inside a new object are dropped', request: '{"state":{"desired":{"o":{"x":null,"y":1}}}}', desired: '{"o":{"y":1}}' },
  { rule: 'AWS: JSON content outside desired and reported is not stored', request: '{"state":{"desired":{"a":1}},"other":{"x":1}}', desired: '{"a":1}' },
  { rule: 'AWS: delta holds only the desired keys that differ from reported', current: doc('{"color":"red","status":"ok"}', '{"color":"green","status":"ok"}'), request: '{"state":{"reported":{"other":1}}}', delta: '{"color":"red"}' },
  { rule: 'AWS: delta recurses into objects and keeps only differing leaves', current: doc('{"o":{"x":1,"y":2}}', '{"o":{"x":1,"y":3}}'), request: '{"state":{"reported":{"z":0}}}', delta: '{"o":{"y":2}}' },
  { rule: 'AWS: delta compares arrays whole', current: doc('{"l":[1,2]}', '{"l":[1,3]}'), request: '{"state":{"reported":{"z":0}}}', delta: '{"l":[1,2]}' },
  { rule: 'AWS: no delta when desired equals reported (numbers by value)', current: doc('{"t":22.0}', null), request: '{"state":{"reported":{"t":22}}}', delta: null },
  { rule: 'AWS: a desired key absent from reported is in the delta', current: doc('{"a":1}', null), request: '{"state":{"reported":{"b":1}}}', delta: '{"a":1}' },
  { rule: 'AWS: version increments on every accepted update', current: doc('{"a":1}', null, 7), request: '{"state":{"desired":{"a":1}}}', version: 8 },
  { rule: 'AWS: a request with the current version is applied', current: doc('{"a":1}', null, 3), request: '{"state":{"desired":{"a":2}},"version":3}', version: 4 },
  { rule: 'AWS 409: a stale version is rejected with Version conflict', current: doc('{"a":1}', null, 3), request: '{"state":{"desired":{"a":2}},"version":2}', error: 'shadow.version_conflict' },
  { rule: 'ministack observation: delete keeps the version; a re-created shadow continues the numbering', current: null, floor: 12, request: '{"state":{"desired":{"a":1}}}', version: 13 },
  { rule: 'AWS 400: Invalid JSON', request: '{"state":', error: 'shadow.invalid_json' },
  { rule: 'AWS 400: Missing required node: state', request: '{"desired":{"a":1}}', error: 'shadow.missing_state' },
  { rule: 'AWS 400: State node must be an object', request: '{"state":[1]}', error: 'shadow.state_not_object' },
  { rule: 'AWS 400: Desired node must be an object', request: '{"state":{"desired":5}}', error: 'shadow.desired_not_object' },
  { rule: 'AWS 400: Reported node must be an object', request: '{"state":{"reported":"x"}}', error: 'shadow.reported_not_object' },
  { rule: 'AWS 400: Invalid version', request: '{"state":{"desired":{"a":1}},"version":"3"}', error: 'shadow.invalid_version' },
  { rule: 'AWS 400: Invalid clientToken when longer than 64 bytes', request: `{"state":{},"clientToken":"${'x'.repeat(65)}"}`, error: 'shadow.invalid_client_token' },
  { rule: 'AWS 400: a clientToken of exactly 64 bytes is fine', request: `{"state":{"desired":{"a":1}},"clientToken":"${'x'.repeat(64)}"}`, version: 1 },
  { rule: 'AWS 400: "delta" in a request is State contains an invalid node', request: '{"state":{"delta":{"a":1}}}', error: 'shadow.invalid_node' },
  { rule: 'AWS 400: JSON contains too many levels of nesting; maximum is 6', request: '{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}', error: 'shadow.too_deep' },
  { rule: 'AWS: 6 levels of nesting (state counted) are accepted', request: '{"state":{"desired":{"a":{"b":{"c":{"d":{"e":1}}}}}}}', version: 1 },
  { rule: 'AWS 400: arrays count as nesting levels', request: '{"state":{"desired":{"a":[[[[[1]]]]]}}}', error: 'shadow.too_deep' },
  { rule: 'AWS 413: desired + reported over 8 KB is The payload exceeds the maximum size allowed', request: `{"state":{"desired":{"a":"${'x'.repeat(8200)}"}}}`, error: 'shadow.too_large' },
  { rule: 'AWS: the 8 KB counts desired and reported together', current: doc(`{"a":"${'x'.repeat(4100)}"}`, null), request: `{"state":{"reported":{"b":"${'y'.repeat(4100)}"}}}`, error: 'shadow.too_large' },
  { rule: 'AWS: metadata does not count toward the 8 KB', request: `{"state":{"desired":{"a":"${'x'.repeat(8000)}"}}}`, version: 1 },
  { rule: 'AWS 415: a payload that is not UTF-8 is Unsupported documented encoding', request: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), error: 'shadow.unsupported_encoding' },
  { rule: 'AWS embedded C shadow demo: a trailing NUL byte is accepted', request: Buffer.concat([Buffer.from('{"state":{"reported":{"a":1}}}'), Buffer.from([0])]), reported: '{"a":1}' },
];

describe('shadow document algebra (AWS rules)', () => {
  for (const c of cases) {
    test(c.rule, () => {
      const req = decodeUpdateRequest(typeof c.request === 'string' ? Buffer.from(c.request) : c.request, L);
      if (!req.ok) {
        assert.equal(req.code, c.error, `decode failed with ${req.code}`);
        return;
      }
      const out = applyUpdate(c.current ?? null, c.floor ?? c.current?.version ?? 0, req.value, T, L, writeJson);
      if (!out.ok) {
        assert.equal(out.code, c.error);
        return;
      }
      assert.equal(c.error, undefined, `expected ${c.error}`);
      const next = out.next;
      if (c.desired !== undefined) assert.equal(w(next.desired), c.desired);
      if (c.reported !== undefined) assert.equal(w(next.reported), c.reported);
      if (c.delta !== undefined) assert.equal(w(computeDelta(next.desired, next.reported)), c.delta);
      if (c.version !== undefined) assert.equal(next.version, c.version);
      if (c.accepted !== undefined) assert.equal(updateAccepted(req.value.state, requestMetadata(req.value, T), next.version, T, req.value.clientToken), c.accepted);
    });
  }
});

describe('shadow messages, byte for byte (fields in the order AWS sends them)', () => {
  const d = doc('{"Color":"red","Status":"Great"}', '{"Color":"red","Status":"Awful"}', 9);
  test('AWS: get/accepted carries state with delta, metadata, version, timestamp, clientToken', () => {
    const t0 = T - 100;
    assert.equal(
      getAccepted(d, T, 'c'),
      `{"state":{"desired":{"Color":"red","Status":"Great"},"reported":{"Color":"red","Status":"Awful"},"delta":{"Status":"Great"}},` +
        `"metadata":{"desired":{"Color":{"timestamp":${t0}},"Status":{"timestamp":${t0}}},"reported":{"Color":{"timestamp":${t0}},"Status":{"timestamp":${t0}}}},"version":9,"timestamp":${T},"clientToken":"c"}`,
    );
  });
  test('AWS: update/delta is {version, timestamp, state, metadata, clientToken} with only the differing keys', () => {
    assert.equal(deltaMessage(d, T, 'c'), `{"version":9,"timestamp":${T},"state":{"Status":"Great"},"metadata":{"Status":{"timestamp":${T - 100}}},"clientToken":"c"}`);
  });
  test('AWS: no update/delta when desired and reported agree', () => {
    assert.equal(deltaMessage(doc('{"a":1}', '{"a":1}'), T, undefined), null);
  });
  test('AWS: update/documents has previous (null for a new shadow) and current snapshots without delta', () => {
    const cur = doc(null, '{"Color":"green"}', 1);
    assert.equal(
      documentsMessage(null, cur, T, 'x'),
      `{"previous":null,"current":{"state":{"reported":{"Color":"green"}},"metadata":{"reported":{"Color":{"timestamp":${T - 100}}}},"version":1},"timestamp":${T},"clientToken":"x"}`,
    );
  });
  test('AWS: metadata mirrors arrays element by element', () => {
    const r = decodeUpdateRequest(Buffer.from('{"state":{"desired":{"l":[1,{"a":2}]}}}'), L);
    assert.ok(r.ok);
    assert.equal(writeJson(requestMetadata(r.value, 5)!), '{"desired":{"l":[{"timestamp":5},{"a":{"timestamp":5}}]}}');
  });
  test('AWS: get and delete accept an empty payload or {"clientToken"} only', () => {
    assert.deepEqual(decodeSimpleRequest(Buffer.alloc(0), L), { ok: true, value: { clientToken: undefined } });
    assert.deepEqual(decodeSimpleRequest(Buffer.from('{"clientToken":"abc"}\0'), L), { ok: true, value: { clientToken: 'abc' } });
    assert.equal(decodeSimpleRequest(Buffer.from('nope'), L).ok, false);
  });
});
