/**
 * The rest-json protocol for one operation: the handler's input read from URI labels, query
 * parameters, headers and the body exactly as the model binds each member, and the handler's
 * output written back as status code, headers and body.
 */
import { AwsServiceError, protocolErrors } from './aws-errors.js';
import type { OperationModel } from './service-model.js';
import { formatProblems, type Problem, type ShapeCodec } from './shape-codec.js';

export interface RestJsonRequest {
  /** Decoded URI label values. */
  labels: Record<string, string>;
  /** Decoded query parameters in order. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Query parameter names the route template fixes (never input members). */
  fixedQuery: readonly string[];
  /** Lower-cased header names; repeated headers joined with `,`. */
  headers: ReadonlyMap<string, string>;
  body: Buffer;
}

export interface RestJsonResponse {
  status: number;
  headers: Record<string, string>;
  contentType: string;
  body: string | Buffer;
}

const splitList = (text: string): string[] => text.split(',').map((s) => s.trim());

/**
 * The typed input of `op`, validated against its input shape. Throws SerializationException
 * for a body that is not JSON, and `validationError` (e.g. InvalidRequestException, 400) naming
 * every member that is missing or does not satisfy its constraints.
 */
export function readRestJsonInput(codec: ShapeCodec, op: OperationModel, req: RestJsonRequest, validationError: string): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  if (op.input === undefined) return input;
  const shape = codec.shape(op.input);
  const problems: Problem[] = [];
  const bound = new Set<string>(req.fixedQuery);
  for (const [name, b] of codec.members(op.input)) if (b.location === 'querystring') bound.add(b.locationName ?? name);

  for (const [name, b] of codec.members(op.input)) {
    const key = b.locationName ?? name;
    let value: unknown;
    switch (b.location) {
      case 'uri':
        if (req.labels[key] !== undefined) value = codec.readText(b.shape, req.labels[key]!, name, problems, 'uri', b);
        break;
      case 'querystring': {
        const target = codec.shape(b.shape);
        if (target.type === 'map') {
          // A map bound to the query string takes every parameter no other member binds.
          const map: Record<string, unknown> = {};
          const valueShape = codec.shape(target.value!);
          for (const [k, v] of req.query) {
            if (bound.has(k)) continue;
            if (valueShape.type === 'list') ((map[k] ??= []) as string[]).push(v);
            else map[k] ??= v;
          }
          if (Object.keys(map).length > 0) value = codec.readJson(b.shape, map, name, problems);
        } else {
          const texts = req.query.filter(([k]) => k === key).map(([, v]) => v);
          if (texts.length > 0) value = target.type === 'list' ? texts.map((t, i) => codec.readText(target.member!, t, `${name}.${i + 1}.member`, problems, 'querystring')) : codec.readText(b.shape, texts[0]!, name, problems, 'querystring', b);
          if (target.type === 'list' && Array.isArray(value)) codec.check(target, value, name, problems);
        }
        break;
      }
      case 'header': {
        const text = req.headers.get(key.toLowerCase());
        if (text === undefined) break;
        const target = codec.shape(b.shape);
        value = target.type === 'list' ? splitList(text).map((t, i) => codec.readText(target.member!, t, `${name}.${i + 1}.member`, problems, 'header')) : codec.readText(b.shape, text, name, problems, 'header', b);
        break;
      }
      case 'headers': {
        const prefix = key.toLowerCase();
        const map: Record<string, string> = {};
        for (const [h, v] of req.headers) if (h.startsWith(prefix)) map[h.slice(prefix.length)] = v;
        if (Object.keys(map).length > 0) value = codec.readJson(b.shape, map, name, problems);
        break;
      }
      default:
        if (shape.payload === name) value = readPayload(codec, b.shape, req.body, name, problems);
    }
    if (value !== undefined) input[name] = value;
  }

  if (shape.payload === undefined && codec.members(op.input).some(([, b]) => b.location === undefined)) {
    Object.assign(input, codec.readBodyMembers(op.input, parseJsonObject(req.body), '', problems));
  }
  codec.checkRequired(op.input, input, '', problems);
  if (problems.length > 0) throw new AwsServiceError(validationError, formatProblems(problems), 400);
  return input;
}

function readPayload(codec: ShapeCodec, ref: string, body: Buffer, path: string, problems: Problem[]): unknown {
  const type = codec.shape(ref).type;
  if (body.length === 0) return undefined;
  if (type === 'blob') {
    codec.check(codec.shape(ref), body, path, problems);
    return body;
  }
  if (type === 'string') return codec.readJson(ref, body.toString('utf8'), path, problems);
  return codec.readJson(ref, parseJson(body), path, problems);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw protocolErrors.serialization(`The request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The body as a JSON object; an empty body is `{}`. */
function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0 || body.toString('utf8').trim() === '') return {};
  const value = parseJson(body);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw protocolErrors.serialization('The request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** The HTTP response for `output` of `op`: status, bound headers, and the JSON (or payload) body. */
export function writeRestJsonOutput(codec: ShapeCodec, op: OperationModel, output: Record<string, unknown> | undefined): RestJsonResponse {
  const res: RestJsonResponse = { status: op.responseCode ?? 200, headers: {}, contentType: 'application/json', body: '{}' };
  if (op.output === undefined || output === undefined || output === null) return res;
  const shape = codec.shape(op.output);
  for (const [name, b] of codec.members(op.output)) {
    const value = output[name];
    if (value === undefined || value === null) continue;
    if (b.location === 'header') res.headers[(b.locationName ?? name).toLowerCase()] = codec.writeHeader(b.shape, value, b);
    else if (b.location === 'headers') {
      for (const [k, v] of Object.entries(value as Record<string, string>)) res.headers[`${b.locationName ?? ''}${k}`.toLowerCase()] = String(v);
    } else if (b.location === 'statusCode') res.status = Number(value);
  }
  if (shape.payload !== undefined) {
    const member = codec.members(op.output).find(([n]) => n === shape.payload)![1];
    const value = output[shape.payload];
    const type = codec.shape(member.shape).type;
    if (value === undefined || value === null) res.body = type === 'structure' ? '{}' : '';
    else if (type === 'blob') {
      const v = value as Uint8Array;
      res.body = typeof value === 'string' ? Buffer.from(value) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      res.contentType = 'application/octet-stream';
    } else if (type === 'string') {
      res.body = String(value);
      res.contentType = 'text/plain; charset=utf-8';
    } else res.body = JSON.stringify(codec.writeJson(member.shape, value) ?? {});
    return res;
  }
  res.body = JSON.stringify(codec.writeBodyMembers(op.output, output));
  return res;
}
