/** What evaluation knows about the message besides its payload (the context functions read it). */
import type { MessageProperties } from '../../core/index.js';

export interface SqlContext {
  topic: string;
  payload: Buffer;
  clientId: string | null;
  principal: string | null;
  sourceIp: string | null;
  /** traceid(): one per message and rule evaluation. */
  traceId: string;
  /** timestamp(): when the rules engine received the message, ms since the epoch. */
  timestamp: number;
  accountId: string;
  sqlVersion: string;
  properties: MessageProperties | null;
}

/** Lookup functions mapped onto Thingport (each optional: without it the function is a SqlParseException). */
export interface SqlLookups {
  /** get_dynamodb(table, keyName, keyValue[, sortKeyName, sortKeyValue][, roleArn]) on Thingport tables. */
  getDynamoDb?: (table: string, keyName: string, keyValue: unknown, sortName?: string, sortValue?: unknown) => unknown;
  /** get_thing_shadow(thingName[, shadowName], roleArn): the shadow document, or undefined. */
  getThingShadow?: (thingName: string, shadowName: string | null) => unknown;
  /** get_registry_data(thingName, roleArn): the thing's attributes and type, or undefined. */
  getRegistryData?: (thingName: string) => unknown;
}

export interface SqlFunction {
  min: number;
  max: number;
  fn: (args: unknown[], ctx: SqlContext) => unknown;
  /** Evaluated per message even when every argument is a literal (context, random, time). */
  volatile?: boolean;
}
