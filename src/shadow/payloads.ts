/**
 * The bytes of every shadow message, fields in the order AWS sends them. Observed on the live
 * service (captures in AWS's own aws-iot-device-sdk-js-v2 shadow sample walkthrough):
 *   update/accepted  {"state":…,"metadata":…,"version":N,"timestamp":T,"clientToken":"…"}
 *   get/accepted     {"state":{"desired","reported","delta"},"metadata":…,"version":N,"timestamp":T,"clientToken":"…"}
 *   update/delta     {"version":N,"timestamp":T,"state":…,"metadata":…,"clientToken":"…"}
 *   update/documents {"previous":{state,metadata,version}|null,"current":{…},"timestamp":T,"clientToken":"…"}
 *   delete/accepted  {"version":N,"timestamp":T,"clientToken":"…"}
 *   …/rejected       {"code":C,"message":"…","timestamp":T,"clientToken":"…"}
 * clientToken appears only when the request carried one. Timestamps are epoch seconds.
 */
import { computeDelta, deltaMetadata, type ShadowDocument } from './document.js';
import { num, obj, writeJson, type JsonObject, type JsonValue } from './json.js';

const opt = (v: JsonObject | null): JsonObject | undefined => v ?? undefined;
const token = (t: string | undefined): string | undefined => t;

/** `{desired, reported}` of a document, each only when present. */
function stateOf(doc: ShadowDocument, withDelta: boolean): JsonObject {
  const delta = withDelta ? computeDelta(doc.desired, doc.reported) : null;
  return obj([
    ['desired', opt(doc.desired)],
    ['reported', opt(doc.reported)],
    ['delta', opt(delta)],
  ]);
}

function metadataOfDoc(doc: ShadowDocument): JsonObject {
  return obj([
    ['desired', opt(doc.metadataDesired)],
    ['reported', opt(doc.metadataReported)],
  ]);
}

/** update/accepted: the request's state as sent, its metadata, the new version. */
export function updateAccepted(state: JsonValue, metadata: JsonObject | null, version: number, timestamp: number, clientToken: string | undefined): string {
  return writeJson(
    obj([
      ['state', state],
      ['metadata', metadata ?? new Map()],
      ['version', num(version)],
      ['timestamp', num(timestamp)],
      ['clientToken', token(clientToken)],
    ]),
  );
}

/** get/accepted (and the GetThingShadow body): the whole document with its computed delta. */
export function getAccepted(doc: ShadowDocument, timestamp: number, clientToken: string | undefined): string {
  return writeJson(
    obj([
      ['state', stateOf(doc, true)],
      ['metadata', metadataOfDoc(doc)],
      ['version', num(doc.version)],
      ['timestamp', num(timestamp)],
      ['clientToken', token(clientToken)],
    ]),
  );
}

/** update/delta, or null when desired and reported agree (then nothing is published). */
export function deltaMessage(doc: ShadowDocument, timestamp: number, clientToken: string | undefined): string | null {
  const delta = computeDelta(doc.desired, doc.reported);
  if (delta === null) return null;
  return writeJson(
    obj([
      ['version', num(doc.version)],
      ['timestamp', num(timestamp)],
      ['state', delta],
      ['metadata', deltaMetadata(delta, doc.metadataDesired)],
      ['clientToken', token(clientToken)],
    ]),
  );
}

function snapshot(doc: ShadowDocument | null): JsonValue {
  if (doc === null) return null;
  return obj([
    ['state', stateOf(doc, false)],
    ['metadata', metadataOfDoc(doc)],
    ['version', num(doc.version)],
  ]);
}

/** update/documents: the document before (null for a new shadow) and after, without deltas. */
export function documentsMessage(previous: ShadowDocument | null, current: ShadowDocument, timestamp: number, clientToken: string | undefined): string {
  return writeJson(
    obj([
      ['previous', snapshot(previous)],
      ['current', snapshot(current)],
      ['timestamp', num(timestamp)],
      ['clientToken', token(clientToken)],
    ]),
  );
}

/** delete/accepted: the version the shadow had; a later update continues from it. */
export function deleteAccepted(version: number, timestamp: number, clientToken: string | undefined): string {
  return writeJson(
    obj([
      ['version', num(version)],
      ['timestamp', num(timestamp)],
      ['clientToken', token(clientToken)],
    ]),
  );
}

/** …/rejected. */
export function rejected(code: number, message: string, timestamp: number, clientToken: string | undefined): string {
  return writeJson(
    obj([
      ['code', num(code)],
      ['message', message],
      ['timestamp', num(timestamp)],
      ['clientToken', token(clientToken)],
    ]),
  );
}
