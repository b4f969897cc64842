/**
 * Actions whose targets run on-premises: `kafka` (AWS's KafkaAction, through kafkajs) and
 * Thingport's own `nats`, `amqp` and `postgres` (accepted by Thingport's rule API and config only:
 * AWS's model has no such members). Compiling checks every field, so a rule that is stored runs;
 * the connections are opened on first use (external-targets.ts), never at compile time.
 */
import type { AwsRuleAction } from './model.js';
import type { ActionDeps, CompiledAction } from './actions.js';
import { rulesErrors } from './errors.js';
import type { KafkaConnection } from './target-kafka.js';
import { outputBytes, toJsonText } from './output.js';
import { actionTemplate as template, type TemplateOptions } from './action-template.js';
import type { SqlContext, Template } from './sql/index.js';

type Fields = Record<string, unknown>;


function fieldsOf(v: unknown, field: string, members: readonly string[]): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw rulesErrors.invalid(`${field} must be an object`);
  for (const k of Object.keys(v)) {
    if (!members.includes(k)) throw rulesErrors.invalid(`${field}.${k} is not a member of this action (members: ${members.join(', ')})`);
  }
  return v as Fields;
}

function stringOf(o: Fields, name: string, field: string, opts: { optional?: boolean; allowEmpty?: boolean } = {}): string | undefined {
  const v = o[name];
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw rulesErrors.invalid(`${field}.${name} is required`);
  }
  if (typeof v !== 'string') throw rulesErrors.invalid(`${field}.${name} must be a string`);
  if (v === '' && !opts.allowEmpty) throw rulesErrors.invalid(`${field}.${name} must not be empty`);
  return v;
}

interface CompiledHeader {
  key: Template;
  value: Template;
}

/** `[{key, value}]`; both may hold substitution templates. */
function headersOf(v: unknown, field: string, lookups: TemplateOptions, keyPattern: RegExp): CompiledHeader[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw rulesErrors.invalid(`${field} must be a list of {key, value}`);
  return v.map((h, i) => {
    const f = `${field}[${i}]`;
    const o = fieldsOf(h, f, ['key', 'value']);
    const key = stringOf(o, 'key', f)!;
    const value = stringOf(o, 'value', f, { allowEmpty: true })!;
    if (!key.includes('${') && !keyPattern.test(key)) throw rulesErrors.invalid(`${f}.key ${JSON.stringify(key)} is not a valid header name`);
    return { key: template(key, `${f}.key`, lookups), value: template(value, `${f}.value`, lookups) };
  });
}

function renderHeaders(hs: CompiledHeader[], doc: unknown, ctx: SqlContext): [string, string][] {
  return hs.map((h) => [h.key(doc, ctx), h.value(doc, ctx)]);
}

function urlOf(given: string | undefined, fallback: string | null, field: string, protocols: readonly string[], configKey: string): string {
  const url = given ?? fallback;
  if (url === null) throw rulesErrors.invalid(`${field} is required (${configKey} is not configured)`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw rulesErrors.invalid(`${field} ${JSON.stringify(url)} is not a URL`);
  }
  if (!protocols.includes(u.protocol)) throw rulesErrors.invalid(`${field} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
  return url;
}

// ---------------------------------------------------------------------------------------------
// nats

/** NATS header names: printable ASCII without ':' (they are written as `Name: value` lines). */
const NATS_HEADER = /^[!-9;-~]+$/;

/** A subject to publish to: dot-separated non-empty tokens, no whitespace, no wildcard token. */
function natsSubjectProblem(s: string): string | null {
  if (s === '') return 'is empty';
  if (/\s/.test(s)) return 'contains whitespace';
  const tokens = s.split('.');
  if (tokens.some((t) => t === '')) return 'has an empty token';
  if (tokens.some((t) => t === '*' || t === '>')) return 'has a wildcard token';
  return null;
}

export function compileNatsAction(cfg: unknown, deps: ActionDeps, where: string, T: TemplateOptions): CompiledAction {
  const field = `${where}.nats`;
  const c = fieldsOf(cfg, field, ['url', 'subject', 'headers']);
  const url = urlOf(stringOf(c, 'url', field, { optional: true }), deps.external.config.natsUrl, `${field}.url`, ['nats:', 'tls:'], 'rules.nats.url');
  const subjectText = stringOf(c, 'subject', field)!;
  if (!subjectText.includes('${')) {
    const problem = natsSubjectProblem(subjectText);
    if (problem !== null) throw rulesErrors.invalid(`${field}.subject ${JSON.stringify(subjectText)} ${problem}`);
  }
  const subject = template(subjectText, `${field}.subject`, T);
  const headers = headersOf(c.headers, `${field}.headers`, T, NATS_HEADER);
  return {
    kind: 'nats',
    failedAction: 'NatsAction',
    failedResource: subjectText,
    run: async ({ output, doc, ctx }) => {
      const s = subject(doc, ctx);
      const problem = natsSubjectProblem(s);
      if (problem !== null) throw new Error(`cannot publish to NATS subject '${s}': it ${problem}`);
      const hs = renderHeaders(headers, doc, ctx);
      for (const [k] of hs) if (!NATS_HEADER.test(k)) throw new Error(`NATS header name '${k}' is not valid`);
      await deps.external.nats(url).publish(s, outputBytes(output), hs);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// amqp

/** [AMQP 0-9-1] exchange names: up to 255 of letters, digits, `-`, `_`, `.`, `:`. */
const AMQP_EXCHANGE = /^[a-zA-Z0-9_.:-]{0,255}$/;
const AMQP_HEADER = /^[^\s]{1,128}$/;

export function compileAmqpAction(cfg: unknown, deps: ActionDeps, where: string, T: TemplateOptions): CompiledAction {
  const field = `${where}.amqp`;
  const c = fieldsOf(cfg, field, ['url', 'exchange', 'routingKey', 'headers', 'persistent']);
  const url = urlOf(stringOf(c, 'url', field, { optional: true }), deps.external.config.amqpUrl, `${field}.url`, ['amqp:', 'amqps:'], 'rules.amqp.url');
  const exchange = stringOf(c, 'exchange', field, { allowEmpty: true })!;
  if (!AMQP_EXCHANGE.test(exchange)) throw rulesErrors.invalid(`${field}.exchange ${JSON.stringify(exchange)} must be at most 255 letters, digits, '-', '_', '.' or ':' ('' is the default exchange)`);
  const routingKeyText = stringOf(c, 'routingKey', field, { allowEmpty: true })!;
  const routingKey = template(routingKeyText, `${field}.routingKey`, T);
  const headers = headersOf(c.headers, `${field}.headers`, T, AMQP_HEADER);
  if (c.persistent !== undefined && c.persistent !== null && typeof c.persistent !== 'boolean') throw rulesErrors.invalid(`${field}.persistent must be true or false`);
  const persistent = c.persistent === true;
  return {
    kind: 'amqp',
    failedAction: 'AmqpAction',
    failedResource: `${exchange}/${routingKeyText}`,
    run: async ({ output, doc, ctx }) => {
      const key = routingKey(doc, ctx);
      if (Buffer.byteLength(key) > 255) throw new Error(`AMQP routing key is longer than 255 bytes`);
      await deps.external.amqp(url).publish({
        exchange,
        routingKey: key,
        content: outputBytes(output),
        headers: Object.fromEntries(renderHeaders(headers, doc, ctx)),
        persistent,
        contentType: Buffer.isBuffer(output) ? 'application/octet-stream' : 'application/json',
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// postgres

/** Identifiers Thingport accepts (and then double-quotes): no quoting tricks possible. */
const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function quoteIdentifier(name: string, field: string): string {
  if (!SQL_IDENTIFIER.test(name)) throw rulesErrors.invalid(`${field} ${JSON.stringify(name)} must be 1 to 63 letters, digits or _ (not starting with a digit)`);
  return `"${name}"`;
}

/** A query parameter for a value of the SQL output: objects and arrays as JSON text, bytes as bytea. */
function sqlParam(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'object') return toJsonText(v);
  return v;
}

function pathGetter(path: string, field: string): (output: unknown) => unknown {
  if (path === '*') return (output) => output;
  const parts = path.split('.');
  if (parts.some((p) => p === '')) throw rulesErrors.invalid(`${field} ${JSON.stringify(path)} must be a path into the SQL output (a.b.c, or * for all of it) or a substitution template`);
  return (output) => {
    let v: unknown = output;
    for (const p of parts) {
      if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  };
}

export function compilePostgresAction(cfg: unknown, deps: ActionDeps, where: string, T: TemplateOptions): CompiledAction {
  const field = `${where}.postgres`;
  const c = fieldsOf(cfg, field, ['url', 'table', 'columns']);
  const url = urlOf(stringOf(c, 'url', field, { optional: true }), deps.external.config.postgresUrl, `${field}.url`, ['postgres:', 'postgresql:'], 'rules.postgres.url');
  const tableText = stringOf(c, 'table', field)!;
  const tableParts = tableText.split('.');
  if (tableParts.length > 2) throw rulesErrors.invalid(`${field}.table ${JSON.stringify(tableText)} must be table or schema.table`);
  const table = tableParts.map((p) => quoteIdentifier(p, `${field}.table`)).join('.');
  let columns: string[];
  let values: ((output: unknown, doc: unknown, ctx: SqlContext) => unknown)[];
  if (c.columns === undefined || c.columns === null) {
    // Without columns: the whole output, as JSON, into a `payload` column (jsonb).
    columns = ['"payload"'];
    values = [(output) => toJsonText(Buffer.isBuffer(output) ? output.toString('base64') : output)];
  } else {
    if (typeof c.columns !== 'object' || Array.isArray(c.columns)) throw rulesErrors.invalid(`${field}.columns must be an object of column name -> template or output path`);
    const entries = Object.entries(c.columns as Record<string, unknown>);
    if (entries.length === 0) throw rulesErrors.invalid(`${field}.columns must name at least one column`);
    columns = [];
    values = [];
    for (const [name, spec] of entries) {
      const f = `${field}.columns.${name}`;
      columns.push(quoteIdentifier(name, `${field}.columns`));
      if (typeof spec !== 'string' || spec === '') throw rulesErrors.invalid(`${f} must be a substitution template or a path into the SQL output`);
      if (spec.includes('${')) {
        const t = template(spec, f, T);
        values.push((_output, doc, ctx) => t(doc, ctx));
      } else {
        const get = pathGetter(spec, f);
        values.push((output) => sqlParam(get(output)));
      }
    }
  }
  return {
    kind: 'postgres',
    failedAction: 'PostgresAction',
    failedResource: tableText,
    run: async ({ output, doc, ctx }) => {
      await deps.external.postgres(url).insert(
        table,
        columns,
        values.map((v) => v(output, doc, ctx)),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// kafka

/**
 * The producer properties AWS's Kafka action documents. Those Thingport cannot honour are refused
 * by name; the serializers are accepted and need nothing (the message is the output's bytes).
 */
const KAFKA_PROPERTIES = new Set([
  'bootstrap.servers', 'acks', 'compression.type', 'key.serializer', 'value.serializer', 'security.protocol',
  'ssl.truststore', 'ssl.truststore.password', 'ssl.keystore', 'ssl.keystore.password', 'ssl.key.password',
  'sasl.mechanism', 'sasl.plain.username', 'sasl.plain.password', 'sasl.scram.username', 'sasl.scram.password',
  'sasl.kerberos.keytab', 'sasl.kerberos.krb5.kdc', 'sasl.kerberos.krb5.realm', 'sasl.kerberos.service.name', 'sasl.kerberos.principal',
]);
const KAFKA_BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/;

interface KafkaSettings {
  conn: KafkaConnection;
  acks: number;
  gzip: boolean;
}

/** Reads AWS's clientProperties into a kafkajs connection (no templates: they configure the client). */
export function kafkaSettings(props: Record<string, string>, field: string): KafkaSettings {
  const f = (k: string): string => `${field}.${k}`;
  for (const [k, v] of Object.entries(props)) {
    if (!KAFKA_PROPERTIES.has(k)) throw rulesErrors.invalid(`${f(k)} is not a client property the kafka action accepts`);
    if (typeof v !== 'string') throw rulesErrors.invalid(`${f(k)} must be a string`);
    if (v.includes('${')) throw rulesErrors.invalid(`${f(k)} cannot use substitution templates in Thingport (get_secret is not supported: give the value itself)`);
    if (k.startsWith('sasl.kerberos.')) throw rulesErrors.invalid(`${f(k)}: Kerberos (GSSAPI) is not supported by Thingport`);
    if (k === 'ssl.keystore' || k === 'ssl.keystore.password' || k === 'ssl.key.password') throw rulesErrors.invalid(`${f(k)}: client certificates (ssl.keystore) are not supported by Thingport`);
  }
  const servers = props['bootstrap.servers'];
  if (servers === undefined || servers.trim() === '') throw rulesErrors.invalid(`${f('bootstrap.servers')} is required (host:port[,host:port...])`);
  const brokers = servers.split(',').map((s) => s.trim());
  for (const b of brokers) if (!KAFKA_BROKER.test(b)) throw rulesErrors.invalid(`${f('bootstrap.servers')}: ${JSON.stringify(b)} is not host:port`);

  const protocol = props['security.protocol'] ?? 'PLAINTEXT';
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol)) throw rulesErrors.invalid(`${f('security.protocol')} must be SSL, SASL_SSL, PLAINTEXT or SASL_PLAINTEXT`);
  let tls: KafkaConnection['tls'] = null;
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const store = props['ssl.truststore'];
    let ca: string | null = null;
    if (store !== undefined) {
      ca = store.includes('-----BEGIN') ? store : Buffer.from(store, 'base64').toString('utf8');
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw rulesErrors.invalid(`${f('ssl.truststore')} must be PEM CA certificates, or their base64 (JKS truststores are not supported by Thingport)`);
    }
    tls = { ca };
  }
  let sasl: KafkaConnection['sasl'] = null;
  const mechanism = props['sasl.mechanism'];
  if (protocol.startsWith('SASL_')) {
    if (mechanism === undefined) throw rulesErrors.invalid(`${f('sasl.mechanism')} is required with security.protocol ${protocol}`);
    const m = ({ PLAIN: 'plain', 'SCRAM-SHA-256': 'scram-sha-256', 'SCRAM-SHA-512': 'scram-sha-512' } as const)[mechanism as 'PLAIN'];
    if (m === undefined) throw rulesErrors.invalid(`${f('sasl.mechanism')} must be PLAIN, SCRAM-SHA-512 or SCRAM-SHA-256 (GSSAPI is not supported by Thingport)`);
    const kind = m === 'plain' ? 'plain' : 'scram';
    const username = props[`sasl.${kind}.username`];
    const password = props[`sasl.${kind}.password`];
    if (username === undefined || password === undefined) throw rulesErrors.invalid(`${f(`sasl.${kind}.username`)} and sasl.${kind}.password are required with sasl.mechanism ${mechanism}`);
    sasl = { mechanism: m, username, password };
  } else if (mechanism !== undefined) {
    throw rulesErrors.invalid(`${f('sasl.mechanism')} needs security.protocol SASL_SSL or SASL_PLAINTEXT`);
  }

  const acksText = props.acks ?? 'all';
  const acks = ({ all: -1, '-1': -1, '0': 0, '1': 1 } as Record<string, number>)[acksText];
  if (acks === undefined) throw rulesErrors.invalid(`${f('acks')} must be all, -1, 0 or 1`);
  const compression = props['compression.type'] ?? 'none';
  if (compression !== 'none' && compression !== 'gzip') throw rulesErrors.invalid(`${f('compression.type')} must be none or gzip (${compression} is not supported by Thingport)`);
  return { conn: { brokers, tls, sasl }, acks, gzip: compression === 'gzip' };
}

export function compileKafkaAction(c: NonNullable<AwsRuleAction['kafka']>, deps: ActionDeps, where: string, T: TemplateOptions): CompiledAction {
  const field = `${where}.kafka`;
  const o = fieldsOf(c, field, ['destinationArn', 'topic', 'key', 'partition', 'clientProperties', 'headers']);
  // The VPC topic rule destination AWS needs to reach a cluster has no meaning here; required by the model, not checked.
  stringOf(o, 'destinationArn', field);
  const topicText = stringOf(o, 'topic', field)!;
  const topic = template(topicText, `${field}.topic`, T);
  const keyText = stringOf(o, 'key', field, { optional: true, allowEmpty: true });
  const key = keyText === undefined ? null : template(keyText, `${field}.key`, T);
  const partitionText = stringOf(o, 'partition', field, { optional: true, allowEmpty: true });
  const partition = partitionText === undefined ? null : template(partitionText, `${field}.partition`, T);
  if (typeof o.clientProperties !== 'object' || o.clientProperties === null || Array.isArray(o.clientProperties)) throw rulesErrors.invalid(`${field}.clientProperties is required (an object of strings)`);
  const settings = kafkaSettings(o.clientProperties as Record<string, string>, `${field}.clientProperties`);
  const headers = headersOf(o.headers, `${field}.headers`, T, /^.{1,}$/s);
  return {
    kind: 'kafka',
    failedAction: 'KafkaAction',
    failedResource: topicText,
    run: async ({ output, doc, ctx }) => {
      const t = topic(doc, ctx);
      if (t === '') throw new Error('the Kafka topic is empty');
      const k = key === null ? '' : key(doc, ctx);
      const pText = partition === null ? '' : partition(doc, ctx);
      const p = pText === '' ? null : Number(pText);
      if (p !== null && (!Number.isInteger(p) || p < 0)) throw new Error(`Kafka partition '${pText}' is not a partition number`);
      await deps.external.kafka(settings.conn).send({
        topic: t,
        key: k === '' ? null : k,
        value: outputBytes(output),
        partition: p,
        headers: Object.fromEntries(renderHeaders(headers, doc, ctx)),
        acks: settings.acks,
        gzip: settings.gzip,
      });
    },
  };
}
