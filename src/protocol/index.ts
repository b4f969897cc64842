/**
 * protocol: MQTT without I/O — framing, reason codes, topic names and filters.
 * (Packet bodies are decoded and encoded with mqtt-packet.)
 */
export { Framer } from './framer.js';
export type { PacketSink } from './framer.js';
export { RC, connackReturnCodeV3, reasonText } from './reason-codes.js';
export type { ReasonCode } from './reason-codes.js';
export { hasWildcard, parseSharedFilter, topicMatches, validateTopicFilter, validateTopicName } from './topic.js';
export type { SharedFilter, TopicLimits } from './topic.js';
export { decodePublish, encodePublishHeader } from './publish-codec.js';
export type { DecodedPublish, PublishProperties } from './publish-codec.js';
