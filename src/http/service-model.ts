/**
 * The shape of a generated AWS service model (src/http/models/*.gen.ts, written by
 * scripts/gen-aws-models.mjs from AWS's own models): operations with their HTTP binding,
 * named shapes with their constraints, and the error table. Data only; the router reads it once
 * at start-up and builds its matchers and validators from it.
 */

/** Shape references that need no entry in `shapes`: unconstrained scalars. */
export type BuiltinShape = 'string' | 'boolean' | 'integer' | 'long' | 'float' | 'double' | 'timestamp' | 'blob' | 'document';

export type ShapeType = BuiltinShape | 'structure' | 'list' | 'map';

export type TimestampFormat = 'iso8601' | 'rfc822' | 'unixTimestamp';

/** Where a structure member travels in the HTTP request or response (absent: the JSON body). */
export type MemberLocation = 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';

export interface MemberBinding {
  shape: string;
  location?: MemberLocation;
  /** Name of the URI label, query parameter, header, or (for `headers`) header prefix. */
  locationName?: string;
  /** A string carried as base64-encoded JSON text (headers). */
  jsonvalue?: boolean;
  /** Filled in by the SDK with a random token when the caller leaves it out. */
  idempotencyToken?: boolean;
  timestampFormat?: TimestampFormat;
  hostLabel?: boolean;
}

/** A member is its shape name, or its shape name plus an HTTP binding. */
export type MemberModel = string | MemberBinding;

export interface ShapeModel {
  type: ShapeType;
  /** Structures: members by name, required member names, and the member that is the whole body. */
  members?: Record<string, MemberModel>;
  required?: readonly string[];
  payload?: string;
  /** Lists: the element shape. Maps: key and value shapes. */
  member?: string;
  key?: string;
  value?: string;
  /** Length (strings, blobs), element count (lists, maps) or value range (numbers). */
  min?: number;
  max?: number;
  /** A JavaScript regular expression source matched against the whole string. */
  pattern?: string;
  /** '' when the pattern must be compiled without the `u` flag (default `u`). */
  patternFlags?: string;
  enum?: readonly string[];
  timestampFormat?: TimestampFormat;
}

export interface OperationModel {
  method: string;
  /** URI template: `{label}`, greedy `{label+}`, and possibly a fixed query (`/x?type=y`). */
  requestUri: string;
  /** Success status (default 200). */
  responseCode?: number;
  input?: string;
  output?: string;
  /** Error shapes this operation declares. */
  errors?: readonly string[];
}

export interface ServiceModel {
  metadata: { serviceId: string; apiVersion: string; protocol: string; endpointPrefix: string; signingName: string };
  operations: Record<string, OperationModel>;
  shapes: Record<string, ShapeModel>;
  /** Error shape name -> HTTP status code. */
  errors: Record<string, number>;
}

const BUILTINS: ReadonlySet<string> = new Set<BuiltinShape>(['string', 'boolean', 'integer', 'long', 'float', 'double', 'timestamp', 'blob', 'document']);

/** The binding of a member, whether the model wrote it as a bare shape name or an object. */
export function memberBinding(member: MemberModel): MemberBinding {
  return typeof member === 'string' ? { shape: member } : member;
}

/** The shape a reference names: a builtin scalar, or an entry of `model.shapes`. */
export function resolveShape(model: ServiceModel, ref: string): ShapeModel {
  if (BUILTINS.has(ref)) return { type: ref as BuiltinShape };
  const shape = model.shapes[ref];
  if (!shape) throw new Error(`${model.metadata.serviceId} model: unknown shape ${ref}`);
  return shape;
}
