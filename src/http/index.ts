/** http: the HTTP server, metrics, and (later) AWS protocol plumbing. */
export { createHttpApp } from './server.js';
export type { HttpAppOptions } from './server.js';
export { createMetrics } from './metrics.js';
export type { Metrics, MetricsSources } from './metrics.js';
export type { RuleMetricsSnapshot } from './metrics-rules.js';

/**
 * Registers every operation of an AWS service model on a fastify app: SigV4 on every request (or,
 * where a service accepts them, a TLS client certificate on an unsigned request),
 * input read and validated per the model, handlers called with typed input, output and errors
 * written as AWS's rest-json protocol does. Operations without a handler answer 501.
 */
export { createAwsRestRouter } from './aws-rest.js';
export type { AccessKeyLookup, AwsHandler, AwsHandlers, AwsRequestContext, AwsRestRouterOptions, CertificateAuthenticator, CertificateCaller, OperationTypes } from './aws-rest.js';
/** The error handlers throw: `new AwsServiceError('ResourceNotFoundException', 'Thing lamp-1 does not exist')`. */
export { AwsServiceError } from './aws-errors.js';
/** `nextToken` / `maxResults` pagination with opaque tokens (bad token -> InvalidRequestException). */
export { paginate, encodePageToken, decodePageToken } from './paginate.js';
export type { Page, PageRequest } from './paginate.js';
/** SigV4 verification, also for other transports (MQTT over WebSocket signs its URL the same way). */
export { parseSigV4, verifySigV4, MAX_CLOCK_SKEW_MS } from './sigv4.js';
export type { SigV4Claim, SigV4Request, SigV4VerifyOptions } from './sigv4.js';
/** Reading and validating a model shape's JSON outside a router (e.g. a capability's own API that embeds AWS shapes). */
export { ShapeCodec, formatProblems } from './shape-codec.js';
export type { Problem } from './shape-codec.js';
/** SigV4 signing (Authorization header) for Thingport's own tools that call its API. */
export { signSigV4 } from './sigv4-sign.js';
export type { SignInput, SigningKey } from './sigv4-sign.js';
/** Service model types and the generated models of AWS IoT, the IoT data plane and the IoT Jobs data plane. */
export type { ServiceModel, OperationModel, ShapeModel, MemberModel } from './service-model.js';
export { iotModel } from './models/iot.gen.js';
export type { IotOperations } from './models/iot.gen.js';
export { iotDataModel } from './models/iot-data.gen.js';
export type { IotDataOperations } from './models/iot-data.gen.js';
export { iotJobsDataModel } from './models/iot-jobs-data.gen.js';
export type { IotJobsDataOperations } from './models/iot-jobs-data.gen.js';
