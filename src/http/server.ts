/**
 * The HTTP application: one fastify instance per listener (plain HTTP, or HTTPS when given
 * key and certificate). Routes are registered here; main.ts calls listen() and attaches the
 * WebSocket upgrade handler to `app.server`.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../lib/index.js';

export interface HttpAppOptions {
  logger: Logger;
  /** Serve HTTPS with this PEM material; a `ca` also asks clients for certificates signed by it (verified later per route). */
  https?: { key: string; cert: string; ca?: string };
  /** Extra fields for GET /health, read per request. */
  health: () => Record<string, unknown>;
  metrics: { render(): Promise<string>; contentType: string };
}

/**
 * Fastify's per-request lines (incoming, completed, 4xx, unknown route) at debug instead of
 * info: at info they would drown the log in health checks and scrapes. Server errors
 * (5xx, failed responses) keep fastify's error level.
 */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) super.requestCompleted(error, request, reply);
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }

  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) super.defaultErrorLog(error, request, reply);
    else reply.log.debug({ res: reply, err: error }, error.message);
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'route not found');
  }
}

/**
 * Builds the fastify app with GET /health, GET /metrics and a JSON 404, logging through
 * `opts.logger` (requests at debug level).
 */
export function createHttpApp(opts: HttpAppOptions): FastifyInstance {
  // Cast to one declared type for both variants: https.Server offers what callers use of
  // app.server (listen, address, the 'upgrade' event), but fastify types it separately.
  const app = Fastify({
    loggerInstance: opts.logger,
    logController: new DebugRequestLogs(),
    ...(opts.https
      ? {
          https: {
            key: opts.https.key,
            cert: opts.https.cert,
            // Request a client certificate without requiring one: the AWS data plane
            // authenticates by certificate, the control plane by SigV4 on the same port.
            ...(opts.https.ca ? { ca: opts.https.ca, requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;

  app.get('/health', async () => ({ status: 'ok', ...opts.health() }));

  app.get('/metrics', async (_request, reply) => {
    const body = await opts.metrics.render();
    return reply.header('content-type', opts.metrics.contentType).header('cache-control', 'no-store').send(body);
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ message: 'Not Found' }));

  return app;
}
