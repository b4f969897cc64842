/**
 * The messaging contract between the broker and the capabilities: the message shape, what the
 * broker tells hooks about a client, the hook points (declared once when the broker is created;
 * plain fields read on the hot path, an absent hook costs one null check), and the in-process API
 * services use to publish and subscribe. Capabilities depend on this, never on broker/.
 */
import type { PeerCertificate } from 'node:tls';

/** MQTT 5 PUBLISH properties that travel with the message (not Topic Alias or Subscription Identifier). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

export type QoS = 0 | 1 | 2;

/** One object per PUBLISH, shared by every subscriber queue that holds it (nothing receiver-specific). */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: MessageProperties | null;
  /** Absolute expiry time in ms since the epoch, 0 = never (from Message Expiry Interval). */
  expiresAt: number;
  /** Client id of the publisher, for No Local; null for messages the platform publishes. */
  origin: string | null;
  /**
   * PUBLISH headers encoded for this message, by variant (protocol, QoS, RETAIN), filled lazily by
   * the broker's connections so that fan-out encodes once. Null until first use; others ignore it.
   */
  headers: (Buffer | undefined)[] | null;
}

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
  /**
   * For MQTT over WebSocket: the upgrade request's path with query string (SigV4-presigned URLs
   * carry their signature there) and headers (custom authorizer tokens). Null for TCP and TLS.
   */
  httpRequest: { url: string; headers: Record<string, string | string[] | undefined> } | null;
  /** TLS Server Name Indication the client sent, if any. */
  serverName: string | null;
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

/** A message the platform itself publishes (rules, shadows, HTTP Publish...). */
export interface PublishInput {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  properties?: MessageProperties;
  /** Seconds (MQTT 5 Message Expiry Interval). */
  messageExpiryInterval?: number;
}

/** What GetConnection-style calls learn about a client. */
export interface ClientDescription {
  connected: boolean;
  info: ClientInfo | null;
  disconnectedAt: number | null;
  subscriptions: { filter: string; qos: QoS }[];
  /** Optional details for the data plane's GetConnection (reported when the broker fills them). */
  cleanSession?: boolean;
  /** Keep-alive the client asked for, seconds. */
  keepAliveSeconds?: number;
  /** When the current connection was accepted (ms since the epoch). */
  connectedAt?: number;
  /** MQTT 5 session expiry interval, seconds. */
  sessionExpirySeconds?: number;
  /** AWS DisconnectReason of the last disconnection (`CLIENT_INITIATED_DISCONNECT`, …). */
  disconnectReason?: string;
  /** Socket details (GetConnection includeSocketInformation). */
  socket?: { sourceIp: string; sourcePort: number; targetIp: string; targetPort: number };
}

/** A retained message as the data plane's GetRetainedMessage / ListRetainedMessages report it. */
export interface RetainedMessageInfo {
  topic: string;
  payload: Buffer;
  qos: QoS;
  properties: MessageProperties | null;
  /** When the broker stored it, ms since the epoch (messages restored after a restart: the restart time). */
  lastModifiedTime: number;
}

/** The in-process messaging API the broker offers services (main.ts passes the broker as this). */
export interface Messaging {
  /** Publishes as the platform; resolves once stored where durability requires. */
  publish(input: PublishInput): Promise<void>;
  /** In-process subscription; handlers run synchronously on the publish path. Returns unsubscribe. */
  subscribe(filter: string, handler: MessageHandler): () => void;
  /** Delivers to one connected client whether or not it subscribed; false when it is not connected. */
  deliverDirect(clientId: string, input: PublishInput, onSettled?: (delivered: boolean) => void): boolean;
  /** Server-side disconnect; false when the client is not connected. */
  disconnectClient(clientId: string, opts?: { cleanSession?: boolean; preventWill?: boolean; reason?: 'API_INITIATED_DISCONNECT' | 'CUSTOMAUTH_TTL_EXPIRATION' }): boolean;
  /** Disconnects every connected client for which `match` is true (e.g. a revoked certificate's). Returns how many. */
  disconnectWhere(match: (client: ClientInfo) => boolean): number;
  describeClient(clientId: string): ClientDescription | null;
  /** The retained message of exactly this topic, or null (data plane GetRetainedMessage). Optional for brokers that cannot tell. */
  getRetained?(topic: string): RetainedMessageInfo | null;
  /** Retained messages in topic order after `afterTopic` (exclusive; null = from the start), at most `limit` (ListRetainedMessages). */
  listRetained?(afterTopic: string | null, limit: number): RetainedMessageInfo[];
}
