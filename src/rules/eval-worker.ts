/**
 * The rules engine's evaluation worker: reads messages from the shared ring (eval-ring.ts), evaluates
 * the rules of each message's group — parse once, identical statements once — counts into the
 * shared counters, keeps the rules' traces, and posts back the messages that passed a rule with
 * actions (the main thread runs actions). Only statements that need nothing from the main thread
 * come here: no lookups, no aws_lambda(), no protobuf descriptors (eval-offload.ts decides).
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { MessageProperties } from '../core/index.js';
import { CONTROL, decodeProperties, detachView, doneWord, encodeValue, HEAD, RingReader, RingRecord, SLEEPING, SLOT_WORDS, type ControlRecord, type RingMemory, type TransferTrace, type WorkerReply, type WorkerResult } from './eval-ring.js';
import { compileSql, keepsWholeDecimals, parsePayloadText, leaderIndexes, type CompiledSql, type SqlContext } from './sql/index.js';
import { MessageTrace, newTraceRing, nextTrace, readTraces, type TraceRing } from './traces.js';

interface WorkerData {
  mem: RingMemory;
  accountId: string;
}

interface WorkerRule {
  slot: number;
  /** Which rule holds the slot (trace reads name it: slots are reused). */
  gen: number;
  sql: CompiledSql;
  /** SQL 2015-10-08: whole Decimals in the payload stay Decimals (json.ts). */
  decimals: boolean;
  /** Post matches back (the rule has actions). */
  results: boolean;
  traces: TraceRing;
  /** First SQL error of the current pass not yet reported. */
  reportedError: boolean;
}

/** A group's rules, each with the index of the earlier rule whose evaluation it shares (-1: its own). */
interface WorkerGroup {
  rules: WorkerRule[];
  leader: Int32Array;
  /** 1 where a later rule shares this one's evaluation (its output is kept for them). */
  leads: Uint8Array;
  /** Evaluations one message counts for: the group's rules as the engine sent them. */
  evaluations: number;
}

/**
 * The SqlContext of the message being evaluated: one object, refilled per message (evaluation
 * keeps no reference to it). The payload is a Buffer only if the statement asks for the bytes.
 */
class WorkerMessage implements SqlContext {
  topic = '';
  clientId: string | null = null;
  principal: string | null = null;
  sourceIp: string | null = null;
  timestamp = 0;
  trace: MessageTrace = new MessageTrace('', 0);
  private start = 0;
  private end = 0;
  private propsText: string | null = null;
  private props: MessageProperties | null | undefined = undefined;
  private bytes: Buffer | null = null;
  constructor(readonly accountId: string) {}

  reset(r: RingRecord, now: number, trace: MessageTrace): void {
    this.topic = r.topic;
    this.clientId = r.clientId;
    this.principal = r.principal;
    this.sourceIp = r.sourceIp;
    this.timestamp = now;
    this.trace = trace;
    this.start = r.payloadStart;
    this.end = r.payloadEnd;
    this.propsText = r.properties;
    this.props = undefined;
    this.bytes = null;
  }
  get traceId(): string {
    return this.trace.traceId;
  }
  /** A view of the ring: valid while the message is evaluated (results and traces copy it). */
  get payload(): Buffer {
    return (this.bytes ??= reader.bytes.subarray(this.start, this.end));
  }
  /** The payload's view, if the evaluation asked for it. */
  get payloadView(): Buffer | null {
    return this.bytes;
  }
  get properties(): MessageProperties | null {
    if (this.props === undefined) this.props = this.propsText === null ? null : (decodeProperties(this.propsText) as MessageProperties);
    return this.props;
  }
}

/**
 * On Linux the worker lowers its own scheduling priority (nice +10; a thread's id is a task id, so
 * this touches no other thread): when the machine is saturated, the broker's thread — and whatever
 * feeds it — goes first, and rules use what is left. A worker that falls behind that way loses
 * nothing: the broker's thread evaluates what the ring cannot take.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, WORKER_NICE);
  } catch {
    // Not Linux, or not allowed: the worker runs at the process's priority.
  }
}
const WORKER_NICE = 10;
lowerPriority();

const data = workerData as WorkerData;
const port = parentPort!;
const reader = new RingReader(data.mem);
const counters = new Float64Array(data.mem.counters);
const DONE = doneWord(data.mem.slots);
const msg = new WorkerMessage(data.accountId);
const rules = new Map<number, WorkerRule>();
const groups = new Map<number, WorkerGroup>();
const record = new RingRecord();
let results: WorkerResult[] = [];
/** Records per pass before the worker lets its port's messages (trace reads) in. */
const PASS = 4096;

function post(reply: WorkerReply): void {
  port.postMessage(reply);
}

function flushResults(): void {
  if (results.length === 0) return;
  post({ op: 'results', results });
  results = [];
}

function onControl(c: ControlRecord): void {
  switch (c.op) {
    case 'rule':
      try {
        rules.set(c.slot, { slot: c.slot, gen: c.gen, sql: compileSql(c.sql, { sqlVersion: c.sqlVersion }), decimals: keepsWholeDecimals(c.sqlVersion), results: c.results, traces: newTraceRing(), reportedError: false });
      } catch (err) {
        post({ op: 'failed', slot: c.slot, error: (err as Error).message });
      }
      return;
    case 'unrule': {
      // Everything this rule produced goes out before the acknowledgement (the port keeps order),
      // and its traces with it: the rule's name keeps them (a replaced rule keeps its traces).
      flushResults();
      const rule = rules.get(c.slot);
      rules.delete(c.slot);
      post({ op: 'unruled', slot: c.slot, traces: transferTraces(rule) });
      return;
    }
    case 'group': {
      const list = c.slots.map((s) => rules.get(s)).filter((r): r is WorkerRule => r !== undefined);
      const leader = leaderIndexes(list.map((r) => r.sql));
      const leads = new Uint8Array(list.length);
      for (const lead of leader) if (lead >= 0) leads[lead] = 1;
      groups.set(c.id, { rules: list, leader, leads, evaluations: c.slots.length });
      return;
    }
    case 'ungroup':
      groups.delete(c.id);
      return;
    case 'sync':
      // Everything before it is evaluated: its results go first.
      progress();
      flushResults();
      post({ op: 'synced', id: c.id });
      return;
  }
}

const outputs: unknown[] = [];
const errors: unknown[] = [];

function evaluate(g: WorkerGroup, r: RingRecord): void {
  // timestamp() and the trace's time: when the message arrived (written by the broker's thread).
  const now = r.arrived;
  const trace = new MessageTrace(r.topic, now);
  msg.reset(r, now, trace);
  // Parsed once per message (per SQL version's reading of numbers), when a rule evaluates.
  let text: string | null = null;
  let parsed = -1;
  let doc: unknown;
  const list = g.rules;
  for (let i = 0; i < list.length; i++) {
    const rule = list[i]!;
    const base = rule.slot * SLOT_WORDS;
    counters[base]!++;
    const t = nextTrace(rule.traces, trace);
    let out: unknown;
    let err: unknown;
    const lead = g.leader[i]!;
    if (lead >= 0) {
      out = outputs[lead];
      err = errors[lead];
    } else {
      const dec = rule.decimals ? 1 : 0;
      if (parsed !== dec) {
        text ??= reader.text(r.payloadStart, r.payloadEnd);
        doc = parsePayloadText(text, rule.decimals);
        parsed = dec;
      }
      try {
        out = rule.sql.evaluateParsed(msg, doc);
      } catch (e) {
        err = e ?? new Error('evaluation failed');
      }
    }
    if (g.leads[i] === 1) {
      outputs[i] = out;
      errors[i] = err;
    }
    if (err !== undefined) {
      counters[base + 2]!++;
      t.error = (err as Error).message;
      if (!rule.reportedError) {
        rule.reportedError = true;
        post({ op: 'failed', slot: rule.slot, error: t.error });
      }
      continue;
    }
    if (out === undefined) continue;
    counters[base + 1]!++;
    t.matched = true;
    // The statement read the bytes (`*` of a binary payload): they view the ring, which moves on.
    if (msg.payloadView !== null) out = detachView(out, msg.payloadView);
    t.output = out;
    if (rule.results) {
      let output: unknown;
      let again = false;
      try {
        output = encodeValue(out);
      } catch {
        // Nested too deep to cross threads: the main thread evaluates this one again.
        again = true;
      }
      results.push({
        slot: rule.slot,
        topic: r.topic,
        payload: new Uint8Array(msg.payload),
        clientId: r.clientId,
        principal: r.principal,
        sourceIp: r.sourceIp,
        properties: r.properties,
        traceId: trace.traceId,
        timestamp: now,
        output,
        ...(again ? { again } : {}),
      });
    }
  }
  counters[DONE]! += g.evaluations;
}

/**
 * A message's evaluation that cannot stop the worker: what escapes the per-rule handling (it
 * should not happen) is logged through the main thread, and the message's evaluations still count
 * as done, so the engine's bound and idle() stay right.
 */
function evaluateSafely(g: WorkerGroup, r: RingRecord): void {
  try {
    evaluate(g, r);
  } catch (err) {
    counters[DONE]! += g.evaluations;
    post({ op: 'failed', slot: g.rules[0]?.slot ?? -1, error: `worker: ${(err as Error).message}` });
  }
}

function progress(): void {
  reader.release();
}

/** The group of the last message read (control records reset it: they may change groups). */
let lastGroupId = CONTROL;
let lastGroup: WorkerGroup | undefined;

/** Reads and evaluates up to PASS records; returns how many it read. */
function pass(): number {
  let n = 0;
  while (n < PASS && reader.next(record)) {
    n++;
    if (record.group === CONTROL) {
      onControl(record.control!);
      lastGroupId = CONTROL;
    } else {
      // Consecutive messages mostly belong to the same group (one FROM filter).
      if (record.group !== lastGroupId) {
        lastGroupId = record.group;
        lastGroup = groups.get(lastGroupId);
      }
      if (lastGroup !== undefined) evaluateSafely(lastGroup, record);
    }
    // Give bytes back as we go, so a writer ahead of us finds room.
    if ((n & 63) === 0) progress();
  }
  progress();
  for (const rule of rules.values()) rule.reportedError = false;
  flushResults();
  return n;
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * While messages keep coming, the worker looks for more every POLL_MS instead of asking to be
 * woken: a wake-up per socket read (tens of thousands a second) cost the writer a futex call
 * each and the worker an event-loop turn each, for batches of a few messages. After a poll that
 * finds nothing it sleeps until the writer wakes it. Rules see a message at most about POLL_MS
 * later than they would otherwise.
 */
const POLL_MS = 1;

async function run(): Promise<void> {
  const control = reader.control;
  let busy = false;
  for (;;) {
    const n = pass();
    if (n === PASS) {
      // Still busy: let the port's messages (trace reads) in between passes.
      await immediate();
      continue;
    }
    if (n > 0 || busy) {
      busy = n > 0;
      await later(POLL_MS);
      continue;
    }
    Atomics.store(control, SLEEPING, 1);
    const waited = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync(control, HEAD, reader.position);
    if (waited.async) await waited.value;
    Atomics.store(control, SLEEPING, 0);
  }
}

/** A rule's traces as they cross to the main thread (outputs encoded). */
function transferTraces(rule: WorkerRule | undefined): TransferTrace[] {
  if (rule === undefined) return [];
  return readTraces(rule.traces).map(({ actions: _actions, ...t }) => {
    if (t.output === undefined) return t;
    try {
      return { ...t, output: encodeValue(t.output) };
    } catch (err) {
      return { ...t, output: `(not shown: ${(err as Error).message})` };
    }
  });
}

port.on('message', (m: { op: 'traces'; id: number; slot: number; gen: number }) => {
  const rule = rules.get(m.slot);
  post({ op: 'traces', id: m.id, traces: rule?.gen === m.gen ? transferTraces(rule) : [] });
});

void run();
