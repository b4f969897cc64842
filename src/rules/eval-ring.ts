/**
 * The shared-memory queue between the rules engine (main thread, one writer) and its evaluation
 * worker (one reader): a byte ring in a SharedArrayBuffer. The engine writes each message as one
 * record — no object, promise or postMessage per message — and wakes the worker only when it sleeps.
 *
 * Layout of the control words (Int32Array over `control`):
 *   HEAD     byte offset the writer writes next (published with Atomics.store after each record)
 *   TAIL     byte offset the reader reads next (published after each record)
 *   SLEEPING 1 while the reader waits on HEAD (the writer clears it and notifies once)
 *
 * A record (4-byte aligned, at HEAD): ten u32 words, then the bytes.
 *   [0] record length in bytes (0: the writer wrapped, the next record is at offset 0)
 *   [1] group id (CONTROL: a control record, JSON in the bytes)
 *   [2] topic bytes      [3] payload bytes
 *   [4] client id bytes  [5] principal bytes  [6] source IP bytes  [7] properties bytes
 *       (NONE for a null string; properties are JSON)
 *   [8] [9] arrival time, ms since the epoch (low and high 32 bits): the rules' timestamp()
 * The ring is never full to the byte: HEAD === TAIL always means empty.
 *
 * Counters (Float64Array over `counters`): per rule slot, evaluated / matched / sqlErrors, written
 * by the worker, read by /metrics; DONE (on its own cache line after the slots) is the evaluations
 * the worker finished (the writer reads it only when the value it saw last says its bound is reached).
 */
import { SqlDecimal } from './sql/index.js';
import type { RuleTrace } from './traces.js';

// Each on its own cache line (64 bytes): the writer stores HEAD, the reader TAIL and SLEEPING, and
// sharing a line made each store invalidate the other core's copy of what it reads.
export const HEAD = 0;
export const TAIL = 16;
export const SLEEPING = 32;
export const CONTROL_WORDS = 48;

export const CONTROL = 0;
export const NONE = 0xffffffff;
export const HEADER_BYTES = 40;
const TWO_32 = 2 ** 32;

/** Counter words per rule slot: evaluated, matched, sqlErrors. */
export const SLOT_WORDS = 3;

/**
 * Node's own UTF-8 encoder and decoder on a Buffer: what `write()` and `toString()` call after
 * their argument checks, which were a third of the cost for the short strings of a record.
 */
interface Utf8Buffer {
  utf8Write(s: string, offset: number): number;
  utf8Slice(start: number, end: number): string;
}

/** Which of a message's context a worker group's rules read (a record carries only those). */
export const NEEDS_CLIENT_ID = 1;
export const NEEDS_PRINCIPAL = 2;
export const NEEDS_SOURCE_IP = 4;
export const NEEDS_PROPERTIES = 8;
export const NEEDS_ALL = 15;

/** Both ends' view of the shared memory. */
export interface RingMemory {
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** Rule slots the counters hold; DONE is at `doneWord(slots)`. */
  slots: number;
}

export function allocateRing(ringBytes: number, slots: number): RingMemory {
  return {
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    ring: new SharedArrayBuffer(ringBytes & ~3),
    counters: new SharedArrayBuffer((doneWord(slots) + 8) * 8),
    slots,
  };
}

/** Where DONE is in the counters: past the slots, at the start of a cache line of its own. */
export function doneWord(slots: number): number {
  return (Math.ceil((slots * SLOT_WORDS) / 8) + 1) * 8;
}

/** What the worker is told through the ring (in order with the messages). */
export type ControlRecord =
  | { op: 'rule'; slot: number; gen: number; sql: string; sqlVersion: string; results: boolean }
  | { op: 'unrule'; slot: number }
  | { op: 'group'; id: number; slots: number[] }
  | { op: 'ungroup'; id: number }
  | { op: 'sync'; id: number };

/** What the worker posts back. */
export type WorkerReply =
  | { op: 'results'; results: WorkerResult[] }
  | { op: 'unruled'; slot: number; traces: TransferTrace[] }
  | { op: 'synced'; id: number }
  | { op: 'traces'; id: number; traces: TransferTrace[] }
  | { op: 'failed'; slot: number; error: string };

/** A message that passed a worker-evaluated rule which has actions: the main thread runs them. */
export interface WorkerResult {
  slot: number;
  topic: string;
  payload: Uint8Array;
  clientId: string | null;
  principal: string | null;
  sourceIp: string | null;
  properties: string | null;
  traceId: string;
  timestamp: number;
  /** The SELECT output, encoded with `encodeValue`; undefined with `again`. */
  output: unknown;
  /** The output could not cross threads (nested too deep): evaluate the rule again on the main thread. */
  again?: boolean;
}

/** A trace as the worker sends it: no action results (those run on the main thread); output encoded with `encodeValue`. */
export type TransferTrace = Omit<RuleTrace, 'actions'>;

/**
 * SQL values across threads. Structured clone keeps objects, arrays, strings, numbers, booleans and
 * null, and turns a Buffer into a Uint8Array; a whole Decimal (SqlDecimal) would lose its class, so
 * it travels as a one-entry Map (no SQL value is a Map).
 */
export function encodeValue(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof SqlDecimal) return new Map([['decimal', v.text]]);
  // A copy: a binary output may view the ring, which the writer reuses.
  if (Buffer.isBuffer(v)) return new Uint8Array(v);
  // The receiving thread's deserializer recurses on a smaller stack than the worker's.
  if (depth >= MAX_CROSSING_DEPTH) throw new RangeError(`an output nested deeper than ${MAX_CROSSING_DEPTH} levels does not cross threads`);
  if (Array.isArray(v)) return v.map((x) => encodeValue(x, depth + 1));
  return mapObject(v as Record<string, unknown>, (x) => encodeValue(x, depth + 1));
}

/** How deep a value may nest to cross threads (deeper outputs are evaluated again on the main thread). */
export const MAX_CROSSING_DEPTH = 200;

export function decodeValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Map) {
    const text = v.get('decimal') as string;
    return new SqlDecimal(Number(text), text);
  }
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(decodeValue);
  return mapObject(v as Record<string, unknown>, decodeValue);
}

/** The object with `f` applied to each value; an own `__proto__` key (JSON may have one) stays a key. */
function mapObject(v: Record<string, unknown>, f: (x: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    if (k === '__proto__') Object.defineProperty(out, k, { value: f(v[k]), enumerable: true, writable: true, configurable: true });
    else out[k] = f(v[k]);
  }
  return out;
}

/**
 * `v` with every occurrence of `view` (the payload's view of the ring, when the statement read
 * the bytes) replaced by a copy, so that a trace or a result keeps the bytes after the ring moves on.
 */
export function detachView(v: unknown, view: Buffer): unknown {
  if (v === view) return Buffer.from(view);
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof SqlDecimal) return v;
  if (Array.isArray(v)) return v.map((x) => detachView(x, view));
  return mapObject(v as Record<string, unknown>, (x) => detachView(x, view));
}

/** MQTT 5 properties as JSON text in a record (correlation data as base64). */
export function encodeProperties(p: object): string {
  const c = (p as { correlationData?: Buffer }).correlationData;
  return JSON.stringify(c === undefined ? p : { ...p, correlationData: c.toString('base64') });
}

export function decodeProperties(text: string): Record<string, unknown> {
  const p = JSON.parse(text) as Record<string, unknown>;
  if (typeof p.correlationData === 'string') p.correlationData = Buffer.from(p.correlationData, 'base64');
  return p;
}

/** What both ends see of the shared memory. */
abstract class RingView {
  readonly control: Int32Array;
  readonly bytes: Buffer;
  protected readonly words: Uint32Array;
  protected readonly utf8: Utf8Buffer;
  protected readonly size: number;

  constructor(mem: RingMemory) {
    this.control = new Int32Array(mem.control);
    this.words = new Uint32Array(mem.ring);
    this.bytes = Buffer.from(mem.ring);
    this.utf8 = this.bytes as unknown as Utf8Buffer;
    this.size = mem.ring.byteLength;
  }
}

/**
 * The writing end (main thread). `write` returns false when the record does not fit (the reader is
 * behind by nearly the ring's size): the caller evaluates that message itself.
 */
export class RingWriter extends RingView {
  private head = 0;
  /** HEAD as last published to the reader (records up to `head` are written but may not be). */
  private published = 0;
  /** The reader's TAIL as last read (it only moves forward, so the room it shows is there). */
  private tail = 0;

  /**
   * Room for `need` bytes at the head (wrapping if the end is too short); -1 when full. The tail
   * seen last is tried first: the reader's TAIL is read again only when that says there is no room.
   */
  private reserve(need: number): number {
    const at = this.room(need, this.tail);
    if (at >= 0) return at;
    this.tail = Atomics.load(this.control, TAIL);
    return this.room(need, this.tail);
  }

  private room(need: number, tail: number): number {
    const head = this.head;
    if (head >= tail) {
      if (this.size - head > need || (this.size - head === need && tail !== 0)) return head;
      // Not enough before the end: wrap, if the start has room (strictly less than tail, so HEAD never reaches TAIL).
      if (need < tail) {
        this.words[head >>> 2] = 0;
        this.head = 0;
        return 0;
      }
      return -1;
    }
    return tail - head > need ? head : -1;
  }

  /** One message for worker group `group`; false when the ring is full. */
  write(group: number, arrived: number, topic: string, payload: Buffer, clientId: string | null, principal: string | null, sourceIp: string | null, properties: string | null): boolean {
    // Worst case for the strings (3 UTF-8 bytes per UTF-16 unit); the record then takes what it used.
    const bound =
      HEADER_BYTES + topic.length * 3 + payload.length + (clientId === null ? 0 : clientId.length * 3) + (principal === null ? 0 : principal.length * 3) + (sourceIp === null ? 0 : sourceIp.length * 3) + (properties === null ? 0 : properties.length * 3) + 3;
    const at = this.reserve(bound);
    if (at < 0) return false;
    const b = this.bytes;
    const w = this.words;
    const h = at >>> 2;
    let o = at + HEADER_BYTES;
    const topicLen = this.utf8.utf8Write(topic, o);
    o += topicLen;
    // TypedArray set: a plain memory copy (Buffer.copy makes a view of the source first).
    b.set(payload, o);
    o += payload.length;
    w[h + 1] = group;
    w[h + 8] = arrived % TWO_32;
    w[h + 9] = Math.floor(arrived / TWO_32);
    w[h + 2] = topicLen;
    w[h + 3] = payload.length;
    o = this.str(clientId, o, h + 4);
    o = this.str(principal, o, h + 5);
    o = this.str(sourceIp, o, h + 6);
    o = this.str(properties, o, h + 7);
    this.commit(at, o);
    return true;
  }

  /** A control record (its JSON, in order with the messages); false when the ring is full. */
  writeControl(json: string): boolean {
    const at = this.reserve(HEADER_BYTES + json.length * 3 + 3);
    if (at < 0) return false;
    const h = at >>> 2;
    const n = this.utf8.utf8Write(json, at + HEADER_BYTES);
    this.words[h + 1] = CONTROL;
    this.words[h + 2] = n;
    this.commit(at, at + HEADER_BYTES + n);
    this.publish();
    return true;
  }

  private str(s: string | null, o: number, word: number): number {
    if (s === null) {
      this.words[word] = NONE;
      return o;
    }
    const n = this.utf8.utf8Write(s, o);
    this.words[word] = n;
    return o + n;
  }

  private commit(at: number, end: number): void {
    const len = ((end - at + 3) & ~3) >>> 0;
    this.words[at >>> 2] = len;
    let next = at + len;
    if (next === this.size) next = 0;
    this.head = next;
  }

  /** Whether records were written since the last `publish()`. */
  get unpublished(): boolean {
    return this.head !== this.published;
  }

  /**
   * Makes the records written so far visible to the reader (one atomic store for a batch: the
   * engine calls it once per socket read) and wakes it if it sleeps.
   */
  publish(): void {
    if (this.head === this.published) return;
    this.published = this.head;
    Atomics.store(this.control, HEAD, this.head);
    // Wake the reader once if it sleeps (this exchange, not the reader, clears the flag).
    if (Atomics.load(this.control, SLEEPING) === 1 && Atomics.compareExchange(this.control, SLEEPING, 1, 0) === 1) Atomics.notify(this.control, HEAD);
  }
}

/** One record as the reader sees it (reused: valid until the next `next()`). */
export class RingRecord {
  group = 0;
  /** When the message arrived (ms since the epoch). */
  arrived = 0;
  topic = '';
  payloadStart = 0;
  payloadEnd = 0;
  clientId: string | null = null;
  principal: string | null = null;
  sourceIp: string | null = null;
  properties: string | null = null;
  /** A control record's JSON. */
  control: ControlRecord | null = null;
}

/** The reading end (the worker). */
export class RingReader extends RingView {
  private tail = 0;
  /** HEAD as last read. */
  private head = 0;

  /** Text of ring bytes (payloads are read as text for JSON.parse without a Buffer view). */
  text(start: number, end: number): string {
    return this.utf8.utf8Slice(start, end);
  }

  /** The reader's position: what it has read so far (for waiting on HEAD). */
  get position(): number {
    return this.tail;
  }

  /** Fills `r` with the next record; false when the ring is empty. Call `release()` once done with it. */
  next(r: RingRecord): boolean {
    // HEAD is read again only once the records it showed are used up.
    if (this.tail === this.head && this.tail === (this.head = Atomics.load(this.control, HEAD))) return false;
    let at = this.tail;
    if (this.words[at >>> 2] === 0) at = 0;
    const w = this.words;
    const b = this.bytes;
    const h = at >>> 2;
    const len = w[h]!;
    const group = w[h + 1]!;
    let o = at + HEADER_BYTES;
    const end = at + len;
    r.group = group;
    if (group === CONTROL) {
      r.control = JSON.parse(b.toString('utf8', o, o + w[h + 2]!)) as ControlRecord;
    } else {
      r.control = null;
      r.arrived = w[h + 9]! * TWO_32 + w[h + 8]!;
      const topicLen = w[h + 2]!;
      r.topic = this.utf8.utf8Slice(o, o + topicLen);
      o += topicLen;
      r.payloadStart = o;
      o += w[h + 3]!;
      r.payloadEnd = o;
      // Written out per field: one store site per property (a computed key was a slow keyed store).
      let n = w[h + 4]!;
      if (n === NONE) r.clientId = null;
      else {
        r.clientId = this.utf8.utf8Slice(o, o + n);
        o += n;
      }
      n = w[h + 5]!;
      if (n === NONE) r.principal = null;
      else {
        r.principal = this.utf8.utf8Slice(o, o + n);
        o += n;
      }
      n = w[h + 6]!;
      if (n === NONE) r.sourceIp = null;
      else {
        r.sourceIp = this.utf8.utf8Slice(o, o + n);
        o += n;
      }
      n = w[h + 7]!;
      r.properties = n === NONE ? null : this.utf8.utf8Slice(o, o + n);
    }
    this.tail = end === this.size ? 0 : end;
    return true;
  }

  /** Gives the bytes of the records read so far back to the writer. */
  release(): void {
    Atomics.store(this.control, TAIL, this.tail);
  }
}
