/**
 * Hook points other capabilities plug into, declared once when the broker is created (they are plain
 * fields read on the hot path; an absent hook costs one null check).
 */
import type { PeerCertificate } from 'node:tls';
import type { Message } from './message.js';

export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

/** What the broker knows about a connected client; passed to authorization hooks. */
export interface ClientInfo {
  readonly clientId: string;
  readonly username: string | null;
  readonly remoteAddress: string;
  readonly transport: TransportKind;
  readonly protocolVersion: number;
  /** Principal chosen by the authenticator (certificate id, access key, ...); null for anonymous. */
  readonly principal: string | null;
  /** Thing bound to the principal, when the identity capability knows one. */
  readonly thingName: string | null;
  /** Whatever the authenticator attached (policies, claims). */
  readonly authContext: unknown;
  /** Changes on every new (clean) session: AWS's lifecycle `sessionIdentifier`. */
  readonly sessionIdentifier: string;
}

export interface AuthenticateRequest {
  clientId: string;
  username: string | null;
  password: Buffer | null;
  remoteAddress: string;
  transport: TransportKind;
  protocolVersion: number;
  /** The client's TLS certificate when it presented one (mqtts/wss). */
  peerCertificate: PeerCertificate | null;
}

export type AuthenticateResult =
  | { ok: true; principal?: string | null; thingName?: string | null; authContext?: unknown }
  /** reasonCode: an MQTT 5 CONNACK reason code (0x86 bad credentials, 0x87 not authorized, 0x8A banned...). */
  | { ok: false; reasonCode: number; reason?: string };

export interface BrokerHooks {
  /** Decides whether a CONNECT is admitted. Without one, the default admits anonymous clients on loopback only. */
  authenticate?: (req: AuthenticateRequest) => AuthenticateResult | Promise<AuthenticateResult>;
  /** May this client publish this message (also applied to its will)? */
  authorizePublish?: (client: ClientInfo, message: Message) => boolean;
  /** May this client subscribe with this filter (as sent, `$share/...` included)? */
  authorizeSubscribe?: (client: ClientInfo, filter: string) => boolean;
  /** May this client receive this message? Checked per delivery. */
  authorizeReceive?: (client: ClientInfo, message: Message) => boolean;
  /** Sees every routed message, after delivery to subscribers (rules engine). `client` is null for platform messages. */
  onMessage?: ReadonlyArray<(message: Message, client: ClientInfo | null) => void>;
}

/** A function that receives messages of an in-process subscription. */
export type MessageHandler = (message: Message, client: ClientInfo | null) => void;
