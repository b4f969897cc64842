/**
 * The configuration schema: every setting, its default and its bounds.
 * The loader (config.ts) merges flags > THINGPORT_* env > thingport.yaml > these defaults,
 * validates once at start-up and freezes the result; modules receive their slice.
 */
import { z } from 'zod';

/** A listener port: 0 picks a free port; `null` (or "off"/"false" in flags/env/yaml) disables it. */
const port = z.union([z.number().int().min(0).max(65535), z.null()]);

export const mqttConfigSchema = z.object({
  /** Admit clients without a certificate or credentials from any address. Anonymous clients are not subject to policies. */
  allowAnonymous: z.boolean().default(false),
  /**
   * Admit anonymous clients connecting from loopback (a development convenience: `mosquitto_pub`
   * on the same machine just works). Turn off to require certificates everywhere.
   */
  anonymousLoopback: z.boolean().default(true),
  /** Highest QoS granted; MQTT 5 clients see it as Maximum QoS in CONNACK. AWS IoT Core: 1. */
  maxQos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(2),
  /** Largest PUBLISH payload accepted (AWS IoT Core: 128 KB). */
  maxPayloadBytes: z.number().int().min(1).max(268_435_455).default(131_072),
  /** Largest packet accepted (advertised as Maximum Packet Size). Payload limit plus room for topic and properties. */
  maxPacketBytes: z.number().int().min(64).max(268_435_455).default(131_072 + 8_192),
  /** Longest topic name or filter in bytes (AWS: 256). */
  maxTopicBytes: z.number().int().min(1).max(65_535).default(256),
  /** Most `/` in a topic (AWS: 7), not counting a `$aws/rules/{rule}/` prefix. */
  maxTopicSlashes: z.number().int().min(0).max(1_000).default(7),
  /** Most subscriptions one connection may hold (AWS: 50). */
  maxSubscriptionsPerConnection: z.number().int().min(1).max(100_000).default(50),
  /** Most filters in one SUBSCRIBE packet (AWS: 8). */
  maxFiltersPerSubscribe: z.number().int().min(1).max(10_000).default(8),
  /** Longest client id in bytes (AWS: 128). */
  maxClientIdBytes: z.number().int().min(23).max(65_535).default(128),
  /** Receive Maximum we advertise: QoS 1/2 publishes a client may have unacknowledged towards us. */
  receiveMaximum: z.number().int().min(1).max(65_535).default(100),
  /** Cap on our own unacknowledged QoS 1/2 deliveries per client (also bounded by the client's Receive Maximum). */
  maxInflight: z.number().int().min(1).max(65_535).default(100),
  /** QoS 1/2 messages queued per session beyond the in-flight window (offline or slow); overflow is dropped and counted. */
  maxQueuedMessages: z.number().int().min(0).max(10_000_000).default(1_000),
  /**
   * When a receiver falls behind (socket backlog, or its queue half full), stop reading from the
   * publisher feeding it until it catches up (at most 5 s at a time). Off: only the bounds act
   * (drop and count).
   */
  publisherBackpressure: z.boolean().default(true),
  /** Topic aliases a client may use towards us (AWS: 8). 0 disables. */
  topicAliasMaximum: z.number().int().min(0).max(65_535).default(8),
  /** Longest keep-alive allowed; a longer or zero request gets Server Keep Alive (MQTT 5) of this value. AWS: 1200 s. */
  maxKeepAliveSeconds: z.number().int().min(1).max(65_535).default(1_200),
  /** Session expiry applied to MQTT 3.1.1 persistent sessions (clean session 0). AWS: 1 hour. */
  sessionExpirySeconds: z.number().int().min(0).max(4_294_967_295).default(3_600),
  /** Upper bound on a session expiry an MQTT 5 client may ask for (AWS: 7 days). */
  maxSessionExpirySeconds: z.number().int().min(0).max(4_294_967_295).default(604_800),
  retainAvailable: z.boolean().default(true),
  wildcardSubscriptions: z.boolean().default(true),
  sharedSubscriptions: z.boolean().default(true),
  /** MQTT 5 subscription identifiers; AWS IoT Core lacks them (off in the aws-strict profile). */
  subscriptionIdentifiers: z.boolean().default(true),
});

/**
 * Where a custom authorizer's "Lambda" runs: an HTTP(S) endpoint that receives AWS's authorizer
 * event as a JSON POST and answers AWS's response JSON, or a local ES module file (absolute, or
 * relative to the working directory) whose default export (or `handler`) is
 * `async (event) => response`, run in a worker thread.
 */
const authorizerFunctionSchema = z.union([
  z.object({ url: z.string().regex(/^https?:\/\/[^\s]+$/, 'url must be an http:// or https:// URL') }).strict(),
  z.object({ module: z.string().min(1) }).strict(),
]);

export const authorizersConfigSchema = z.object({
  /**
   * The functions custom authorizers call, by the authorizer's `authorizerFunctionArn` or by the
   * Lambda function name in it (`arn:aws:lambda:...:function:NAME`): `{ url }` or `{ module }`.
   * Only these run: the API cannot point an authorizer at an arbitrary file or URL.
   */
  functions: z.record(z.string().min(1), authorizerFunctionSchema).default({}),
  /** How long one invocation may take (AWS: a custom authorizer's Lambda times out after 5 s). */
  timeoutMs: z.number().int().min(1).max(60_000).default(5_000),
  /** Smallest disconnectAfterInSeconds / refreshAfterInSeconds a function may return (AWS: 300; lower it for development). */
  minTtlSeconds: z.number().int().min(1).max(86_400).default(300),
});


/** Where the `s3` action sends a bucket's objects: an S3-compatible endpoint (or AWS S3) and its credentials. */
const s3TargetFields = {
  /** An S3-compatible endpoint (MinIO, Ceph RGW, Garage, LocalStack...); absent: AWS S3 in `region`. */
  endpoint: z.string().regex(/^https?:\/\/[^\s]+$/, 'endpoint must be an http:// or https:// URL').optional(),
  /** Signing region (default: the server's `region`). */
  region: z.string().min(1).optional(),
  /** `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`; default true when `endpoint` is set. */
  forcePathStyle: z.boolean().optional(),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  sessionToken: z.string().min(1).optional(),
};

/** S3 bucket names: 3-63 of a-z, 0-9, `.` and `-`, starting and ending with a letter or digit. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const s3ConfigSchema = z
  .object({
    ...s3TargetFields,
    /** Per-bucket settings over the ones above; `local: true` keeps a bucket in `<dataDir>/s3`. */
    buckets: z.record(z.string().regex(S3_BUCKET, 'must be an S3 bucket name'), z.object({ ...s3TargetFields, local: z.boolean().optional() }).strict()).default({}),
    /** One PutObject, retries included. */
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** Attempts per PutObject (the SDK retries network errors, 5xx and throttling with backoff). */
    maxAttempts: z.number().int().min(1).max(10).default(3),
  })
  .superRefine((c, ctx) => {
    // Credentials are never looked up elsewhere (environment, ~/.aws, instance metadata). Top-level
    // keys send every bucket to the endpoint; a bucket entry sends that bucket.
    if ((c.accessKeyId === undefined) !== (c.secretAccessKey === undefined))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [c.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'], message: 'set both accessKeyId and secretAccessKey, or neither' });
    if (c.accessKeyId === undefined && c.endpoint !== undefined && Object.keys(c.buckets).length === 0)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['endpoint'], message: 'no bucket goes to this endpoint: set accessKeyId and secretAccessKey (for every bucket) or list buckets with their keys' });
    for (const [name, b] of Object.entries(c.buckets)) {
      if (b.local === true) {
        if (Object.keys(b).length > 1) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['buckets', name], message: 'a bucket with local: true takes no other setting' });
        continue;
      }
      if ((b.accessKeyId ?? c.accessKeyId) === undefined || (b.secretAccessKey ?? c.secretAccessKey) === undefined)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['buckets', name], message: 'needs accessKeyId and secretAccessKey (in the bucket entry or under rules.s3)' });
    }
  });

/** The rules engine's slice (src/rules reads it as RulesConfig). */
export const rulesConfigSchema = z.object({
  /** `lambda` action targets: function ARN, or the function name inside it, -> a local ES module. */
  functions: z.record(z.string().min(1), z.object({ module: z.string().min(1) }).strict()).default({}),
  /** One lambda invocation's limit (AWS Lambda's default timeout is 3 s). */
  functionTimeoutMs: z.number().int().min(1).max(900_000).default(3_000),
  /** Heap cap of a lambda worker, MB. */
  functionMemoryMb: z.number().int().min(16).max(4096).default(128),
  /** Local function workers running at once (lambda actions and aws_lambda() together); more calls wait. */
  functionConcurrency: z.number().int().min(1).max(256).default(8),
  /** Key attributes of local tables written by dynamoDBv2 (default: hash key `id`). */
  tables: z.record(z.string().min(1), z.object({ hashKey: z.string().min(1), rangeKey: z.string().min(1).optional() }).strict()).default({}),
  /** http action: attempts per message (first try included) and the backoff before the 2nd, doubling. */
  httpAttempts: z.number().int().min(1).max(10).default(3),
  httpBackoffMs: z.number().int().min(0).max(60_000).default(200),
  httpTimeoutMs: z.number().int().min(100).max(60_000).default(3_000),
  /**
   * Credentials that sign http actions with `auth.sigv4` (Thingport cannot assume the action's
   * roleArn). Without them such a rule is refused.
   */
  httpSigV4: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().min(1).optional() }).strict().optional(),
  /** s3 action: S3-compatible endpoints per bucket or for all buckets; without it, objects go to `<dataDir>/s3`. */
  s3: s3ConfigSchema.default({}),
  /** Messages waiting for evaluation; beyond it they are dropped and counted. */
  maxQueue: z.number().int().min(1).max(10_000_000).default(100_000),
  /**
   * Evaluate rules in a worker thread, off the broker's thread (rules whose SQL needs no lookup,
   * aws_lambda() or protobuf descriptors): `auto` when the machine has more than one core.
   */
  evaluationWorker: z.enum(['auto', 'on', 'off']).default('auto'),
  /** `nats` actions without `url` publish to this server. */
  nats: z.object({ url: z.string().min(1).default('nats://127.0.0.1:4222') }).strict().default({}),
  /** `amqp` actions without `url` publish to this broker (no credentials in the URL: guest/guest). */
  amqp: z.object({ url: z.string().min(1).default('amqp://127.0.0.1:5672') }).strict().default({}),
  /** `postgres` actions without `url` insert into this database; unset: such actions must name one. */
  postgres: z.object({ url: z.string().min(1).optional() }).strict().default({}),
  /** Bound on one kafka/nats/amqp/postgres publish or insert, connecting included: past it the action fails. */
  externalTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
  /**
   * Rules created (or replaced) at every start, by rule name: a TopicRulePayload each, which may use
   * Thingport's own actions. The rules engine validates them; an invalid one stops start-up.
   */
  definitions: z.record(z.string().regex(/^[a-zA-Z0-9_]{1,128}$/, 'rule names are 1-128 of a-z, A-Z, 0-9 and _'), z.record(z.string(), z.unknown())).default({}),
  /**
   * get_secret() in action substitution templates: secret name or Secrets Manager ARN -> the
   * SecretString (a string), or a JSON secret as key/value pairs.
   */
  secrets: z.record(z.string().min(1), z.union([z.string(), z.record(z.string(), z.string())])).default({}),
});

export const configSchema = z.object({
  /** Where the SQLite database, CA, keys and endpoints.json live. */
  dataDir: z.string().min(1).default('./data'),
  /** Bind address of every listener. */
  host: z.string().min(1).default('0.0.0.0'),
  mqttPort: port.default(1883),
  mqttsPort: port.default(8883),
  httpPort: port.default(8080),
  httpsPort: port.default(8443),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `aws-strict` also turns off what AWS IoT Core lacks (QoS 2, subscription identifiers). */
  profile: z.enum(['default', 'aws-strict']).default('default'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must look like us-east-1').default('us-east-1'),
  accountId: z.string().regex(/^\d{12}$/, 'must be 12 digits').default('000000000000'),
  /**
   * How hard the SQLite store syncs each commit: `normal` (WAL, survives a killed process, the
   * default) or `full` (also survives power loss, at the cost of an fsync per batch).
   */
  storageSync: z.enum(['normal', 'full']).default('normal'),
  /** Extra DNS names / IPs the server certificate should cover (localhost and loopback always are). */
  tlsHostnames: z.array(z.string().min(1)).default([]),
  mqtt: mqttConfigSchema.default({}),
  /** Custom authorizers (CreateAuthorizer): the functions they call and their limits. */
  authorizers: authorizersConfigSchema.default({}),
  /** Rules engine: local functions for `lambda` actions, local tables, HTTP action retries, queue bound. */
  rules: rulesConfigSchema.default({}),
});

export type ThingportConfig = z.infer<typeof configSchema>;
export type MqttConfig = z.infer<typeof mqttConfigSchema>;
export type AuthorizersConfig = z.infer<typeof authorizersConfigSchema>;
export type RulesConfig = z.infer<typeof rulesConfigSchema>;
export type S3Config = z.infer<typeof s3ConfigSchema>;
