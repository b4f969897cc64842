import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlDecimal } from './decimal.js';
import { hasWholeDecimal, parseJsonText } from './json.js';

test('hasWholeDecimal finds whole Decimals and exponents outside strings only', () => {
  for (const t of ['7.0', '{"a":7.0}', '[1,-3.000]', '{"a":1e3}', '{"a":2.5E-1}', '{"a":1.50E2}', '{"a":"x","b":10.00}', '{"a":"q\\"1e3","b":4.0}'])
    assert.equal(hasWholeDecimal(t), true, t);
  for (const t of ['7', '7.5', '{"a":7.05}', '{"a":0.01}', '{"s":"00001e40"}', '{"v":"1.0"}', '{"a":true,"b":false}', '{"k\\"e":"1e3"}', '{"a":"\\\\","b":1.25}', '[]', '""'])
    assert.equal(hasWholeDecimal(t), false, t);
});

test('parseJsonText boxes whole Decimals under 2015-10-08 and leaves strings that look like numbers alone', () => {
  const d = parseJsonText('{"a":7.0,"b":7,"c":"1e3","d":[2e1,0.5]}', true) as Record<string, unknown>;
  assert.ok(d['a'] instanceof SqlDecimal);
  assert.equal(d['b'], 7);
  assert.equal(d['c'], '1e3');
  const arr = d['d'] as unknown[];
  assert.ok(arr[0] instanceof SqlDecimal);
  assert.equal(arr[1], 0.5);
  // Hex ids in strings keep the plain parse: the same values as JSON.parse.
  assert.deepEqual(parseJsonText('{"temp":31,"s":"00001e40"}', true), { temp: 31, s: '00001e40' });
  assert.deepEqual(parseJsonText('{"a":7.0}', false), { a: 7 });
  assert.throws(() => parseJsonText('{"a":', true), SyntaxError);
});

test('parseJsonText finds every whole Decimal whichever way the quick pre-check goes', () => {
  // Each text's whole Decimals, as parseJsonText must box them (2015-10-08).
  const cases: [string, string[]][] = [
    ['{"a":7.0}', ['a']],
    ['{"a":-3.000,"b":2}', ['a']],
    ['{"a":1E3}', ['a']],
    ['{"a":2.5e1}', ['a']],
    ['{"a":2.5e-1}', []],
    ['{"a":7.05,"b":"x.0","c":"9e9"}', []],
    ['{"id":"00001e40","n":5,"m":6.0}', ['m']],
    ['{"temp":35,"p":"00000001","s":"00000002"}', []],
  ];
  for (const [text, boxed] of cases) {
    const d = parseJsonText(text, true) as Record<string, unknown>;
    const found = Object.keys(d).filter((k) => d[k] instanceof SqlDecimal);
    assert.deepEqual(found, boxed, text);
    assert.deepEqual(JSON.parse(JSON.stringify(d)), JSON.parse(text), text);
  }
});
