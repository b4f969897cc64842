/**
 * The shadow document algebra, pure: request decoding and validation, merge with null deletion,
 * per-leaf metadata, the delta, versions and limits. No I/O, no clock (timestamps come in).
 *
 * Rules (AWS IoT developer guide: "Device Shadow service documents", "Shadow document syntax",
 * "Device Shadow error messages", "Diagnosing problems with shadows"; AWS's own local shadow
 * implementation, Greengrass shadow manager, for what the guide leaves open):
 * - Only `state.desired` and `state.reported` are stored; a `null` leaf deletes its key,
 *   `"desired": null` clears the section, `"state": null` clears both.
 * - Objects merge key by key; arrays and scalars replace whole values.
 * - Metadata mirrors the state: `{"timestamp": epochSeconds}` per leaf, per array element.
 * - The delta holds the desired keys whose value differs from reported (arrays compared whole).
 * - Size: desired + reported, serialized, at most 8 KB; metadata does not count.
 * - Depth: the `state` node counts as level 1; objects and arrays each add a level; at most 6.
 */
import { isUtf8 } from 'node:buffer';
import type { ShadowErrorCode } from './errors.js';
import { isObject, jsonEqual, num, parseJson, JsonNumber, type JsonObject, type JsonValue } from './json.js';

export interface ShadowLimits {
  /** Bytes of desired + reported (serialized) a shadow may hold. AWS: 8 KB. */
  maxStateBytes: number;
  /** Levels of nesting of the state node. AWS: 6. */
  maxDepth: number;
  /** Bytes of clientToken. AWS: 64. */
  maxClientTokenBytes: number;
}

export const DEFAULT_SHADOW_LIMITS: Readonly<ShadowLimits> = Object.freeze({ maxStateBytes: 8192, maxDepth: 6, maxClientTokenBytes: 64 });

/** A stored shadow: the two sections, their metadata, the version. */
export interface ShadowDocument {
  desired: JsonObject | null;
  reported: JsonObject | null;
  metadataDesired: JsonObject | null;
  metadataReported: JsonObject | null;
  version: number;
}

/** What an update asks for: each section absent (undefined), cleared (null) or patched. */
export interface UpdateRequest {
  /** The `state` node exactly as sent (echoed in update/accepted); null for `"state": null`. */
  state: JsonObject | null;
  desired: JsonObject | null | undefined;
  reported: JsonObject | null | undefined;
  clientToken: string | undefined;
  version: number | undefined;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; code: ShadowErrorCode; clientToken?: string };

const fail = <T>(code: ShadowErrorCode, clientToken?: string): Decoded<T> => ({ ok: false, code, clientToken });

/**
 * Bytes to a JSON value. A trailing NUL (some embedded clients, the AWS embedded C shadow demo
 * among them, send the C string terminator) is dropped as AWS tolerates it; an empty payload is
 * `undefined` (fine for get and delete). Not UTF-8: 415. Not JSON: 400 `Invalid JSON`.
 */
export function decodePayload(payload: Uint8Array): Decoded<JsonValue | undefined> {
  let end = payload.length;
  while (end > 0 && payload[end - 1] === 0) end--;
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, end);
  if (!isUtf8(bytes)) return fail('shadow.unsupported_encoding');
  const text = bytes.toString('utf8');
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: parseJson(text) };
  } catch {
    return fail('shadow.invalid_json');
  }
}

/** The clientToken of a request body: undefined when absent; an error when not a string of at most `maxBytes`. */
export function readClientToken(body: JsonValue | undefined, maxBytes: number): Decoded<string | undefined> {
  if (!isObject(body) || !body.has('clientToken')) return { ok: true, value: undefined };
  const t = body.get('clientToken');
  // [AWS shadow errors: "A client token that is longer than 64 bytes will cause this response."]
  if (typeof t !== 'string' || Buffer.byteLength(t) > maxBytes) return fail('shadow.invalid_client_token');
  return { ok: true, value: t };
}

/** Decodes a get or delete request (payload optional): only its clientToken matters. */
export function decodeSimpleRequest(payload: Uint8Array, limits: ShadowLimits): Decoded<{ clientToken: string | undefined }> {
  const d = decodePayload(payload);
  if (!d.ok) return d;
  if (d.value !== undefined && !isObject(d.value)) return fail('shadow.invalid_json');
  const t = readClientToken(d.value, limits.maxClientTokenBytes);
  return t.ok ? { ok: true, value: { clientToken: t.value } } : t;
}

/** Decodes and validates an update request (AWS's checks, in the order of its error table). */
export function decodeUpdateRequest(payload: Uint8Array, limits: ShadowLimits): Decoded<UpdateRequest> {
  const d = decodePayload(payload);
  if (!d.ok) return d;
  const body = d.value;
  if (!isObject(body)) return fail('shadow.invalid_json');
  const token = readClientToken(body, limits.maxClientTokenBytes);
  if (!token.ok) return token;
  const clientToken = token.value;
  if (!body.has('state')) return fail('shadow.missing_state', clientToken);
  const state = body.get('state')!;
  if (state !== null && !isObject(state)) return fail('shadow.state_not_object', clientToken);
  let version: number | undefined;
  if (body.has('version')) {
    const v = body.get('version');
    if (!(v instanceof JsonNumber) || !Number.isSafeInteger(v.value) || v.value < 0) return fail('shadow.invalid_version', clientToken);
    version = v.value;
  }
  let desired: JsonObject | null | undefined = state === null ? null : undefined;
  let reported: JsonObject | null | undefined = state === null ? null : undefined;
  if (state !== null) {
    for (const [key, value] of state) {
      // [AWS: anything in state but desired and reported, e.g. "delta", is 400 "State contains an invalid node"]
      if (key === 'desired') {
        if (value !== null && !isObject(value)) return fail('shadow.desired_not_object', clientToken);
        desired = value;
      } else if (key === 'reported') {
        if (value !== null && !isObject(value)) return fail('shadow.reported_not_object', clientToken);
        reported = value;
      } else return fail('shadow.invalid_node', clientToken);
    }
    if (depthExceeds(state, 1, limits.maxDepth)) return fail('shadow.too_deep', clientToken);
  }
  return { ok: true, value: { state, desired, reported, clientToken, version } };
}

/** True when `v` (at `level`) nests objects or arrays deeper than `max` levels. Stops early. */
function depthExceeds(v: JsonValue, level: number, max: number): boolean {
  if (level > max) return true;
  const children = isObject(v) ? v.values() : Array.isArray(v) ? v.values() : null;
  if (children === null) return false;
  for (const c of children) if ((isObject(c) || Array.isArray(c)) && depthExceeds(c, level + 1, max)) return true;
  return false;
}

/** Metadata of a value: `{"timestamp": t}` per leaf (null included), objects and arrays mirrored. */
export function metadataOf(v: JsonValue, timestamp: number): JsonValue {
  if (isObject(v)) return new Map([...v].map(([k, x]) => [k, metadataOf(x, timestamp)] as const));
  if (Array.isArray(v)) return v.map((x) => metadataOf(x, timestamp));
  return new Map([['timestamp', num(timestamp)]]);
}

/** A patch value as it enters the document: nulls inside a new object are dropped, emptied objects vanish. */
function withoutNulls(v: JsonObject): JsonObject | null {
  const out: JsonObject = new Map();
  let hadNull = false;
  for (const [k, x] of v) {
    if (x === null) hadNull = true;
    else if (isObject(x)) {
      const inner = withoutNulls(x);
      if (inner === null) hadNull = true;
      else out.set(k, inner);
    } else out.set(k, x);
  }
  return hadNull && out.size === 0 ? null : out;
}

/**
 * Merges `patch` into a section (copy on write: `target` is not modified) and its metadata.
 * Returns the new section and metadata (null when the section ends up empty).
 */
export function mergeSection(
  target: JsonObject | null,
  targetMeta: JsonObject | null,
  patch: JsonObject,
  timestamp: number,
): { section: JsonObject | null; metadata: JsonObject | null } {
  const section: JsonObject = new Map(target ?? []);
  const meta: JsonObject = new Map(targetMeta ?? []);
  for (const [key, value] of patch) {
    const current = section.get(key);
    if (value === null) {
      section.delete(key);
      meta.delete(key);
    } else if (isObject(value) && isObject(current)) {
      const m = meta.get(key);
      const inner = mergeSection(current, isObject(m) ? m : null, value, timestamp);
      section.set(key, inner.section ?? new Map());
      meta.set(key, inner.metadata ?? new Map());
    } else if (isObject(value)) {
      const clean = withoutNulls(value);
      if (clean === null) {
        section.delete(key);
        meta.delete(key);
      } else {
        section.set(key, clean);
        meta.set(key, metadataOf(clean, timestamp));
      }
    } else {
      section.set(key, value);
      meta.set(key, metadataOf(value, timestamp));
    }
  }
  return section.size === 0 ? { section: null, metadata: null } : { section, metadata: meta };
}

/** The desired keys whose value differs from reported (recursing into objects on both sides); null when none. */
export function computeDelta(desired: JsonObject | null, reported: JsonObject | null): JsonObject | null {
  if (desired === null) return null;
  const out: JsonObject = new Map();
  for (const [key, d] of desired) {
    const r = reported?.get(key);
    if (r === undefined) out.set(key, d);
    else if (isObject(d) && isObject(r)) {
      const inner = computeDelta(d, r);
      if (inner !== null) out.set(key, inner);
    } else if (!jsonEqual(d, r)) out.set(key, d);
  }
  return out.size === 0 ? null : out;
}

/** The desired metadata of exactly the keys in `delta`. */
export function deltaMetadata(delta: JsonObject, metadataDesired: JsonObject | null): JsonObject {
  const out: JsonObject = new Map();
  for (const [key, value] of delta) {
    const m = metadataDesired?.get(key);
    if (m === undefined) continue;
    out.set(key, isObject(value) && isObject(m) ? deltaMetadata(value, m) : m);
  }
  return out;
}

/** Bytes counted against the state limit: desired and reported as serialized. */
export function stateBytes(desired: JsonObject | null, reported: JsonObject | null, write: (v: JsonValue) => string): number {
  return (desired === null ? 0 : Buffer.byteLength(write(desired))) + (reported === null ? 0 : Buffer.byteLength(write(reported)));
}

export type UpdateOutcome =
  | { ok: true; next: ShadowDocument; created: boolean }
  | { ok: false; code: 'shadow.version_conflict' | 'shadow.too_large' };

/**
 * Applies an accepted-shape request to the current document (null = no shadow; `versionFloor` =
 * the version a deleted shadow had, so numbering continues). Checks the version (409) and the
 * resulting size (413); the new version is the old + 1.
 */
export function applyUpdate(
  current: ShadowDocument | null,
  versionFloor: number,
  req: UpdateRequest,
  timestamp: number,
  limits: ShadowLimits,
  write: (v: JsonValue) => string,
): UpdateOutcome {
  const base = current?.version ?? versionFloor;
  // [AWS: "the Device Shadow service processes the update only if the specified version matches the latest version it has"]
  if (req.version !== undefined && req.version !== base) return { ok: false, code: 'shadow.version_conflict' };
  let { desired, reported, metadataDesired, metadataReported } = current ?? { desired: null, reported: null, metadataDesired: null, metadataReported: null };
  if (req.desired === null) [desired, metadataDesired] = [null, null];
  else if (req.desired !== undefined) ({ section: desired, metadata: metadataDesired } = mergeSection(desired, metadataDesired, req.desired, timestamp));
  if (req.reported === null) [reported, metadataReported] = [null, null];
  else if (req.reported !== undefined) ({ section: reported, metadata: metadataReported } = mergeSection(reported, metadataReported, req.reported, timestamp));
  // [AWS: only desired and reported count toward the 8 KB; metadata does not]
  if (stateBytes(desired, reported, write) > limits.maxStateBytes) return { ok: false, code: 'shadow.too_large' };
  return { ok: true, created: current === null, next: { desired, reported, metadataDesired, metadataReported, version: base + 1 } };
}

/** The metadata echoed in update/accepted: one timestamp per leaf of what was sent (deleted keys too). */
export function requestMetadata(req: UpdateRequest, timestamp: number): JsonObject | null {
  if (req.state === null) return null;
  const out: JsonObject = new Map();
  for (const [key, value] of req.state) out.set(key, metadataOf(value, timestamp));
  return out;
}
