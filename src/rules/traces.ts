/**
 * Per-rule traces (beyond AWS: rules you can inspect): a small ring per rule of the last messages
 * it evaluated — topic, time, trace id, whether WHERE passed, the output or the error, and the
 * action results. Used by the engine on the main thread and by the evaluation worker
 * (eval-worker.ts), which keeps the traces of the rules it evaluates.
 */
import { randomUUID } from 'node:crypto';

/** One message's passage through a rule, as the traces API shows it. */
export interface RuleTrace {
  traceId: string;
  topic: string;
  at: number;
  matched: boolean;
  /** The SELECT output (bytes as `{ base64 }`), when matched. */
  output?: unknown;
  error?: string;
  actions: { action: string; ok: boolean; error?: string }[];
}

/** How many traces each rule keeps. */
export const TRACES_PER_RULE = 20;

/**
 * What the traces of one message share: its topic, arrival time and trace id. No reference to the
 * message's payload (a view may pin a socket chunk). The trace id is made only when something asks
 * for it — the SQL's traceid(), a template, an error action, or a read of the traces — since a
 * UUID per evaluation was a tenth of the engine's time.
 */
export class MessageTrace {
  constructor(
    readonly topic: string,
    readonly at: number,
    public id: string | null = null,
  ) {}
  get traceId(): string {
    return (this.id ??= randomUUID());
  }
}

/**
 * One slot of a rule's trace ring, overwritten in place when the ring comes round (no allocation
 * per evaluation). `seq` tells a late writer — an aws_lambda() evaluation settling after the slot
 * was reused — that the slot is no longer its own.
 */
export interface TraceRecord {
  seq: number;
  message: MessageTrace;
  matched: boolean;
  output: unknown;
  error: string | undefined;
  actions: { action: string; ok: boolean; error?: string }[] | null;
}

/** A rule's ring: `records[next]` is the slot written next (the oldest once the ring is full). */
export interface TraceRing {
  records: TraceRecord[];
  next: number;
  /** Evaluations recorded so far: the next slot's `seq`. */
  seq: number;
}

export function newTraceRing(): TraceRing {
  return { records: [], next: 0, seq: 0 };
}

/** The ring's next slot, reset for a new evaluation of the message (created while the ring fills). */
export function nextTrace(ring: TraceRing, message: MessageTrace): TraceRecord {
  const i = ring.next;
  ring.next = (i + 1) % TRACES_PER_RULE;
  const seq = ++ring.seq;
  let t = ring.records[i];
  if (t === undefined) {
    t = { seq, message, matched: false, output: undefined, error: undefined, actions: null };
    ring.records.push(t);
    return t;
  }
  t.seq = seq;
  t.message = message;
  t.matched = false;
  t.output = undefined;
  t.error = undefined;
  t.actions = null;
  return t;
}

/**
 * A matched evaluation's output as the trace keeps it: a binary output is a view of a socket's read
 * buffer (or of the worker's ring), so the trace keeps a copy.
 */
export function tracedOutput(output: unknown): unknown {
  return Buffer.isBuffer(output) ? Buffer.from(output) : output;
}

/** The ring's traces, oldest first, as the API shows them (outputs still SQL values). */
export function readTraces(ring: TraceRing): RuleTrace[] {
  const n = ring.records.length;
  const out: RuleTrace[] = [];
  // Oldest first: once the ring is full, the next slot holds the oldest.
  for (let i = 0; i < n; i++) {
    const t = ring.records[(ring.next + i) % n]!;
    const r: RuleTrace = { traceId: t.message.traceId, topic: t.message.topic, at: t.message.at, matched: t.matched, actions: t.actions === null ? [] : [...t.actions] };
    if (t.matched) r.output = Buffer.isBuffer(t.output) ? { base64: t.output.toString('base64') } : t.output;
    if (t.error !== undefined) r.error = t.error;
    out.push(r);
  }
  return out;
}
