/**
 * AWS rest-json APIs on a fastify app, driven by the service models: every operation of every
 * registered service is routed, authenticated with SigV4, read and validated per the model,
 * handed to its handler, and answered per the model, with AWS's error conventions.
 *
 * One catch-all route (in an encapsulated plugin, so its raw-body parser touches no other
 * route) serves all registered services: AWS tells its services apart by host name, Thingport
 * by path and, where two services share a path (`GET /things/{thingName}/jobs` is an IoT and an
 * IoT Jobs data-plane operation), by the service named in the SigV4 credential scope.
 * Specific routes registered on the app (/health, /metrics, the console) still win.
 *
 * A service may also accept client certificates (`authenticateCertificate`; AWS's data plane does,
 * on port 8443): a request that carries no SigV4 at all (no Authorization header, no presigned
 * query) over a TLS socket that presented a certificate is authenticated by that certificate, and
 * its handler gets `ctx.authorize` to decide each action by the certificate's policies.
 */
import { randomUUID } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../lib/index.js';
import { AwsServiceError, errorPayload, protocolErrors } from './aws-errors.js';
import { readRestJsonInput, writeRestJsonOutput } from './rest-json.js';
import { RouteTable, type RouteMatch } from './route-table.js';
import type { ServiceModel } from './service-model.js';
import { ShapeCodec } from './shape-codec.js';
import { checkSigV4Scope, headerMap, parseSigV4, verifySigV4, type SigV4Claim, type SigV4Request } from './sigv4.js';
import { parseQuery, splitUrl } from './url-parts.js';

/** Who is calling and what, passed to every handler. */
export interface AwsRequestContext {
  /** The model's service id, e.g. `IoT`. */
  service: string;
  operation: string;
  /** The identity the access key belongs to (from `authenticate`), or the certificate's (from `authenticateCertificate`). */
  principal: string;
  /** The SigV4 access key id; '' for a certificate-authenticated request. */
  accessKeyId: string;
  /** Also sent to the client as `x-amzn-RequestId`. */
  requestId: string;
  /**
   * Present for certificate-authenticated requests: may the caller do `action` (e.g.
   * `iot:GetThingShadow`) on `resourceArn`? Handlers check it and answer 403 ForbiddenException
   * when it says no. Undefined for SigV4 callers (access keys are administrators: allowed).
   */
  authorize?: (action: string, resourceArn: string) => boolean;
}

export type AwsHandler<I, O> = (input: I, ctx: AwsRequestContext) => O | Promise<O>;

/** Operations of a service as generated (`IotOperations`): name -> { input; output }. */
export type OperationTypes = Record<string, { input: unknown; output: unknown }>;

/** Handlers by operation name, typed from the generated operation types. */
export type AwsHandlers<Ops> = { [K in keyof Ops]?: Ops[K] extends { input: infer I; output: infer O } ? AwsHandler<I, O> : never };

/** An access key's secret and the identity it stands for, or null for an unknown key. */
export type AccessKeyLookup = (accessKeyId: string) => { secretAccessKey: string; principal: string } | null | Promise<{ secretAccessKey: string; principal: string } | null>;

/** A client certificate's caller: its principal and its policy decisions. */
export interface CertificateCaller {
  principal: string;
  authorize(action: string, resourceArn: string): boolean;
}

/**
 * Authenticates the certificate a TLS client presented (`getPeerCertificate()`, with `raw` DER);
 * null when it is not accepted (unknown, not ACTIVE, untrusted chain, expired).
 */
export type CertificateAuthenticator = (peerCertificate: PeerCertificate, client: { remoteAddress: string }) => Promise<CertificateCaller | null>;

export interface AwsRestRouterOptions<Ops> {
  service: ServiceModel;
  /** SigV4 service name clients sign with (default: the model's, e.g. `iot`, `iotdata`). */
  signingName?: string;
  /** The one region this server serves; requests scoped to another are rejected. */
  region: string;
  authenticate: AccessKeyLookup;
  /**
   * Also accept unsigned requests from TLS clients that present a certificate, authenticated by
   * this (AWS's data plane on port 8443). Absent: SigV4 only.
   */
  authenticateCertificate?: CertificateAuthenticator;
  handlers: AwsHandlers<Ops>;
  logger: Logger;
  /** Largest accepted request body in bytes (default 1 MiB). Set by the first service registered on an app. */
  bodyLimit?: number;
  /** Clock for SigV4 time checks (ms since the epoch); tests inject one. */
  now?: () => number;
}

interface RegisteredService {
  model: ServiceModel;
  signingName: string;
  region: string;
  authenticate: AccessKeyLookup;
  authenticateCertificate: CertificateAuthenticator | undefined;
  handlers: Record<string, AwsHandler<unknown, unknown> | undefined>;
  routes: RouteTable;
  codec: ShapeCodec;
  validationError: string;
  internalError: string;
  now: () => number;
}

interface Dispatcher {
  services: RegisteredService[];
  logger: Logger;
  bodyLimit: number;
}

const DECORATOR = 'thingportAwsRest';
const DEFAULT_BODY_LIMIT = 1024 * 1024;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

/**
 * Registers every operation of `opts.service` on `app`. Call once per service (IoT, IoT data
 * plane, IoT Jobs data plane, ...) before the app starts; operations without a handler answer
 * 501 NotImplementedException naming the operation.
 */
export function createAwsRestRouter<Ops = OperationTypes>(app: FastifyInstance, opts: AwsRestRouterOptions<Ops>): void {
  const model = opts.service;
  const svc: RegisteredService = {
    model,
    signingName: opts.signingName ?? model.metadata.signingName,
    region: opts.region,
    authenticate: opts.authenticate,
    authenticateCertificate: opts.authenticateCertificate,
    handlers: opts.handlers as Record<string, AwsHandler<unknown, unknown> | undefined>,
    routes: new RouteTable(model),
    codec: new ShapeCodec(model),
    validationError: pickError(model, ['InvalidRequestException', 'ValidationException'], 'InvalidRequestException'),
    internalError: pickError(model, ['InternalFailureException', 'InternalServerException', 'InternalException'], 'InternalFailure'),
    now: opts.now ?? Date.now,
  };
  for (const name of Object.keys(opts.handlers as object)) {
    if (!(name in model.operations)) throw new Error(`${model.metadata.serviceId} has no operation ${name}`);
  }
  if (app.hasDecorator(DECORATOR)) {
    app.getDecorator<Dispatcher>(DECORATOR).services.push(svc);
    return;
  }
  const dispatcher: Dispatcher = { services: [svc], logger: opts.logger.child({ component: 'aws-rest' }), bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT };
  app.decorate(DECORATOR, dispatcher);
  app.register(async (scope) => {
    // The raw bytes are what SigV4 signs, so every content type is kept as a Buffer.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: dispatcher.bodyLimit }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { code?: string; statusCode?: number }, request, reply) => {
      // Errors before the handler runs: body over the limit, bad Content-Length, aborted upload.
      const e =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? protocolErrors.tooLarge(dispatcher.bodyLimit)
          : (err.statusCode ?? 500) < 500
            ? protocolErrors.serialization(err.message)
            : new AwsServiceError('InternalFailure', 'Internal server error', 500, { cause: err });
      return sendError(dispatcher, request, reply, randomUUID(), e, undefined);
    });
    scope.route({ method: METHODS, url: '/*', exposeHeadRoute: false, handler: (request, reply) => dispatch(dispatcher, request, reply) });
  });
}

function pickError(model: ServiceModel, names: string[], fallback: string): string {
  return names.find((n) => n in model.errors) ?? fallback;
}

function rawHeaderPairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

async function dispatch(d: Dispatcher, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const requestId = randomUUID();
  let svc: RegisteredService | undefined;
  try {
    const { path, query } = splitUrl(request.url);
    const queryPairs = parseQuery(query);
    const candidates: Array<{ svc: RegisteredService; match: RouteMatch }> = [];
    for (const s of d.services) {
      const match = s.routes.match(request.method, path, queryPairs);
      if (match) candidates.push({ svc: s, match });
    }
    if (candidates.length === 0) throw protocolErrors.unknownOperation(request.method, path);

    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const sreq: SigV4Request = { method: request.method, url: request.url, headers: rawHeaderPairs(request.raw.rawHeaders), body };
    const claim = sigV4ClaimOf(sreq);
    let chosen: { svc: RegisteredService; match: RouteMatch };
    let caller: { principal: string; accessKeyId: string; authorize?: (action: string, resourceArn: string) => boolean };
    if (claim === null) {
      // Not signed at all: a client certificate, where a matching service accepts one.
      const peer = peerCertificateOf(request);
      const byCert = candidates.find((c) => c.svc.authenticateCertificate !== undefined);
      if (peer === null || byCert === undefined) throw protocolErrors.missingAuthentication();
      chosen = byCert;
      svc = chosen.svc;
      const who = await svc.authenticateCertificate!(peer, { remoteAddress: request.raw.socket.remoteAddress ?? '' });
      if (who === null) throw protocolErrors.certificateNotAccepted();
      caller = { principal: who.principal, accessKeyId: '', authorize: (action, resourceArn) => who.authorize(action, resourceArn) };
    } else {
      chosen = candidates.find((c) => c.svc.signingName === claim.scope.service) ?? candidates[0]!;
      svc = chosen.svc;
      const scopeOpts = { region: svc.region, services: candidates.map((c) => c.svc.signingName), now: svc.now() };
      checkSigV4Scope(claim, scopeOpts);
      const key = await svc.authenticate(claim.accessKeyId);
      if (key === null) throw protocolErrors.unrecognizedClient();
      verifySigV4(sreq, claim, { ...scopeOpts, secretAccessKey: key.secretAccessKey });
      caller = { principal: key.principal, accessKeyId: claim.accessKeyId };
    }

    const operation = chosen.match.operation;
    const handler = svc.handlers[operation];
    if (handler === undefined) throw protocolErrors.notImplemented(svc.model.metadata.serviceId, operation);
    const op = svc.model.operations[operation]!;
    const input = readRestJsonInput(
      svc.codec,
      op,
      { labels: chosen.match.labels, query: queryPairs, fixedQuery: chosen.match.fixedQuery, headers: headerMap(sreq), body },
      svc.validationError,
    );
    const ctx: AwsRequestContext = { service: svc.model.metadata.serviceId, operation, requestId, ...caller };
    const output = (await handler(input, ctx)) as Record<string, unknown> | undefined;
    const res = writeRestJsonOutput(svc.codec, op, output);
    return reply
      .code(res.status)
      .headers({ ...res.headers, 'x-amzn-RequestId': requestId })
      .type(res.contentType)
      .send(request.method === 'HEAD' ? undefined : res.body);
  } catch (err) {
    return sendError(d, request, reply, requestId, err, svc);
  }
}

/** The request's SigV4 claim, or null when it carries no signature at all (malformed signatures throw). */
function sigV4ClaimOf(sreq: SigV4Request): SigV4Claim | null {
  try {
    return parseSigV4(sreq);
  } catch (err) {
    if (err instanceof AwsServiceError && err.name === 'MissingAuthenticationTokenException') return null;
    throw err;
  }
}

/** The certificate the TLS client presented, or null (plain HTTP, or no certificate sent). */
function peerCertificateOf(request: FastifyRequest): PeerCertificate | null {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const peer = socket.getPeerCertificate();
  return peer !== null && peer.raw !== undefined && peer.raw.length > 0 ? peer : null;
}

function sendError(d: Dispatcher, request: FastifyRequest, reply: FastifyReply, requestId: string, err: unknown, svc: RegisteredService | undefined): FastifyReply {
  let e: AwsServiceError;
  if (err instanceof AwsServiceError) e = err;
  else {
    d.logger.error({ err, requestId, method: request.method, url: request.url }, 'AWS API handler failed');
    e = new AwsServiceError(svc?.internalError ?? 'InternalFailure', `Internal server error (request id ${requestId})`, 500);
  }
  const status = e.status ?? svc?.model.errors[e.name] ?? 400;
  if (status >= 500 && err instanceof AwsServiceError) d.logger.error({ err, requestId }, 'AWS API error');
  else d.logger.debug({ requestId, error: e.name, status, message: e.message }, 'AWS API error');
  const { body, errorType } = errorPayload(e.name, e.message, e.fields);
  return reply
    .code(status)
    .headers({ 'x-amzn-ErrorType': errorType, 'x-amzn-RequestId': requestId })
    .type('application/json')
    .send(request.method === 'HEAD' ? undefined : body);
}
