// The evaluation worker's shared-memory ring without a worker: the writing and the reading end in
// one thread over the same memory, so every interleaving is the test's to choose. Also the values
// and MQTT 5 properties as they cross threads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allocateRing,
  CONTROL,
  decodeProperties,
  decodeValue,
  detachView,
  encodeProperties,
  encodeValue,
  HEAD,
  RingReader,
  RingRecord,
  RingWriter,
  SLEEPING,
  TAIL,
  type ControlRecord,
  type RingMemory,
} from './eval-ring.js';
import { SqlDecimal } from './sql/index.js';

/** A small deterministic PRNG (mulberry32): the same records on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Msg {
  group: number;
  topic: string;
  payload: Buffer;
  clientId: string | null;
  principal: string | null;
  sourceIp: string | null;
  properties: string | null;
  /** Arrival time, ms since the epoch (above 2^32: both header words are used). */
  arrived: number;
}

function ends(mem: RingMemory): { writer: RingWriter; reader: RingReader; record: RingRecord } {
  return { writer: new RingWriter(mem), reader: new RingReader(mem), record: new RingRecord() };
}

function write(w: RingWriter, m: Msg): boolean {
  return w.write(m.group, m.arrived, m.topic, m.payload, m.clientId, m.principal, m.sourceIp, m.properties);
}

/** What the reader's record holds, as a Msg (the payload copied out of the ring). */
function seen(reader: RingReader, r: RingRecord): Msg {
  assert.equal(r.control, null, 'a message record has no control JSON');
  return {
    group: r.group,
    topic: r.topic,
    payload: Buffer.from(reader.bytes.subarray(r.payloadStart, r.payloadEnd)),
    clientId: r.clientId,
    principal: r.principal,
    sourceIp: r.sourceIp,
    properties: r.properties,
    arrived: r.arrived,
  };
}

let clock = 1_764_000_000_000;

function msg(over: Partial<Msg> = {}): Msg {
  return { group: 1, topic: 't', payload: Buffer.alloc(0), clientId: null, principal: null, sourceIp: null, properties: null, arrived: clock++, ...over };
}

test('a record round-trips: non-ASCII topic, binary payload, null and empty strings, properties JSON', () => {
  const { writer, reader, record } = ends(allocateRing(4096, 4));
  const props = encodeProperties({ contentType: 'application/json; charset=ü', userProperties: { k: ['1', '2'] } });
  const records: Msg[] = [
    msg({ group: 7, topic: 'sensors/température/温度/😀', payload: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]), clientId: 'client-ü', principal: 'cert-1', sourceIp: '10.0.0.1', properties: props }),
    // Empty payload and empty strings, which are not null.
    msg({ group: 8, topic: 'a', payload: Buffer.alloc(0), clientId: '', principal: '', sourceIp: '', properties: '' }),
    // Nulls everywhere.
    msg({ group: 0xfffffffe, topic: '', payload: Buffer.from('{"temp": 31}') }),
    // A text payload with multi-byte characters.
    msg({ group: 9, topic: 'x/y', payload: Buffer.from('{"name": "Größe 😀"}'), clientId: null, principal: 'p', sourceIp: null, properties: '{}' }),
  ];
  for (const m of records) assert.equal(write(writer, m), true);
  writer.publish();
  for (const m of records) {
    assert.equal(reader.next(record), true);
    assert.deepEqual(seen(reader, record), m);
  }
  assert.equal(reader.next(record), false, 'nothing after the last record');
  // The payload read as text, as the worker does for JSON.
  const again = ends(allocateRing(4096, 4));
  write(again.writer, records[3]!);
  again.writer.publish();
  assert.equal(again.reader.next(again.record), true);
  assert.equal(again.reader.text(again.record.payloadStart, again.record.payloadEnd), '{"name": "Größe 😀"}');
  assert.equal(again.record.payloadEnd - again.record.payloadStart, Buffer.byteLength('{"name": "Größe 😀"}'));
});

test('records are not visible before publish(); unpublished says whether some wait', () => {
  const mem = allocateRing(1024, 1);
  const { writer, reader, record } = ends(mem);
  assert.equal(writer.unpublished, false);
  assert.equal(write(writer, msg({ topic: 'one' })), true);
  assert.equal(write(writer, msg({ topic: 'two' })), true);
  assert.equal(writer.unpublished, true);
  assert.equal(Atomics.load(new Int32Array(mem.control), HEAD), 0, 'HEAD is not moved by a write');
  assert.equal(reader.next(record), false);
  writer.publish();
  assert.equal(writer.unpublished, false);
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'one');
  // A third record written after the publish is not visible until the next one.
  assert.equal(write(writer, msg({ topic: 'three' })), true);
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'two');
  assert.equal(reader.next(record), false);
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'three');
  assert.equal(reader.next(record), false);
});

test('publish() clears SLEEPING (the reader is woken once); with nothing new it does nothing', () => {
  const mem = allocateRing(1024, 1);
  const { writer } = ends(mem);
  const control = new Int32Array(mem.control);
  Atomics.store(control, SLEEPING, 1);
  writer.publish();
  assert.equal(Atomics.load(control, SLEEPING), 1, 'nothing written: the reader sleeps on');
  write(writer, msg());
  assert.equal(Atomics.load(control, SLEEPING), 1, 'a write alone wakes nobody');
  writer.publish();
  assert.equal(Atomics.load(control, SLEEPING), 0);
  // 40 header bytes + the 1-byte topic, rounded to 4.
  assert.equal(Atomics.load(control, HEAD), 44);
});

test('write returns false when full, and succeeds again once the reader releases', () => {
  const mem = allocateRing(1024, 1);
  const { writer, reader, record } = ends(mem);
  const payload = Buffer.alloc(100, 7);
  let n = 0;
  while (write(writer, msg({ topic: `m${n}`, payload }))) n++;
  // 1024 bytes, records of 144 bytes (40 header + 2 topic + 100 payload, rounded): 7 fit.
  assert.equal(n, 7);
  assert.equal(write(writer, msg({ topic: 'late', payload })), false, 'still full');
  writer.publish();
  // Read without releasing: the writer still finds no room. (It reserves the worst case of 3
  // bytes per character, 155 bytes for 'late': two records of 144 bytes must go first.)
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'm0');
  reader.release();
  assert.equal(write(writer, msg({ topic: 'late', payload })), false, 'one record released: not enough room');
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'm1');
  assert.equal(write(writer, msg({ topic: 'late', payload })), false, 'read but not released: still full');
  assert.equal(Atomics.load(new Int32Array(mem.control), TAIL), 144);
  reader.release();
  assert.equal(write(writer, msg({ topic: 'late', payload })), true);
  writer.publish();
  const topics: string[] = [];
  while (reader.next(record)) topics.push(record.topic);
  assert.deepEqual(topics, ['m2', 'm3', 'm4', 'm5', 'm6', 'late']);
  // A record that can never fit is refused without harm.
  reader.release();
  assert.equal(write(writer, msg({ payload: Buffer.alloc(2000) })), false);
  assert.equal(write(writer, msg({ topic: 'after', payload: Buffer.from('ok') })), true);
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'after');
  assert.equal(reader.text(record.payloadStart, record.payloadEnd), 'ok');
});

test('a record that ends exactly at the end of the ring: the next starts at 0, and HEAD never reaches TAIL', () => {
  // Records of 44 bytes (header, no topic, one payload byte, null strings; the writer reserves 44).
  const mem = allocateRing(176, 1);
  const { writer, reader, record } = ends(mem);
  const one = (i: number): Msg => msg({ group: 10 + i, topic: '', payload: Buffer.from([i]) });
  assert.equal(write(writer, one(0)), true);
  assert.equal(write(writer, one(1)), true);
  assert.equal(write(writer, one(2)), true);
  // The fourth would end at 176 with TAIL at 0: HEAD would reach TAIL (empty), so it is refused.
  assert.equal(write(writer, one(3)), false);
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.equal(record.group, 10);
  reader.release();
  assert.equal(write(writer, one(3)), true, 'fits exactly before the end now that TAIL is 44');
  // HEAD is 0 now and TAIL 44: a 44-byte record would make them equal.
  assert.equal(write(writer, one(4)), false);
  writer.publish();
  assert.equal(Atomics.load(new Int32Array(mem.control), HEAD), 0);
  const groups: number[] = [];
  const payloads: number[] = [];
  while (reader.next(record)) {
    groups.push(record.group);
    payloads.push(reader.bytes[record.payloadStart]!);
  }
  assert.deepEqual(groups, [11, 12, 13]);
  assert.deepEqual(payloads, [1, 2, 3]);
  assert.equal(reader.position, 0, 'the reader followed to the start');
  reader.release();
  assert.equal(write(writer, one(4)), true);
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.deepEqual([record.group, reader.bytes[record.payloadStart]], [14, 4]);
});

test('a record that does not fit before the end wraps to 0 behind a 0-length marker', () => {
  const mem = allocateRing(152, 1);
  const { writer, reader, record } = ends(mem);
  const one = (i: number): Msg => msg({ group: 20 + i, topic: '', payload: Buffer.from([i]) });
  for (let i = 0; i < 3; i++) assert.equal(write(writer, one(i)), true);
  // 20 bytes are left before the end, and TAIL is 0: nowhere to go.
  assert.equal(write(writer, one(3)), false);
  writer.publish();
  assert.equal(reader.next(record), true);
  reader.release();
  // TAIL 44: a 44-byte record at 0 would end at TAIL (HEAD === TAIL reads as empty).
  assert.equal(write(writer, one(3)), false, 'no wrap onto TAIL');
  assert.equal(reader.next(record), true);
  reader.release();
  assert.equal(write(writer, one(3)), true, 'wrapped to 0');
  assert.equal(new Uint32Array(mem.ring)[132 / 4], 0, 'the wrap marker at the old HEAD');
  assert.equal(write(writer, one(4)), false, 'HEAD 44 may not reach TAIL 88');
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.equal(record.group, 22);
  assert.equal(reader.next(record), true);
  assert.equal(record.group, 23);
  assert.equal(reader.bytes[record.payloadStart], 3);
  assert.equal(record.payloadStart, 40, 'read from offset 0');
  assert.equal(reader.next(record), false);
});

test('control records come in order with the messages, and writeControl publishes what was written before it', () => {
  const { writer, reader, record } = ends(allocateRing(2048, 4));
  const controls: ControlRecord[] = [
    { op: 'rule', slot: 3, gen: 1, sql: "SELECT * FROM 'a/ü'", sqlVersion: '2016-03-23', results: true },
    { op: 'group', id: 5, slots: [3, 1] },
    { op: 'ungroup', id: 5 },
    { op: 'unrule', slot: 3 },
    { op: 'sync', id: 9 },
  ];
  write(writer, msg({ topic: 'm0' }));
  assert.equal(writer.writeControl(JSON.stringify(controls[0]!)), true);
  assert.equal(writer.unpublished, false, 'the control record published the message before it too');
  write(writer, msg({ topic: 'm1' }));
  write(writer, msg({ topic: 'm2' }));
  for (const c of controls.slice(1, 4)) writer.writeControl(JSON.stringify(c));
  write(writer, msg({ topic: 'm3' }));
  writer.writeControl(JSON.stringify(controls[4]!));
  write(writer, msg({ topic: 'm4' }));
  const order: unknown[] = [];
  while (reader.next(record)) order.push(record.group === CONTROL ? record.control : record.topic);
  // m4 was written after the last control record and not published.
  assert.deepEqual(order, ['m0', controls[0], 'm1', 'm2', controls[1], controls[2], controls[3], 'm3', controls[4]]);
  writer.publish();
  assert.equal(reader.next(record), true);
  assert.equal(record.topic, 'm4');
  assert.equal(record.control, null, 'a message after a control record has no control JSON');
});

test('FIFO across thousands of wrap-arounds: 10,000 records of random sizes, random batches, every byte checked', () => {
  const RING = 4096;
  const N = 10_000;
  const mem = allocateRing(RING, 8);
  const { writer, reader, record } = ends(mem);
  const pieces = ['a', 'Z', '/', '-', 'é', 'ß', '温', '😀', '0'];
  const str = (rnd: () => number, max: number): string => {
    let s = '';
    const n = Math.floor(rnd() * max);
    for (let i = 0; i < n; i++) s += pieces[Math.floor(rnd() * pieces.length)];
    return s;
  };
  const maybe = (rnd: () => number, max: number): string | null => (rnd() < 0.3 ? null : str(rnd, max));
  /** Item i of the sequence, the same each time it is asked for: a message, or (1 in 20) a control record. */
  const item = (i: number): Msg | ControlRecord => {
    const rnd = prng(i * 7919 + 1);
    if (rnd() < 0.05) return { op: 'sync', id: i };
    const payload = Buffer.alloc(Math.floor(rnd() * rnd() * 700));
    for (let k = 0; k < payload.length; k++) payload[k] = Math.floor(rnd() * 256);
    return { group: 1 + Math.floor(rnd() * 1000), arrived: 1_764_000_000_000 + i, topic: str(rnd, 20), payload, clientId: maybe(rnd, 12), principal: maybe(rnd, 12), sourceIp: maybe(rnd, 8), properties: rnd() < 0.5 ? null : JSON.stringify({ contentType: str(rnd, 10), userProperties: { k: str(rnd, 10) } }) };
  };
  const rnd = prng(42);
  let written = 0;
  let visible = 0;
  let read = 0;
  let refused = 0;
  let wraps = 0;
  let last = 0;
  let rounds = 0;
  while (read < N) {
    assert.ok(++rounds < 1_000_000, 'no progress');
    const burst = 1 + Math.floor(rnd() * 24);
    for (let k = 0; k < burst && written < N; k++) {
      const it = item(written);
      const ok = 'op' in it ? writer.writeControl(JSON.stringify(it)) : write(writer, it);
      if (!ok) {
        refused++;
        break;
      }
      written++;
      if ('op' in it) visible = written;
    }
    if (rnd() < 0.6) {
      writer.publish();
      visible = written;
    }
    const batch = 1 + Math.floor(rnd() * 24);
    for (let k = 0; k < batch && reader.next(record); k++) {
      assert.ok(read < visible, `record ${read} read before it was published (visible: ${visible})`);
      const want = item(read);
      if ('op' in want) {
        assert.equal(record.group, CONTROL, `record ${read} is a control record`);
        assert.deepEqual(record.control, want);
      } else assert.deepEqual(seen(reader, record), want, `record ${read}`);
      read++;
      if (reader.position < last) wraps++;
      last = reader.position;
    }
    if (rnd() < 0.5) reader.release();
  }
  assert.equal(written, N);
  assert.equal(reader.next(record), false);
  assert.ok(wraps > 500, `the ring wrapped ${wraps} times`);
  assert.ok(refused > 100, `the writer found the ring full ${refused} times`);
});

test('encodeValue/decodeValue through structuredClone: Decimals keep their text, Buffers stay Buffers', () => {
  const inner = Buffer.from('abcdefgh');
  const value = {
    d: new SqlDecimal(7, '7.0'),
    e: new SqlDecimal(1e21),
    s: 'text ü',
    n: 1.5,
    i: -3,
    b: true,
    z: null,
    arr: [1, 'two', null, new SqlDecimal(3, '3.00'), Buffer.from([1, 2, 3]), { deep: [Buffer.from([9])] }],
    bytes: inner.subarray(2, 5),
    obj: { nested: { x: new SqlDecimal(0, '0.0') } },
  };
  const encoded = encodeValue(value);
  // A copy: the writer may reuse the bytes a Buffer viewed.
  inner.fill(0);
  const back = decodeValue(structuredClone(encoded)) as typeof value;
  assert.ok(back.d instanceof SqlDecimal);
  assert.equal(back.d.text, '7.0');
  assert.equal(back.d.value, 7);
  assert.ok(back.e instanceof SqlDecimal);
  assert.equal(back.e.text, value.e.text);
  assert.ok(Buffer.isBuffer(back.bytes));
  assert.deepEqual([...back.bytes], [0x63, 0x64, 0x65]);
  assert.ok(Buffer.isBuffer(back.arr[4]));
  assert.deepEqual([...(back.arr[4] as Buffer)], [1, 2, 3]);
  assert.ok(Buffer.isBuffer((back.arr[5] as { deep: Buffer[] }).deep[0]));
  assert.equal(((back.arr[5] as { deep: Buffer[] }).deep[0] as Buffer)[0], 9);
  assert.equal((back.arr[3] as SqlDecimal).text, '3.00');
  assert.equal(back.obj.nested.x.text, '0.0');
  assert.deepEqual({ s: back.s, n: back.n, i: back.i, b: back.b, z: back.z, a1: back.arr.slice(0, 3) }, { s: 'text ü', n: 1.5, i: -3, b: true, z: null, a1: [1, 'two', null] });
  // Whole values, as the SQL produces them.
  for (const v of [null, 'plain', 42, 0.25, false, [], {}]) assert.deepEqual(decodeValue(structuredClone(encodeValue(v))), v);
  const top = decodeValue(structuredClone(encodeValue(new SqlDecimal(5, '5.0')))) as SqlDecimal;
  assert.ok(top instanceof SqlDecimal);
  assert.equal(top.text, '5.0');
  const buf = decodeValue(structuredClone(encodeValue(Buffer.from([0xde, 0xad]))));
  assert.ok(Buffer.isBuffer(buf));
  assert.deepEqual(buf, Buffer.from([0xde, 0xad]));
});

test('encodeValue/decodeValue keep a JSON payload\'s own "__proto__" key (as the main thread outputs it)', () => {
  // JSON.parse makes "__proto__" an own key; SELECT * outputs the document as it is.
  const doc = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['__proto__', 'a']);
  const back = decodeValue(structuredClone(encodeValue(doc))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(back), ['__proto__', 'a']);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

test('detachView copies every occurrence of the ring view in an output, and nothing else', () => {
  const ring = Buffer.from('....payload....');
  const view = ring.subarray(4, 11);
  const other = Buffer.from('other');
  const dec = new SqlDecimal(7, '7.0');
  const out = detachView({ raw: view, list: [view, 1, other], deep: { d: dec, v: view } }, view) as { raw: Buffer; list: [Buffer, number, Buffer]; deep: { d: SqlDecimal; v: Buffer } };
  ring.fill(0x2e);
  for (const b of [out.raw, out.list[0], out.deep.v]) {
    assert.ok(Buffer.isBuffer(b));
    assert.equal(b.toString(), 'payload', 'a copy, not the view');
  }
  assert.equal(out.list[2], other, 'another Buffer is left as it is');
  assert.equal(out.deep.d, dec);
  assert.equal(out.list[1], 1);
  const top = detachView(view, view) as Buffer;
  assert.notEqual(top, view);
  assert.equal(top.toString(), '.......', 'copied when detached (the ring was overwritten before)');
  assert.equal(detachView('text', view), 'text');
  const proto = detachView(JSON.parse('{"__proto__": {"x": 1}}'), view) as Record<string, unknown>;
  assert.deepEqual(Object.keys(proto), ['__proto__']);
});

test('encodeProperties/decodeProperties: correlation data as bytes, user properties, the rest as they are', () => {
  const p = {
    payloadFormatIndicator: true,
    contentType: 'application/json',
    responseTopic: 'reply/ü',
    correlationData: Buffer.from([0, 1, 2, 250, 255]),
    userProperties: { a: 'x', b: ['1', '2'], 'ü': 'é' },
  };
  const text = encodeProperties(p);
  assert.equal(typeof text, 'string');
  assert.equal((JSON.parse(text) as { correlationData: string }).correlationData, Buffer.from([0, 1, 2, 250, 255]).toString('base64'));
  const back = decodeProperties(text);
  assert.ok(Buffer.isBuffer(back.correlationData));
  assert.deepEqual(back, p);
  // Without correlation data nothing is added.
  const plain = { contentType: 'text/plain', userProperties: { k: 'v' } };
  assert.deepEqual(decodeProperties(encodeProperties(plain)), plain);
  assert.equal('correlationData' in decodeProperties(encodeProperties(plain)), false);
  // The input is not changed.
  assert.ok(Buffer.isBuffer(p.correlationData));
});
