/**
 * The main thread's side of the evaluation worker (eval-worker.ts): rules whose statements need
 * nothing from the main thread are evaluated on another core. The engine writes each message once
 * into a shared ring (eval-ring.ts) for the worker group its FROM filter (or Basic Ingest rule)
 * maps to; the worker counts, traces and evaluates, and posts back only the messages that passed
 * a rule with actions, which the engine then runs here.
 *
 * Nothing here waits: a message that finds the ring full, or the worker's backlog at the engine's
 * bound, is refused (`submit` returns false) and the engine evaluates it on the main thread — so
 * rules never fall behind the broker unboundedly and nothing is dropped while the main thread can
 * keep up. Rule and group definitions travel through the same ring as the messages, so the worker
 * sees them in order; one that finds the ring full waits in a backlog that goes first.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ClientInfo, Message } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { allocateRing, decodeValue, doneWord, encodeProperties, NEEDS_ALL, NEEDS_CLIENT_ID, NEEDS_PRINCIPAL, NEEDS_PROPERTIES, NEEDS_SOURCE_IP, RingWriter, SLOT_WORDS, type ControlRecord, type RingMemory, type TransferTrace, type WorkerReply, type WorkerResult } from './eval-ring.js';
import { compileSql, type CompiledSql } from './sql/index.js';

/** `rules.evaluationWorker`: `auto` uses the worker when the machine has more than one core. */
export type EvaluationWorkerMode = 'auto' | 'on' | 'off';

export function evaluationWorkerWanted(mode: EvaluationWorkerMode): boolean {
  return mode === 'on' || (mode === 'auto' && availableParallelism() > 1);
}

/** A rule slot's counters as the worker wrote them. */
export interface SlotCounts {
  evaluated: number;
  matched: number;
  sqlErrors: number;
}

/**
 * What of a message's context (NEEDS_*) a rule reads: everything when it has actions (their
 * substitution templates and the error action see the message), else what its statement's
 * functions name (clientid(), principal(), sourceip(), get_mqtt_property(), get_user_properties()).
 * A name anywhere in the text counts (in a string literal too): erring towards sending.
 */
export function contextNeeds(sql: CompiledSql, hasActions: boolean): number {
  if (hasActions) return NEEDS_ALL;
  const t = sql.text.toLowerCase();
  return (
    (t.includes('clientid') ? NEEDS_CLIENT_ID : 0) |
    (t.includes('principal') ? NEEDS_PRINCIPAL : 0) |
    (t.includes('sourceip') ? NEEDS_SOURCE_IP : 0) |
    (t.includes('get_mqtt_property') || t.includes('get_user_properties') ? NEEDS_PROPERTIES : 0)
  );
}

export interface EvalOffloadDeps {
  accountId: string;
  logger: Logger;
  /** Evaluations (message x rule) the worker may have waiting; past it `submit` refuses. */
  maxPending: number;
  /** A message passed a worker-evaluated rule that has actions (output decoded). */
  onResult: (slot: number, result: WorkerResult) => void;
  /** The worker is done with a removed rule's slot: its final counts and traces (the slot is then reused). */
  onRetired: (slot: number, counts: SlotCounts, traces: TransferTrace[]) => void;
  /** The worker's first SQL evaluation error of a pass for a rule (for the log). */
  onError: (slot: number, error: string) => void;
  /** The worker stopped unexpectedly: the evaluations it had queued are lost (the engine counts them as dropped). */
  onLost?: (evaluations: number) => void;
  /** The engine's clock: a message's arrival time, the rules' timestamp(). */
  now?: () => number;
  ringBytes?: number;
  slots?: number;
}

const RING_BYTES = 4 * 1024 * 1024;
const SLOTS = 4096;

function decodeTraces(traces: TransferTrace[]): TransferTrace[] {
  return traces.map((t) => (t.output === undefined ? t : { ...t, output: decodeValue(t.output) }));
}

export class EvalOffload {
  private readonly mem: RingMemory;
  private readonly writer: RingWriter;
  private readonly counters: Float64Array;
  private readonly done: number;
  private worker: Worker | null = null;
  private alive = false;
  private submitted = 0;
  private written = 0;
  /** The worker's DONE count as last read. */
  private doneSeen = 0;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private nextGroup = 1;
  private nextRequest = 1;
  /** Control records (their JSON) waiting for room in the ring, in order. */
  private readonly backlog: string[] = [];
  private started = false;
  private readonly now: () => number;
  /** The arrival time of the messages of the current socket read (one clock read per batch). */
  private batchTime = 0;
  private nextGen = 1;
  private backlogTimer: NodeJS.Timeout | null = null;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private publishQueued = false;
  private readonly publishFn = (): void => {
    this.publishQueued = false;
    this.writer.publish();
  };

  constructor(private readonly deps: EvalOffloadDeps) {
    this.mem = allocateRing(deps.ringBytes ?? RING_BYTES, deps.slots ?? SLOTS);
    this.writer = new RingWriter(this.mem);
    this.counters = new Float64Array(this.mem.counters);
    this.done = doneWord(this.mem.slots);
    this.now = deps.now ?? Date.now;
  }

  /** Whether the worker can evaluate this statement: it compiles without the main thread's lookups, and is synchronous. */
  static canEvaluate(sql: CompiledSql): boolean {
    if (sql.async) return false;
    try {
      compileSql(sql.text, { sqlVersion: sql.sqlVersion });
      return true;
    } catch {
      return false;
    }
  }

  /** Starts the worker; once only (the ring's positions are not reset for a second one). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const w = new Worker(new URL('./eval-worker.js', import.meta.url), { workerData: { mem: this.mem, accountId: this.deps.accountId } });
    w.unref();
    w.on('message', (m: WorkerReply) => this.onReply(m));
    // A reply the main thread cannot read (it should not happen: outputs are bounded in depth):
    // release whoever waits rather than hang them.
    w.on('messageerror', (err) => {
      this.deps.logger.error({ err }, 'rules evaluation worker: a reply could not be read');
      this.releaseWaiting();
    });
    w.on('error', (err) => {
      this.deps.logger.error({ err }, 'rules evaluation worker failed; rules are evaluated on the main thread from now on');
      this.lost();
    });
    w.on('exit', () => this.lost());
    this.worker = w;
    this.alive = true;
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.dead();
    if (w !== null) await w.terminate();
  }

  /**
   * Gives the rule a slot in the worker; -1 when no slot is free, or its statement is too long for
   * a record that always finds room (a quarter of the ring): the rule then runs on the main thread.
   */
  addRule(sql: CompiledSql, hasActions: boolean): { slot: number; gen: number } | null {
    if (!this.alive) return null;
    const gen = this.nextGen++;
    const json = JSON.stringify({ op: 'rule', slot: 0, gen, sql: sql.text, sqlVersion: sql.sqlVersion, results: hasActions } satisfies ControlRecord);
    if (Buffer.byteLength(json) + 64 > this.mem.ring.byteLength / 4) return null;
    const slot = this.freeSlots.pop() ?? (this.nextSlot < this.mem.slots ? this.nextSlot++ : -1);
    if (slot < 0) return null;
    this.control({ op: 'rule', slot, gen, sql: sql.text, sqlVersion: sql.sqlVersion, results: hasActions });
    return { slot, gen };
  }

  /** The worker forgets the rule; `onRetired` gives its final counts once it has. */
  removeRule(slot: number): void {
    if (this.alive) this.control({ op: 'unrule', slot });
  }

  /** A worker group: the rules one message reaches, in order. */
  addGroup(slots: readonly number[]): number {
    if (!this.alive) return -1;
    const id = this.nextGroup++;
    this.control({ op: 'group', id, slots: [...slots] });
    return id;
  }

  removeGroup(id: number): void {
    if (this.alive && id > 0) this.control({ op: 'ungroup', id });
  }

  /**
   * Queues one message for the `evaluations` rules of worker group `group`. False when the worker
   * is not running, is behind by the engine's bound, or the ring is full: evaluate it here instead.
   */
  submit(group: number, evaluations: number, needs: number, topic: string, message: Message, client: ClientInfo | null): boolean {
    if (!this.alive) return false;
    if (this.backlog.length > 0 && !this.flushBacklog()) return false;
    // The worker's count of finished evaluations is read again only when the one seen last says the
    // bound is reached (it changes with every message: reading it each time cost a cache miss each).
    if (this.submitted - this.doneSeen + evaluations > this.deps.maxPending) {
      this.doneSeen = this.counters[this.done]!;
      if (this.submitted - this.doneSeen + evaluations > this.deps.maxPending) return false;
    }
    // Only the context the group's rules read (NEEDS_*): most statements read none of it.
    const props = (needs & NEEDS_PROPERTIES) === 0 || message.properties === null ? null : encodeProperties(message.properties);
    const c = client;
    // One clock read per socket read, as on the main thread's queue.
    if (!this.publishQueued) this.batchTime = this.now();
    if (!this.writer.write(group, this.batchTime, topic, message.payload, c !== null && (needs & NEEDS_CLIENT_ID) !== 0 ? c.clientId : null, c !== null && (needs & NEEDS_PRINCIPAL) !== 0 ? c.principal : null, c !== null && (needs & NEEDS_SOURCE_IP) !== 0 ? c.remoteAddress : null, props)) return false;
    this.submitted += evaluations;
    this.written++;
    // The worker sees this socket read's messages at once, after the callback that routed them.
    if (!this.publishQueued) {
      this.publishQueued = true;
      queueMicrotask(this.publishFn);
    }
    return true;
  }

  /** Messages queued for the worker so far (idle() compares it across a sync). */
  get messages(): number {
    return this.written;
  }

  /** Evaluations queued for the worker and not finished yet. */
  pending(): number {
    return this.alive ? this.submitted - this.counters[this.done]! : 0;
  }

  counts(slot: number): SlotCounts {
    const b = slot * SLOT_WORDS;
    return { evaluated: this.counters[b]!, matched: this.counters[b + 1]!, sqlErrors: this.counters[b + 2]! };
  }

  /** The traces the worker keeps for a rule's slot (outputs decoded); empty when it is not running. */
  async traces(slot: number, gen: number): Promise<TransferTrace[]> {
    if (!this.alive) return [];
    const id = this.nextRequest++;
    const reply = await this.request(id, () => this.worker!.postMessage({ op: 'traces', id, slot, gen }));
    return reply?.op === 'traces' ? decodeTraces(reply.traces) : [];
  }

  /** Resolves once the worker has evaluated everything queued before it, and its results have been handed over. */
  async sync(): Promise<void> {
    if (!this.alive) return;
    const id = this.nextRequest++;
    await this.request(id, () => this.control({ op: 'sync', id }));
  }

  private request(id: number, send: () => void): Promise<WorkerReply | null> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      send();
    });
  }

  private control(record: ControlRecord): void {
    this.backlog.push(JSON.stringify(record));
    this.flushBacklog();
  }

  /** Writes waiting control records in order; true when none is left. */
  private flushBacklog(): boolean {
    while (this.backlog.length > 0) {
      if (!this.writer.writeControl(this.backlog[0]!)) {
        // The ring is full of messages: try again shortly (messages wait for it: see submit).
        this.backlogTimer ??= setTimeout(() => {
          this.backlogTimer = null;
          if (this.alive) this.flushBacklog();
        }, 5).unref();
        return false;
      }
      this.backlog.shift();
    }
    return true;
  }

  private onReply(m: WorkerReply): void {
    switch (m.op) {
      case 'results':
        for (const r of m.results) {
          r.output = decodeValue(r.output);
          this.deps.onResult(r.slot, r);
        }
        return;
      case 'unruled': {
        const counts = this.counts(m.slot);
        this.counters.fill(0, m.slot * SLOT_WORDS, (m.slot + 1) * SLOT_WORDS);
        this.freeSlots.push(m.slot);
        this.deps.onRetired(m.slot, counts, decodeTraces(m.traces));
        return;
      }
      case 'failed':
        this.deps.onError(m.slot, m.error);
        return;
      case 'synced':
      case 'traces': {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.(m);
        return;
      }
    }
  }

  /** The worker stopped unexpectedly: what it had queued is lost (counted), the rest as `dead()`. */
  private lost(): void {
    if (!this.alive) return;
    const pending = this.pending();
    this.dead();
    if (pending > 0) {
      this.deps.logger.error({ evaluations: pending }, 'rules evaluation worker stopped with evaluations queued; they are lost');
      this.deps.onLost?.(pending);
    }
  }

  /** The worker stopped: everything is evaluated on the main thread; waiters are released. */
  private dead(): void {
    if (!this.alive && this.worker === null) return;
    this.alive = false;
    this.worker = null;
    if (this.backlogTimer !== null) clearTimeout(this.backlogTimer);
    this.backlogTimer = null;
    this.releaseWaiting();
  }

  /** Resolves every pending sync and trace read (a trace read then gets no traces). */
  private releaseWaiting(): void {
    for (const w of this.waiting.values()) w({ op: 'synced', id: 0 });
    this.waiting.clear();
  }
}
