/**
 * broker: the MQTT 3.1.1/5.0 message broker (IoT Core's message broker) with its listeners.
 * Capabilities never import this folder; main.ts wires them to the broker's hooks and in-process API.
 */
export { Broker } from './broker.js';
export type { BrokerOptions } from './broker.js';
export type { AuthenticateRequest, AuthenticateResult, BrokerHooks, ClientInfo, MessageHandler, TransportKind } from './hooks.js';
export type { Message, MessageProperties, QoS } from './message.js';
export { attachWebSocket, listenMqtt, listenMqtts } from './listeners.js';
export type { Listener, TlsListenerOptions } from './listeners.js';
export { SqliteBrokerStore } from './store-sqlite.js';
export { MemoryBrokerStore } from './store-memory.js';
export type { BrokerStore } from './store.js';
export { DROP_REASONS, createBrokerStats } from '../core/index.js';
export type { BrokerStats, DropReason } from '../core/index.js';
