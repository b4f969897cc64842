/**
 * Shadow history, beyond AWS: every accepted version is kept (bounded by the retention in
 * service.ts) with who made it, so one can answer "what was desired.x at 10:02 and who changed
 * it". Read by the CLI (`thingport shadow history`) and by Thingport's own HTTP route
 *   GET /things/{thingName}/shadow/history?name=&from=&to=&at=&limit=&nextToken=
 * signed with SigV4 like the data plane (service `iotdata`; any active access key may read).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AwsServiceError, parseSigV4, verifySigV4, type AccessKeyLookup } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import { num, obj, parseJson, writeJson, type JsonValue } from './json.js';
import type { ShadowService } from './service.js';
import type { ShadowHistoryEntry } from './store.js';
import { SHADOW_NAME, THING_NAME } from './topic-names.js';

export interface HistoryParams {
  shadowName: string | null;
  from: number | null;
  to: number | null;
  /** A single moment: the entry in effect then (from/to/paging ignored). */
  at: number | null;
  limit: number;
  afterVersion: number | null;
}

export const DEFAULT_HISTORY_PAGE = 100;
export const MAX_HISTORY_PAGE = 1000;

const invalid = (message: string): AwsServiceError => new AwsServiceError('InvalidRequestException', message, 400);

/** A time parameter: epoch seconds, epoch milliseconds (13+ digits) or ISO 8601. Returns ms. */
export function parseTime(name: string, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return text.split('.')[0]!.length >= 13 ? n : Math.round(n * 1000);
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw invalid(`${name}: '${text}' is not a time (epoch seconds, epoch milliseconds or ISO 8601)`);
  return t;
}

/** Reads the query parameters (name, from, to, at, limit, nextToken) of a history request. */
export function parseHistoryParams(q: Record<string, string | undefined>): HistoryParams {
  const shadowName = q.name === undefined || q.name === '' ? null : q.name;
  if (shadowName !== null && !SHADOW_NAME.test(shadowName)) throw invalid(`name: '${shadowName}' is not a shadow name ([a-zA-Z0-9:_-]{1,64})`);
  const limit = q.limit === undefined ? DEFAULT_HISTORY_PAGE : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) throw invalid(`limit: must be an integer from 1 to ${MAX_HISTORY_PAGE}`);
  let afterVersion: number | null = null;
  if (q.nextToken !== undefined && q.nextToken !== '') {
    afterVersion = Number(Buffer.from(q.nextToken, 'base64url').toString('utf8'));
    if (!Number.isSafeInteger(afterVersion)) throw invalid('nextToken: not issued by this server');
  }
  return {
    shadowName,
    from: q.from === undefined ? null : parseTime('from', q.from),
    to: q.to === undefined ? null : parseTime('to', q.to),
    at: q.at === undefined ? null : parseTime('at', q.at),
    limit,
    afterVersion,
  };
}

/** Runs a history query: entries (oldest first) and the token of the next page. */
export function readHistory(service: ShadowService, thingName: string, p: HistoryParams): { entries: ShadowHistoryEntry[]; nextToken: string | null } {
  if (p.at !== null) {
    const e = service.historyAt(thingName, p.shadowName, p.at);
    return { entries: e === null ? [] : [e], nextToken: null };
  }
  const entries = service.history({ thingName, shadowName: p.shadowName, from: p.from, to: p.to, afterVersion: p.afterVersion, limit: p.limit + 1 });
  const more = entries.length > p.limit;
  const page = entries.slice(0, p.limit);
  return { entries: page, nextToken: more ? Buffer.from(String(page[page.length - 1]!.version)).toString('base64url') : null };
}

const parsed = (text: string | null): JsonValue => (text === null ? null : parseJson(text));

/** The JSON text of a history page (documents keep their key order and numbers as sent). */
export function renderHistory(thingName: string, shadowName: string | null, r: { entries: ShadowHistoryEntry[]; nextToken: string | null }): string {
  return writeJson(
    obj([
      ['thingName', thingName],
      ['shadowName', shadowName],
      [
        'entries',
        r.entries.map((e) =>
          obj([
            ['version', num(e.version)],
            ['operation', e.operation],
            ['timestamp', num(Math.floor(e.at / 1000))],
            ['time', new Date(e.at).toISOString()],
            ['principal', e.principal],
            ['clientId', e.clientId],
            ['clientToken', e.clientToken],
            ['request', parsed(e.request)],
            ['state', parsed(e.state)],
          ]),
        ),
      ],
      ['nextToken', r.nextToken ?? undefined],
    ]),
  );
}

export interface HistoryRouteOptions {
  service: ShadowService;
  authenticate: AccessKeyLookup;
  region: string;
  logger: Logger;
  now?: () => number;
}

function rawPairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** Registers `GET /things/:thingName/shadow/history` on an app (more specific than the AWS router's catch-all). */
export function registerHistoryRoute(app: FastifyInstance, opts: HistoryRouteOptions): void {
  const now = opts.now ?? Date.now;
  app.get('/things/:thingName/shadow/history', async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const sreq = { method: request.method, url: request.url, headers: rawPairs(request.raw.rawHeaders), body: new Uint8Array(0) };
      const claim = parseSigV4(sreq);
      const key = await opts.authenticate(claim.accessKeyId);
      if (key === null) throw new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
      verifySigV4(sreq, claim, { secretAccessKey: key.secretAccessKey, region: opts.region, services: ['iotdata', 'iot'], now: now() });
      const thingName = (request.params as { thingName: string }).thingName;
      if (!THING_NAME.test(thingName)) throw invalid(`thingName: '${thingName}' is not a thing name ([a-zA-Z0-9:_-]{1,128})`);
      const p = parseHistoryParams(request.query as Record<string, string | undefined>);
      const body = renderHistory(thingName, p.shadowName, readHistory(opts.service, thingName, p));
      return reply.code(200).type('application/json').send(body);
    } catch (err) {
      const e = err instanceof AwsServiceError ? err : new AwsServiceError('InternalFailureException', 'Internal service failure', 500);
      if (!(err instanceof AwsServiceError)) opts.logger.error({ err }, 'shadow history request failed');
      return reply
        .code(e.status ?? 400)
        .header('x-amzn-ErrorType', e.name)
        .type('application/json')
        .send(JSON.stringify({ __type: e.name, message: e.message }));
    }
  });
}
