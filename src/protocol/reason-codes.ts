/**
 * MQTT 5 reason codes (spec section 2.4) and the MQTT 3.1.1 CONNACK return codes they map to.
 * `as const` object + union type instead of an enum (STYLE.md #11).
 */
export const RC = {
  SUCCESS: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  USE_ANOTHER_SERVER: 0x9c,
  SERVER_MOVED: 0x9d,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  MAXIMUM_CONNECT_TIME: 0xa0,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const;
export type ReasonCode = (typeof RC)[keyof typeof RC];

/** Human-readable text for reason strings (sent only when the client asked for problem information). */
const REASON_TEXT: Record<number, string> = {
  0x80: 'Unspecified error',
  0x81: 'Malformed packet',
  0x82: 'Protocol error',
  0x83: 'Implementation specific error',
  0x84: 'Unsupported protocol version',
  0x85: 'Client identifier not valid',
  0x86: 'Bad user name or password',
  0x87: 'Not authorized',
  0x88: 'Server unavailable',
  0x89: 'Server busy',
  0x8b: 'Server shutting down',
  0x8c: 'Bad authentication method',
  0x8d: 'Keep alive timeout',
  0x8e: 'Session taken over',
  0x8f: 'Topic filter invalid',
  0x90: 'Topic name invalid',
  0x93: 'Receive maximum exceeded',
  0x94: 'Topic alias invalid',
  0x95: 'Packet too large',
  0x97: 'Quota exceeded',
  0x98: 'Administrative action',
  0x99: 'Payload format invalid',
  0x9a: 'Retain not supported',
  0x9b: 'QoS not supported',
  0x9e: 'Shared subscriptions not supported',
  0xa1: 'Subscription identifiers not supported',
  0xa2: 'Wildcard subscriptions not supported',
};

export function reasonText(code: number): string {
  return REASON_TEXT[code] ?? `Reason 0x${code.toString(16)}`;
}

/**
 * MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). MQTT 5 connect reason codes are mapped to the
 * nearest 3.1.1 code; anything without one is "server unavailable".
 */
export function connackReturnCodeV3(code: number): number {
  switch (code) {
    case RC.SUCCESS:
      return 0;
    case RC.UNSUPPORTED_PROTOCOL_VERSION:
      return 1;
    case RC.CLIENT_IDENTIFIER_NOT_VALID:
      return 2;
    case RC.BAD_USERNAME_OR_PASSWORD:
    case RC.BAD_AUTHENTICATION_METHOD:
      return 4;
    case RC.NOT_AUTHORIZED:
    case RC.BANNED:
      return 5;
    default:
      return 3;
  }
}
