/**
 * core: shared contracts every other folder may import — for now the configuration
 * schema and its loader.
 */
export { loadConfig } from './config.js';
export type { LoadConfigInput, LoadConfigResult } from './config.js';
export { authorizersConfigSchema, configSchema, mqttConfigSchema, rulesConfigSchema } from './config-schema.js';
export type { AuthorizersConfig, ThingportConfig, MqttConfig, RulesConfig } from './config-schema.js';
export { DROP_REASONS, createBrokerStats } from './broker-stats.js';
export type { BrokerStats, DropReason, StoreCounts } from './broker-stats.js';
export { arn, parseArn } from './arn.js';
export type { Arn } from './arn.js';
export { openDatabase, migrate } from './sqlite.js';
export type { SqliteDatabase, SqliteOptions } from './sqlite.js';
export { EventBus } from './bus.js';
export type { BusEvents, BusEventName } from './bus.js';
export type {
  AuthenticateRequest,
  AuthenticateResult,
  BrokerHooks,
  ClientDescription,
  ClientInfo,
  Message,
  MessageHandler,
  MessageProperties,
  Messaging,
  PublishInput,
  QoS,
  RetainedMessageInfo,
  TransportKind,
} from './messaging.js';
