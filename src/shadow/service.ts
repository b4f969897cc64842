/**
 * The shadow service: what MQTT topics, the HTTP data plane and the CLI all call (they only
 * translate). Each request is applied synchronously — decoded, merged, committed to the store —
 * and only then are its notifications published, so shadows of one thing change one request at a
 * time, in arrival order, and an accepted response is never sent for a change that is not
 * durable.
 *
 * Published here for every accepted change, whatever the transport (AWS does the same for HTTP
 * updates): `update/accepted`, then `update/delta` (when desired and reported differ), then
 * `update/documents`; `delete/accepted` for deletes. The transport adapters publish the rest:
 * `get/accepted` and every `…/rejected` (MQTT only — an HTTP error publishes nothing).
 */
import type { Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import {
  applyUpdate,
  decodeSimpleRequest,
  decodeUpdateRequest,
  DEFAULT_SHADOW_LIMITS,
  requestMetadata,
  type Decoded,
  type ShadowDocument,
  type ShadowLimits,
} from './document.js';
import { ShadowError, shadowNotFound } from './errors.js';
import { isObject, obj, parseJson, writeJson, type JsonObject } from './json.js';
import { deleteAccepted, deltaMessage, documentsMessage, getAccepted, updateAccepted } from './payloads.js';
import type { ShadowHistoryEntry, ShadowRecord, ShadowStore } from './store.js';
import { shadowTopicPrefix } from './topic-names.js';

/** Who asks, for history and logs. */
export interface ShadowCaller {
  /** Certificate id, access key name, …; null for anonymous MQTT clients and the platform. */
  principal: string | null;
  /** MQTT client id; null over HTTP. */
  clientId: string | null;
}

export interface HistoryRetention {
  /** Newest entries kept per shadow. Default 1000. */
  maxVersions: number;
  /** Entries older than this (ms) are dropped. Default 30 days. */
  maxAgeMs: number;
}

export const DEFAULT_HISTORY_RETENTION: Readonly<HistoryRetention> = Object.freeze({ maxVersions: 1000, maxAgeMs: 30 * 24 * 3600 * 1000 });

export interface ShadowServiceDeps {
  store: ShadowStore;
  messaging: Pick<Messaging, 'publish'>;
  logger: Logger;
  /** Clock in ms since the epoch; tests inject one. */
  now?: () => number;
  limits?: Partial<ShadowLimits>;
  history?: Partial<HistoryRetention>;
}

/** An accepted change: the accepted payload, and when its notifications have been handed to the broker. */
export interface ShadowResult {
  payload: string;
  published: Promise<void>;
}

/** A shadow as the CLI and history show it. */
export interface ShadowView {
  thingName: string;
  shadowName: string | null;
  version: number;
  deleted: boolean;
  updatedAt: number;
  document: ShadowDocument | null;
}

const parseSection = (text: string | null): JsonObject | null => {
  if (text === null) return null;
  const v = parseJson(text);
  return isObject(v) ? v : null;
};

export function recordToDocument(r: ShadowRecord): ShadowDocument | null {
  if (r.deleted) return null;
  return {
    desired: parseSection(r.desired),
    reported: parseSection(r.reported),
    metadataDesired: parseSection(r.metadataDesired),
    metadataReported: parseSection(r.metadataReported),
    version: r.version,
  };
}

const text = (v: JsonObject | null): string | null => (v === null ? null : writeJson(v));

export class ShadowService {
  readonly limits: ShadowLimits;
  readonly retention: HistoryRetention;
  private readonly store: ShadowStore;
  private readonly messaging: Pick<Messaging, 'publish'>;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(deps: ShadowServiceDeps) {
    this.store = deps.store;
    this.messaging = deps.messaging;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.limits = Object.freeze({ ...DEFAULT_SHADOW_LIMITS, ...deps.limits });
    this.retention = Object.freeze({ ...DEFAULT_HISTORY_RETENTION, ...deps.history });
  }

  /** Epoch seconds, as every shadow timestamp is. */
  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The current document, or null when there is none (never created, or deleted). */
  read(thingName: string, shadowName: string | null): ShadowView | null {
    const r = this.store.get(thingName, shadowName ?? '');
    if (r === null) return null;
    return { thingName, shadowName, version: r.version, deleted: r.deleted, updatedAt: r.updatedAt, document: recordToDocument(r) };
  }

  /** GetThingShadow / `…/get`: the get/accepted payload. Throws ShadowError (404 when absent). */
  get(thingName: string, shadowName: string | null, payload: Uint8Array): string {
    const req = unwrap(decodeSimpleRequest(payload, this.limits));
    const doc = this.current(thingName, shadowName, req.clientToken);
    if (doc === null) throw shadowNotFound(thingName, shadowName, req.clientToken);
    return getAccepted(doc, this.seconds(), req.clientToken);
  }

  /** UpdateThingShadow / `…/update`: commits, publishes accepted/delta/documents, returns the accepted payload. */
  update(thingName: string, shadowName: string | null, payload: Uint8Array, caller: ShadowCaller): ShadowResult {
    const req = unwrap(decodeUpdateRequest(payload, this.limits));
    const key = shadowName ?? '';
    const record = this.store.get(thingName, key);
    const previous = record === null ? null : this.documentOf(record, req.clientToken);
    const ts = this.seconds();
    const outcome = applyUpdate(previous, record?.version ?? 0, req, ts, this.limits, writeJson);
    if (!outcome.ok) throw new ShadowError(outcome.code, undefined, req.clientToken);
    const next = outcome.next;
    const at = this.now();
    const state = obj([
      ['desired', next.desired ?? undefined],
      ['reported', next.reported ?? undefined],
    ]);
    this.commit(
      { thingName, shadowName: key, version: next.version, deleted: false, desired: text(next.desired), reported: text(next.reported), metadataDesired: text(next.metadataDesired), metadataReported: text(next.metadataReported), updatedAt: at },
      { thingName, shadowName: key, version: next.version, operation: 'update', at, principal: caller.principal, clientId: caller.clientId, clientToken: req.clientToken ?? null, request: req.state === null ? 'null' : writeJson(req.state), state: writeJson(state) },
      req.clientToken,
    );
    const prefix = shadowTopicPrefix(thingName, shadowName);
    const accepted = updateAccepted(req.state, requestMetadata(req, ts), next.version, ts, req.clientToken);
    const sent = [this.publish(`${prefix}/update/accepted`, accepted)];
    const delta = deltaMessage(next, ts, req.clientToken);
    if (delta !== null) sent.push(this.publish(`${prefix}/update/delta`, delta));
    sent.push(this.publish(`${prefix}/update/documents`, documentsMessage(previous, next, ts, req.clientToken)));
    return { payload: accepted, published: Promise.all(sent).then(() => undefined) };
  }

  /** DeleteThingShadow / `…/delete`: keeps the version (numbering continues), publishes delete/accepted. */
  delete(thingName: string, shadowName: string | null, payload: Uint8Array, caller: ShadowCaller): ShadowResult {
    const req = unwrap(decodeSimpleRequest(payload, this.limits));
    const key = shadowName ?? '';
    const record = this.store.get(thingName, key);
    if (record === null || record.deleted) throw shadowNotFound(thingName, shadowName, req.clientToken);
    const at = this.now();
    this.commit(
      { thingName, shadowName: key, version: record.version, deleted: true, desired: null, reported: null, metadataDesired: null, metadataReported: null, updatedAt: at },
      { thingName, shadowName: key, version: record.version, operation: 'delete', at, principal: caller.principal, clientId: caller.clientId, clientToken: req.clientToken ?? null, request: null, state: null },
      req.clientToken,
    );
    const accepted = deleteAccepted(record.version, this.seconds(), req.clientToken);
    const published = this.publish(`${shadowTopicPrefix(thingName, shadowName)}/delete/accepted`, accepted);
    return { payload: accepted, published };
  }

  /** ListNamedShadowsForThing: names after `after`, one more looked up to know whether a page follows. */
  listNamedShadows(thingName: string, after: string | null, pageSize: number): { results: string[]; more: boolean; timestamp: number } {
    const names = this.store.listNamedShadows(thingName, after, pageSize + 1);
    return { results: names.slice(0, pageSize), more: names.length > pageSize, timestamp: this.seconds() };
  }

  /** Shadow history (beyond AWS), oldest first. */
  history(q: { thingName: string; shadowName: string | null; from: number | null; to: number | null; afterVersion: number | null; limit: number }): ShadowHistoryEntry[] {
    return this.store.history({ ...q, shadowName: q.shadowName ?? '' });
  }

  /** The history entry in effect at `at` (ms), or null. */
  historyAt(thingName: string, shadowName: string | null, at: number): ShadowHistoryEntry | null {
    return this.store.historyAt(thingName, shadowName ?? '', at);
  }

  /** Applies the retention to every shadow's history; returns how many entries went. */
  pruneHistory(): number {
    return this.store.pruneHistory(this.now() - this.retention.maxAgeMs, this.retention.maxVersions);
  }

  private current(thingName: string, shadowName: string | null, clientToken: string | undefined): ShadowDocument | null {
    const r = this.store.get(thingName, shadowName ?? '');
    return r === null ? null : this.documentOf(r, clientToken);
  }

  private documentOf(r: ShadowRecord, clientToken: string | undefined): ShadowDocument | null {
    try {
      return recordToDocument(r);
    } catch (err) {
      throw new ShadowError('shadow.internal', undefined, clientToken, { cause: err });
    }
  }

  private commit(record: ShadowRecord, entry: ShadowHistoryEntry, clientToken: string | undefined): void {
    try {
      this.store.commit(record, entry);
      // Retention per shadow, amortized: the periodic sweep (start()) handles age.
      if (record.version % 16 === 0) this.store.pruneHistory(this.now() - this.retention.maxAgeMs, this.retention.maxVersions, record);
    } catch (err) {
      this.log.error({ err, thingName: record.thingName, shadowName: record.shadowName }, 'shadow commit failed');
      throw new ShadowError('shadow.internal', undefined, clientToken, { cause: err });
    }
  }

  /**
   * Publishes as the platform. The broker routes synchronously inside `publish` (its promise is
   * about storage flushes of queued copies), so the answer counts as sent when the returned
   * promise settles on the next microtask. Never rejects; a failure is logged.
   */
  publish(topic: string, payload: string): Promise<void> {
    // QoS 1 so that subscribers at QoS 1 get the notifications reliably; AWS publishes these whether anyone listens or not.
    const stored = this.messaging.publish({ topic, payload, qos: 1 });
    stored.catch((err: unknown) => this.log.warn({ err, topic }, 'could not publish a shadow message'));
    return Promise.resolve();
  }
}

function unwrap<T>(d: Decoded<T>): T {
  if (!d.ok) throw new ShadowError(d.code, undefined, d.clientToken);
  return d.value;
}
