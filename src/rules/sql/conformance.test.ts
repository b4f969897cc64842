// Table-driven conformance suite of AWS IoT SQL, built from the examples of AWS's IoT SQL reference
// (developer guide, "AWS IoT SQL reference"); each case names the section it comes from.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSql, compileTemplate, SqlParseException, toJsonText, type SqlContext } from './index.js';

interface Case {
  name: string;
  sql: string;
  payload?: unknown;
  topic?: string;
  /** The payload as JSON text, when its spelling matters (`7.0`). */
  payloadText?: string;
  /** Expected output; null = the message is dropped (WHERE not true). */
  out?: unknown;
  /** Expected output as the JSON text actions send (Decimals keep their form: `7.0`). */
  json?: string;
  /** Expected SqlParseException message fragment. */
  error?: string;
  version?: string;
}

function ctx(payload: Buffer, topic: string): SqlContext {
  return {
    topic,
    payload,
    clientId: 'client-1',
    principal: 'cert-abc',
    sourceIp: '10.0.0.7',
    traceId: 'trace-1',
    timestamp: 1_700_000_000_123,
    accountId: '123456789012',
    properties: { contentType: 'application/json', userProperties: { a: 'x', b: ['1', '2'] } },
  };
}

const P = { color: 'red', temp: 31, d: { e: [1, { f: 'g' }] }, arr: [1, 2, 3, 4], s: '12', flag: true, nested: { a: 1, b: 2 } };

const CASES: Case[] = [
  // SELECT clause
  { name: 'SELECT clause: SELECT * passes the whole message', sql: "SELECT * FROM 't'", payload: { a: 1 }, out: { a: 1 } },
  { name: 'SELECT clause: one attribute', sql: "SELECT color FROM 't'", payload: P, out: { color: 'red' } },
  { name: 'SELECT clause: alias with AS', sql: "SELECT color AS c FROM 't'", payload: P, out: { c: 'red' } },
  { name: 'SELECT clause: alias without AS', sql: "SELECT color c FROM 't'", payload: P, out: { c: 'red' } },
  { name: 'SELECT clause: * plus computed attribute', sql: "SELECT *, 15 AS speed FROM 't'", payload: { a: 1 }, out: { a: 1, speed: 15 } },
  { name: 'SELECT clause: path.* merges an object', sql: "SELECT nested.* FROM 't'", payload: P, out: { a: 1, b: 2 } },
  { name: 'SELECT clause: function result key is the function name', sql: "SELECT topic(2) FROM 'a/+'", topic: 'a/b', payload: {}, out: { topic: 'b' } },
  { name: 'SELECT VALUE returns the bare value', sql: "SELECT VALUE temp FROM 't'", payload: P, out: 31 },
  // Undefined semantics
  { name: 'Data types/Undefined: a missing attribute drops its key', sql: "SELECT color, missing FROM 't'", payload: P, out: { color: 'red' } },
  { name: 'Data types/Undefined: Undefined in arithmetic is Undefined', sql: "SELECT missing + 1 AS x, 1 AS y FROM 't'", payload: P, out: { y: 1 } },
  // WHERE clause
  { name: 'WHERE clause: true keeps the message', sql: "SELECT color FROM 't' WHERE temp > 30", payload: P, out: { color: 'red' } },
  { name: 'WHERE clause: false drops the message', sql: "SELECT color FROM 't' WHERE temp > 40", payload: P, out: null },
  { name: 'WHERE clause: Undefined drops the message', sql: "SELECT color FROM 't' WHERE missing > 1", payload: P, out: null },
  { name: "WHERE clause: color <> 'red'", sql: "SELECT * FROM 't' WHERE color <> 'red'", payload: P, out: null },
  { name: 'WHERE clause: != is <>', sql: "SELECT VALUE 1 FROM 't' WHERE color != 'blue'", payload: P, out: 1 },
  // FROM clause
  { name: 'FROM clause: topic filter must be valid', sql: "SELECT * FROM 'a/#/b'", error: 'invalid topic filter' },
  // Nested object queries / paths
  { name: 'JSON extensions: nested path a.b[0].c', sql: "SELECT d.e[1].f AS v FROM 't'", payload: P, out: { v: 'g' } },
  { name: 'JSON extensions: array index', sql: "SELECT arr[0] AS first FROM 't'", payload: P, out: { first: 1 } },
  { name: 'JSON extensions: out-of-range index is Undefined', sql: "SELECT arr[9] AS x FROM 't'", payload: P, out: {} },
  { name: 'Nested object queries: SELECT VALUE from an array with WHERE', sql: "SELECT (SELECT VALUE n FROM arr AS n WHERE n > 2) AS big FROM 't'", payload: P, out: { big: [3, 4] } },
  { name: 'Nested object queries: objects of elements', sql: "SELECT (SELECT id FROM items WHERE v > 1) AS r FROM 't'", payload: { items: [{ id: 'a', v: 1 }, { id: 'b', v: 2 }] }, out: { r: [{ id: 'b' }] } },
  // Literals
  { name: 'Literals: object literal', sql: "SELECT {'a': 1, 'b': color} AS o FROM 't'", payload: P, out: { o: { a: 1, b: 'red' } } },
  { name: 'Literals: array literal', sql: "SELECT [1, 'x', true, null] AS a FROM 't'", payload: P, out: { a: [1, 'x', true, null] } },
  { name: 'Literals: decimal and negative numbers', sql: "SELECT -1.5 AS a, 2e2 AS b, -4.0 AS c FROM 't'", payload: {}, json: '{"a":-1.5,"b":2e2,"c":-4.0}' },
  // Case statements
  { name: 'Case statements: simple CASE', sql: "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'red' THEN 'stop' ELSE 'caution' END AS i FROM 't'", payload: P, out: { i: 'stop' } },
  { name: 'Case statements: ELSE', sql: "SELECT CASE color WHEN 'green' THEN 'go' ELSE 'caution' END AS i FROM 't'", payload: P, out: { i: 'caution' } },
  { name: 'Case statements: no match no ELSE is Undefined', sql: "SELECT CASE color WHEN 'green' THEN 'go' END AS i FROM 't'", payload: P, out: {} },
  { name: 'Case statements: searched CASE', sql: "SELECT CASE WHEN temp > 30 THEN 'hot' ELSE 'ok' END AS t FROM 't'", payload: P, out: { t: 'hot' } },
  // Operators
  { name: 'Operators/AND: Boolean AND Boolean', sql: "SELECT true AND false AS a, true AND true AS b FROM 't'", payload: {}, out: { a: false, b: true } },
  { name: "Operators/AND: 'true' strings convert", sql: "SELECT 'TRUE' AND true AS a FROM 't'", payload: {}, out: { a: true } },
  { name: 'Operators/AND: other values are Undefined', sql: "SELECT 1 AND true AS a FROM 't'", payload: {}, out: {} },
  { name: 'Operators/OR', sql: "SELECT false OR true AS a FROM 't'", payload: {}, out: { a: true } },
  { name: 'Operators/NOT', sql: "SELECT NOT flag AS a, NOT 'false' AS b, NOT 5 AS c FROM 't'", payload: P, out: { a: false, b: true } },
  { name: 'Operators/IN', sql: "SELECT 3 IN arr AS a, 9 IN arr AS b FROM 't'", payload: P, out: { a: true, b: false } },
  { name: 'Operators/CONTAINS', sql: "SELECT arr CONTAINS 2 AS a, color CONTAINS 'e' AS b FROM 't'", payload: P, out: { a: true, b: true } },
  { name: 'Operators/=: numeric string equals number', sql: "SELECT s = 12 AS a FROM 't'", payload: P, out: { a: true } },
  { name: 'Operators/=: different types are not equal', sql: "SELECT color = 1 AS a FROM 't'", payload: P, out: { a: false } },
  { name: 'Operators/=: objects compare deeply', sql: "SELECT nested = {'b': 2, 'a': 1} AS a FROM 't'", payload: P, out: { a: true } },
  { name: 'Operators/<: strings compare lexically', sql: "SELECT 'abc' < 'abd' AS a FROM 't'", payload: {}, out: { a: true } },
  { name: 'Operators/<: non-numeric string vs number is Undefined', sql: "SELECT color < 1 AS a FROM 't'", payload: P, out: {} },
  { name: 'Operators/+: Int + Int', sql: "SELECT 2 + 3 AS a FROM 't'", payload: {}, out: { a: 5 } },
  { name: 'Operators/+: numeric String converts (to a Decimal, Conversions)', sql: "SELECT s + 1 AS a FROM 't'", payload: P, json: '{"a":13.0}' },
  { name: 'Operators/+: String + String concatenates', sql: "SELECT 'a' + 'b' AS a FROM 't'", payload: {}, out: { a: 'ab' } },
  { name: 'Operators//: Int / Int is Int', sql: "SELECT 7 / 2 AS a, 7.0 / 2.5 AS b FROM 't'", payload: {}, out: { a: 3, b: 2.8 } },
  { name: 'Operators//: a Decimal literal makes the division Decimal', sql: "SELECT 7.0 / 2 AS a FROM 't'", payload: {}, out: { a: 3.5 } },
  { name: 'Operators//: division by zero is Undefined', sql: "SELECT 1 / 0 AS a FROM 't'", payload: {}, out: {} },
  { name: 'Operators/%', sql: "SELECT 7 % 3 AS a FROM 't'", payload: {}, out: { a: 1 } },
  { name: 'Operators: precedence of * over +', sql: "SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b FROM 't'", payload: {}, out: { a: 7, b: 9 } },
  // Functions: math
  { name: 'Functions/abs', sql: "SELECT abs(-5) AS a FROM 't'", payload: {}, out: { a: 5 } },
  { name: 'Functions/ceil floor', sql: "SELECT ceil(1.2) AS a, floor(-1.2) AS b FROM 't'", payload: {}, out: { a: 2, b: -2 } },
  { name: 'Functions/mod: mod(-8, 3) = 1', sql: "SELECT mod(-8, 3) AS a FROM 't'", payload: {}, out: { a: 1 } },
  { name: 'Functions/remainder: remainder(-8, 3) = -2', sql: "SELECT remainder(-8, 3) AS a FROM 't'", payload: {}, out: { a: -2 } },
  { name: 'Functions/power sqrt return Decimals', sql: "SELECT power(2, 10) AS a, sqrt(9) AS b FROM 't'", payload: {}, json: '{"a":1024.0,"b":3.0}' },
  { name: 'Functions/round: half away from zero', sql: "SELECT round(1.5) AS a, round(-1.5) AS b FROM 't'", payload: {}, out: { a: 2, b: -2 } },
  { name: 'Functions/trunc', sql: "SELECT trunc(2.3456, 2) AS a FROM 't'", payload: {}, out: { a: 2.34 } },
  { name: 'Functions/sign', sql: "SELECT sign(-3) AS a FROM 't'", payload: {}, out: { a: -1 } },
  { name: 'Functions/abs of a non-number is Undefined', sql: "SELECT abs(color) AS a FROM 't'", payload: P, out: {} },
  // Functions: bit
  { name: 'Functions/bitand bitor bitxor bitnot', sql: "SELECT bitand(13, 5) AS a, bitor(13, 5) AS b, bitxor(13, 5) AS c, bitnot(13) AS d FROM 't'", payload: {}, out: { a: 5, b: 13, c: 8, d: -14 } },
  // Functions: string
  { name: 'Functions/concat', sql: "SELECT concat('a', 1, true) AS s, concat(arr, 5) AS a FROM 't'", payload: P, out: { s: 'a1true', a: [1, 2, 3, 4, 5] } },
  { name: 'Functions/upper lower length', sql: "SELECT upper(color) AS u, lower('AB') AS l, length(color) AS n FROM 't'", payload: P, out: { u: 'RED', l: 'ab', n: 3 } },
  { name: 'Functions/startswith endswith indexof', sql: "SELECT startswith('hello', 'he') AS a, endswith('hello', 'lo') AS b, indexof('hello', 'l') AS c FROM 't'", payload: {}, out: { a: true, b: true, c: 2 } },
  { name: 'Functions/substring', sql: "SELECT substring('012345', 2) AS a, substring('012345', 2, 4) AS b FROM 't'", payload: {}, out: { a: '2345', b: '23' } },
  { name: 'Functions/trim ltrim rtrim', sql: "SELECT trim('  a  ') AS a, ltrim('  a') AS b, rtrim('a  ') AS c FROM 't'", payload: {}, out: { a: 'a', b: 'a', c: 'a' } },
  { name: 'Functions/lpad rpad', sql: "SELECT lpad('a', 2) AS a, rpad('a', 2) AS b FROM 't'", payload: {}, out: { a: '  a', b: 'a  ' } },
  { name: 'Functions/replace', sql: "SELECT replace('abcabc', 'b', 'X') AS a FROM 't'", payload: {}, out: { a: 'aXcaXc' } },
  { name: 'Functions/regexp_matches regexp_replace regexp_substr', sql: "SELECT regexp_matches('abc123', '[0-9]+') AS a, regexp_replace('abc123', '[0-9]', '#') AS b, regexp_substr('abc123', '[0-9]+') AS c FROM 't'", payload: {}, out: { a: true, b: 'abc###', c: '123' } },
  { name: 'Functions/numbytes chr', sql: "SELECT numbytes('é') AS a, chr(65) AS b FROM 't'", payload: {}, out: { a: 2, b: 'A' } },
  // Functions: type
  { name: 'Functions/cast', sql: "SELECT cast('12.7' AS Int) AS a, cast(3 AS String) AS b, cast('true' AS Boolean) AS c, cast(1 AS Decimal) AS d FROM 't'", payload: {}, json: '{"a":12,"b":"3","c":true,"d":1}' },
  { name: 'Functions/isUndefined isNull', sql: "SELECT isUndefined(missing) AS a, isNull(n) AS b FROM 't'", payload: { n: null }, out: { a: true, b: true } },
  { name: 'Functions/get', sql: "SELECT get(arr, 1) AS a, get(nested, 'b') AS b FROM 't'", payload: P, out: { a: 2, b: 2 } },
  { name: 'Functions/nanvl', sql: "SELECT nanvl(8, 2) AS a FROM 't'", payload: {}, out: { a: 8 } },
  // Functions: encoding and hashing
  { name: 'Functions/encode base64 of the payload', sql: "SELECT encode(*, 'base64') AS data FROM 't'", payload: Buffer.from([0xde, 0xad]), out: { data: '3q0=' } },
  { name: 'Functions/decode base64', sql: "SELECT decode('aGk=', 'base64') AS s FROM 't'", payload: {}, out: { s: 'hi' } },
  { name: 'Functions/md5 sha256', sql: "SELECT md5('hello') AS a, sha256('') AS b FROM 't'", payload: {}, out: { a: '5d41402abc4b2a76b9719d911017c592', b: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } },
  // Functions: time
  { name: 'Functions/timestamp', sql: "SELECT timestamp() AS ts FROM 't'", payload: {}, out: { ts: 1_700_000_000_123 } },
  { name: 'Functions/parse_time', sql: "SELECT parse_time('yyyy-MM-dd HH:mm:ss z', 1481232000000) AS t FROM 't'", payload: {}, out: { t: '2016-12-08 21:20:00 UTC' } },
  { name: 'Functions/parse_time with a time zone', sql: "SELECT parse_time('yyyy-MM-dd HH:mm', 1481232000000, 'America/Belize') AS t FROM 't'", payload: {}, out: { t: '2016-12-08 15:20' } },
  { name: 'Functions/time_to_epoch', sql: "SELECT time_to_epoch('2020-04-03 09:45:18 UTC+8', 'yyyy-MM-dd HH:mm:ss z') AS t FROM 't'", payload: {}, out: { t: 1585878318000 } },
  // Functions: context
  { name: 'Functions/topic(n) and topic()', sql: "SELECT topic() AS t, topic(3) AS d FROM 'sensors/+/+'", topic: 'sensors/room1/temp', payload: {}, out: { t: 'sensors/room1/temp', d: 'temp' } },
  { name: 'Functions/clientid principal sourceip traceid accountid', sql: "SELECT clientid() AS c, principal() AS p, sourceip() AS ip, traceid() AS tr, accountid() AS a FROM 't'", payload: {}, out: { c: 'client-1', p: 'cert-abc', ip: '10.0.0.7', tr: 'trace-1', a: '123456789012' } },
  { name: 'Functions/get_mqtt_property', sql: "SELECT get_mqtt_property('content_type') AS ct FROM 't'", payload: {}, out: { ct: 'application/json' } },
  { name: 'Functions/get_user_properties', sql: "SELECT get_user_properties('b') AS b, get_user_properties() AS all FROM 't'", payload: {}, out: { b: ['1', '2'], all: [{ a: 'x' }, { b: '1' }, { b: '2' }] } },
  // More examples from the functions reference
  { name: 'Functions/indexof("abcd", "bc") = 1', sql: "SELECT indexof('abcd', 'bc') AS a FROM 't'", payload: {}, out: { a: 1 } },
  { name: 'Functions/replace("abcd", "bc", "x") = "axd"', sql: "SELECT replace('abcd', 'bc', 'x') AS a FROM 't'", payload: {}, out: { a: 'axd' } },
  { name: 'Functions/regexp_replace("abcd", "bc", "x") = "axd"', sql: "SELECT regexp_replace('abcd', 'bc', 'x') AS a FROM 't'", payload: {}, out: { a: 'axd' } },
  { name: 'Functions/regexp_substr("hihihello", "hi") = "hi"', sql: "SELECT regexp_substr('hihihello', 'hi') AS a FROM 't'", payload: {}, out: { a: 'hi' } },
  { name: 'Functions/substring("012345", 0) = "012345"', sql: "SELECT substring('012345', 0) AS a FROM 't'", payload: {}, out: { a: '012345' } },
  { name: 'Functions/power(2, 5) = 32.0; mod(8, 3) = 2', sql: "SELECT power(2, 5) AS a, mod(8, 3) AS b FROM 't'", payload: {}, json: '{"a":32.0,"b":2}' },
  { name: 'Functions/cast(true AS Int) = 1', sql: "SELECT cast(true AS Int) AS a FROM 't'", payload: {}, out: { a: 1 } },
  { name: 'Functions/cast of an unknown type is SqlParseException', sql: "SELECT cast(1 AS Float) AS a FROM 't'", error: 'cannot cast' },
  { name: 'Functions/get of an array literal and an object literal', sql: "SELECT get(['a', 'b'], 1) AS a, get({'x': 'y'}, 'x') AS b FROM 't'", payload: {}, out: { a: 'b', b: 'y' } },
  { name: 'Functions/get_or_default', sql: "SELECT get_or_default(missing, 'dflt') AS a FROM 't'", payload: {}, out: { a: 'dflt' } },
  { name: 'Functions/sql_version', sql: "SELECT sql_version() AS v FROM 't'", version: '2016-03-23', payload: {}, out: { v: '2016-03-23' } },
  { name: 'Functions/sql_version (the default version)', sql: "SELECT sql_version() AS v FROM 't'", payload: {}, out: { v: '2015-10-08' } },
  { name: 'Functions/crc32', sql: "SELECT crc32('hello') AS c FROM 't'", payload: {}, out: { c: 907060870 } },
  { name: 'Functions/topic(n) past the last level is Undefined', sql: "SELECT topic(5) AS t FROM '#'", payload: {}, out: {} },
  // FROM clause examples
  { name: "FROM clause: '#' wildcard matches every level", sql: "SELECT temperature AS t FROM 'topic/#'", topic: 'topic/subtopic-3/details', payload: { temperature: 70 }, out: { t: 70 } },
  { name: "WHERE clause: AND of comparisons", sql: "SELECT * FROM 't' WHERE temp > 30 AND color = 'red'", payload: P, out: P },
  { name: 'WHERE clause: NOT of a comparison', sql: "SELECT VALUE 1 FROM 't' WHERE NOT temp < 30", payload: P, out: 1 },
  { name: 'Nested object queries: SELECT VALUE of an object array field', sql: "SELECT (SELECT VALUE x.id FROM items AS x) AS ids FROM 't'", payload: { items: [{ id: 'a' }, { id: 'b' }] }, out: { ids: ['a', 'b'] } },
  { name: 'Nested object queries: outer attributes are visible inside', sql: "SELECT (SELECT VALUE n + base FROM arr AS n) AS r FROM 't'", payload: { base: 10, arr: [1, 2] }, out: { r: [11, 12] } },
  { name: 'Nested object queries: FROM a non-array is Undefined', sql: "SELECT (SELECT VALUE n FROM color AS n) AS r FROM 't'", payload: P, out: {} },
  // Binary payloads
  { name: 'Binary payloads: SELECT * passes bytes', sql: "SELECT * FROM 't'", payload: Buffer.from([1, 2, 3]), out: Buffer.from([1, 2, 3]) },
  { name: 'Binary payloads: attribute of a binary payload is Undefined', sql: "SELECT a FROM 't'", payload: Buffer.from([1, 2, 3]), out: {} },
  // SQL versions
  { name: 'SQL versions: 2016-03-23 accepted', sql: "SELECT a FROM 't'", payload: { a: 1 }, out: { a: 1 }, version: '2016-03-23' },
  { name: 'SQL versions: beta accepted', sql: "SELECT a FROM 't'", payload: { a: 1 }, out: { a: 1 }, version: 'beta' },
  { name: 'SQL versions: unknown version rejected', sql: "SELECT a FROM 't'", version: '2020-01-01', error: 'awsIotSqlVersion' },
  // Errors
  { name: 'Errors: unknown function is SqlParseException', sql: "SELECT nosuch(1) FROM 't'", error: 'unknown function nosuch' },
  { name: 'Errors: unsupported function is SqlParseException', sql: "SELECT machinelearning_predict('m', 'arn', *) FROM 't'", error: 'not supported' },
  { name: 'Errors: aws_lambda without local functions is SqlParseException', sql: "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) FROM 't'", error: 'rules.functions' },
  { name: 'Errors: get_secret in the SQL statement is SqlParseException (substitution templates only)', sql: "SELECT get_secret('k', 'SecretString', 'arn:aws:iam::1:role/r') AS s FROM 't'", error: 'only in the substitution templates' },
  { name: "Errors: decode(…, 'proto', …) without an object store is SqlParseException", sql: "SELECT decode(*, 'proto', 'b', 'k.desc', 'm', 'T') FROM 't'", error: 'object store' },
  { name: 'Errors: decode scheme other than base64 or proto', sql: "SELECT decode(x, 'hex') FROM 't'", error: "use 'base64' or 'proto'" },
  // Decimals (Data types: Int vs Decimal, SQL 2015-10-08 keeps whole Decimals; Operators tables)
  { name: 'Data types/Decimal: a payload 7.0 is a Decimal, so x / 2 = 3.5', sql: "SELECT x / 2 AS h FROM 't'", payloadText: '{"x": 7.0}', json: '{"h":3.5}' },
  { name: 'Data types/Decimal: a payload 7.0 is output as 7.0', sql: "SELECT x, n FROM 't'", payloadText: '{"x": 7.0, "n": 2}', json: '{"x":7.0,"n":2}' },
  { name: 'Data types/Decimal: SELECT * keeps Decimals in nested objects and arrays', sql: "SELECT * FROM 't'", payloadText: '{"a": [1.0, 2, {"b": 3.00}], "s": "v1.0", "e": -0.0}', json: '{"a":[1.0,2,{"b":3.00}],"s":"v1.0","e":-0.0}' },
  { name: 'Data types/Decimal: exponent forms are Decimals (1e3 / 8 = 125.0, 1.50E2 / 4 = 37.5)', sql: "SELECT k, k / 8 AS q, v / 4 AS r FROM 't'", payloadText: '{"k": 1e3, "v": 1.50E2}', json: '{"k":1e3,"q":125.0,"r":37.5}' },
  { name: 'Data types/Decimal: a key "__proto__" stays an ordinary key', sql: "SELECT * FROM 't'", payloadText: '{"__proto__": {"x": 1.0}, "y": 2.0}', json: '{"__proto__":{"x":1.0},"y":2.0}' },
  { name: 'Data types/Decimal: SQL 2016-03-23 processes whole numbers such as 10.0 as Int', sql: "SELECT x / 2 AS h, x FROM 't'", payloadText: '{"x": 7.0}', version: '2016-03-23', json: '{"h":3,"x":7}' },
  { name: 'Data types/Decimal: a String that looks like a Decimal stays a String', sql: "SELECT s FROM 't'", payloadText: '{"s": "1.0e5"}', json: '{"s":"1.0e5"}' },
  { name: 'Binary payloads: text that is not JSON, with a decimal in it, passes as bytes', sql: "SELECT * FROM 't'", payloadText: '{"x": 7.0', out: Buffer.from('{"x": 7.0') },
  { name: 'Operators//: Int / Decimal is a Decimal: 5.0 / 2 = 2.5', sql: "SELECT 5.0 / 2 AS a, 5 / 2 AS b FROM 't'", payload: {}, json: '{"a":2.5,"b":2}' },
  { name: 'Operators/*: Int * Decimal is a Decimal even when whole: 2.5 * 2 = 5.0', sql: "SELECT 2.5 * 2 AS a, 2 * 3 AS b FROM 't'", payload: {}, json: '{"a":5.0,"b":6}' },
  { name: 'Operators/+: Int + Int is an Int, Int + Decimal a Decimal', sql: "SELECT 2 + 3 AS a, 2 + 3.0 AS b, x + 1 AS c FROM 't'", payloadText: '{"x": 1.0}', json: '{"a":5,"b":5.0,"c":2.0}' },
  { name: "Operators/-: Strings that convert give a Decimal: '10' - 4 = 6.0", sql: "SELECT '10' - 4 AS a, 10 - 4 AS b FROM 't'", payload: {}, json: '{"a":6.0,"b":6}' },
  { name: "Operators//: Strings that convert give a Decimal: '7' / 2 = 3.5", sql: "SELECT '7' / 2 AS a FROM 't'", payload: {}, json: '{"a":3.5}' },
  { name: 'Operators/%: Decimal operands give a Decimal: 7.5 % 2 = 1.5, 8.0 % 3 = 2.0', sql: "SELECT 7.5 % 2 AS a, 8.0 % 3 AS b, 8 % 3 AS c FROM 't'", payload: {}, json: '{"a":1.5,"b":2.0,"c":2}' },
  { name: 'Operators/=: Int is converted to Decimal before comparing (7.0 = 7)', sql: "SELECT x = 7 AS a, x <> 7 AS b, x > 6 AS c, [1.0, 2] = [1, 2.0] AS d FROM 't'", payloadText: '{"x": 7.0}', out: { a: true, b: false, c: true, d: true } },
  { name: 'Operators/-: negating a Decimal 2.0 gives -2.0', sql: "SELECT -x AS a FROM 't'", payloadText: '{"x": 2.0}', json: '{"a":-2.0}' },
  { name: 'Functions/cast: to Decimal (Int has no decimal point, true = 1.0), to Int, to String', sql: "SELECT cast(7 AS Decimal) AS a, cast(true AS Decimal) AS b, cast(x AS Int) AS c, cast(x AS String) AS d, cast('12.50' AS Decimal) AS e, cast(x AS Decimal) AS f FROM 't'", payloadText: '{"x": 7.0}', json: '{"a":7,"b":1.0,"c":7,"d":"7.0","e":12.5,"f":7.0}' },
  { name: 'Functions/cast: keywords Integer, Double, Varchar, Text, Bool', sql: "SELECT cast('7.9' AS Integer) AS a, cast(3 AS Double) AS b, cast(4 AS Varchar) AS c, cast(5 AS Text) AS d, cast(0.0 AS Bool) AS e FROM 't'", payload: {}, json: '{"a":7,"b":3,"c":"4","d":"5","e":false}' },
  { name: 'Functions/abs: Int in, Int out; Decimal in, Decimal out', sql: "SELECT abs(-5) AS a, abs(-5.0) AS b, abs('-2') AS c FROM 't'", payload: {}, json: '{"a":5,"b":5.0,"c":2.0}' },
  { name: 'Functions/log(100) = 2.0; asin(0) = 0.0 (Decimals with double precision)', sql: "SELECT log(100) AS a, asin(0) AS b, ceil(1.2) AS c FROM 't'", payload: {}, json: '{"a":2.0,"b":0.0,"c":2}' },
  { name: 'Functions/mod: Int, Int is an Int; a Decimal operand gives a Decimal', sql: "SELECT mod(8, 3) AS a, mod(8.0, 3) AS b FROM 't'", payload: {}, json: '{"a":2,"b":2.0}' },
  { name: 'Data types/Conversions: a Decimal converts to String as written (concat)', sql: "SELECT concat(x, '') AS s, x || '' AS t FROM 't'", payloadText: '{"x": 7.0}', out: { s: '7.0', t: '7.0' } },
  { name: 'Data types/Conversions: Array and Object to String keep Decimals', sql: "SELECT cast(a AS String) AS s FROM 't'", payloadText: '{"a": [1.0, 2]}', out: { s: '[1.0,2]' } },
  { name: 'Functions/decode: a base64 JSON document is an addressable object', sql: "SELECT decode(encoded_temp, 'base64').temperature AS temp FROM 't'", payload: { encoded_temp: 'eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==' }, out: { temp: 33 } },
  { name: 'Errors: wrong argument count', sql: "SELECT abs(1, 2) FROM 't'", error: 'takes 1 arguments' },
  { name: 'Errors: missing FROM', sql: 'SELECT a', error: 'expected FROM' },
  { name: 'Errors: unterminated string', sql: "SELECT 'abc FROM 't'", error: 'unterminated' },
  { name: 'Errors: FROM needs a quoted topic', sql: 'SELECT * FROM t', error: 'topic filter in single quotes' },
];

for (const c of CASES) {
  test(`[AWS IoT SQL reference] ${c.name}`, () => {
    if (c.error !== undefined) {
      assert.throws(() => compileSql(c.sql, { sqlVersion: c.version }), (e: unknown) => e instanceof SqlParseException && e.message.includes(c.error!));
      return;
    }
    const rule = compileSql(c.sql, { sqlVersion: c.version });
    const payload = c.payloadText !== undefined ? Buffer.from(c.payloadText) : Buffer.isBuffer(c.payload) ? c.payload : Buffer.from(JSON.stringify(c.payload ?? {}));
    const out = rule.evaluate(ctx(payload, c.topic ?? 't'));
    if (c.json !== undefined) assert.equal(out === undefined ? null : toJsonText(out), c.json);
    else assert.deepEqual(out === undefined ? null : out, c.out);
  });
}

test('SqlParseException carries line and column', () => {
  try {
    compileSql("SELECT a,\n  nosuch(1) FROM 't'");
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof SqlParseException);
    assert.equal(e.line, 2);
    assert.equal(e.column, 3);
  }
});

test('Substitution templates: ${expression} in action fields', () => {
  const t = compileTemplate('out/${topic(2)}/${color}/${missing}');
  assert.equal(t({ color: 'red' }, ctx(Buffer.from('{}'), 'a/b')), 'out/b/red/');
  assert.equal(compileTemplate('plain')(undefined, ctx(Buffer.alloc(0), 'x')), 'plain');
  assert.throws(() => compileTemplate('${abs(}'), SqlParseException);
  assert.throws(() => compileTemplate('${nosuch(1)}'), (e: unknown) => e instanceof SqlParseException && e.column === 1 && /unknown function nosuch\(\) \(line 1, column 1\)$/.test(e.message));
});

test('compiled rules evaluate without re-parsing (the FROM filter is exposed)', () => {
  const r = compileSql("SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30");
  assert.equal(r.topicFilter, 'sensors/+/data');
  assert.deepEqual(r.evaluate(ctx(Buffer.from('{"temp":31}'), 'sensors/d1/data')), { temp: 31, device: 'd1' });
  assert.equal(r.evaluate(ctx(Buffer.from('{"temp":3}'), 'sensors/d1/data')), undefined);
});
