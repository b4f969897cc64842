// The hook and client contracts live in core (capabilities depend on them, never on broker/).
export type { AuthenticateRequest, AuthenticateResult, BrokerHooks, ClientInfo, MessageHandler, TransportKind } from '../core/index.js';
