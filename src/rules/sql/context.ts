/** What evaluation knows about the message besides its payload (the context functions read it). */
import type { MessageProperties } from '../../core/index.js';
import type { ProtoDescriptors } from './proto.js';

export interface SqlContext {
  topic: string;
  payload: Buffer;
  clientId: string | null;
  principal: string | null;
  sourceIp: string | null;
  /** traceid(): the message's trace id (one per message, the same for every rule it reaches). */
  traceId: string;
  /** timestamp(): when the rules engine received the message, ms since the epoch. */
  timestamp: number;
  accountId: string;
  properties: MessageProperties | null;
  /** Set while a rule that calls aws_lambda() is evaluated in passes (see compile.ts evaluateAsync). */
  calls?: ExternalCalls;
}

/** One message's aws_lambda() calls across evaluation passes. */
export interface ExternalCalls {
  /** Results of finished calls by call key (function ARN and the JSON of its input). */
  results: Map<string, unknown>;
  /** Calls this pass needed and found no result for, in evaluation order. */
  wanted: { key: string; functionArn: string; event: unknown }[];
  /** newuuid() and rand() values in evaluation order, so that every pass sees the same ones. */
  stable: unknown[];
  next: number;
}

/** aws_lambda(): Thingport's local functions (rules.functions). */
export interface SqlFunctionsPort {
  /** Whether the function ARN (or name) is configured. */
  has(functionArn: string): boolean;
  /** Runs the function with the event; rejects on failure or timeout. */
  invoke(functionArn: string, event: unknown): Promise<unknown>;
}

/** A configured secret (rules.secrets): a SecretString, or a JSON SecretString given as key/value pairs. */
export type SecretValue = string | Readonly<Record<string, string>>;

/** Lookup functions mapped onto Thingport (each optional: without it the function is a SqlParseException). */
export interface SqlLookups {
  /** get_dynamodb(table, keyName, keyValue[, sortKeyName, sortKeyValue][, roleArn]) on Thingport tables. */
  getDynamoDb?: (table: string, keyName: string, keyValue: unknown, sortName?: string, sortValue?: unknown) => unknown;
  /** get_thing_shadow(thingName[, shadowName], roleArn): the shadow document, or undefined. */
  getThingShadow?: (thingName: string, shadowName: string | null) => unknown;
  /** get_registry_data(thingName, roleArn): the thing's attributes and type, or undefined. */
  getRegistryData?: (thingName: string) => unknown;
  /** aws_lambda(functionArn, inputJson): without it aws_lambda is a SqlParseException. */
  functions?: SqlFunctionsPort;
  /** get_secret(secretId, ...): the secret by id or ARN, or undefined. Only substitution templates may call it. */
  getSecret?: (secretId: string) => SecretValue | undefined;
  /** decode(value, 'proto', ...): FileDescriptorSets in the object store; without it decode proto is a SqlParseException. */
  protoDescriptors?: ProtoDescriptors;
}

export interface SqlFunction {
  min: number;
  max: number;
  fn: (args: unknown[], ctx: SqlContext) => unknown;
  /** Evaluated per message even when every argument is a literal (context, random, time). */
  volatile?: boolean;
  /**
   * The result type when numeric (functions reference): `decimal` — always a Decimal ("Decimal
   * with double precision": sqrt, power, sin...); `decimalIfArg` — a Decimal unless every argument
   * is an Int (abs, mod...). Untagged functions return Ints for whole results.
   */
  returns?: 'decimal' | 'decimalIfArg';
}
