/**
 * Topic names and filters (MQTT section 4.7) plus AWS IoT Core's limits on them.
 * Validators return a reason code (0 = valid) instead of throwing: they run on the hot path (STYLE.md #7).
 */
import { RC } from './reason-codes.js';

export interface TopicLimits {
  maxTopicBytes: number;
  maxTopicSlashes: number;
}

/** `$aws/rules/{ruleName}/` does not count towards AWS's slash limit (Basic Ingest). */
const BASIC_INGEST_PREFIX = '$aws/rules/';

function slashesCounted(topic: string): number {
  let start = 0;
  if (topic.startsWith(BASIC_INGEST_PREFIX)) {
    const end = topic.indexOf('/', BASIC_INGEST_PREFIX.length);
    if (end === -1) return 0;
    start = end + 1;
  }
  let n = 0;
  for (let i = start; i < topic.length; i++) if (topic.charCodeAt(i) === 47) n++;
  return n;
}

function hasNul(s: string): boolean {
  return s.indexOf('\u0000') !== -1;
}

/**
 * Checks a PUBLISH topic name. Wildcards are not allowed [MQTT-3.3.2-2]; at least one character [MQTT-4.7.3-1];
 * no U+0000 [MQTT-4.7.3-2]. Length and depth limits are AWS IoT Core's (configurable).
 */
export function validateTopicName(topic: string, limits: TopicLimits): number {
  if (topic.length === 0) return RC.TOPIC_NAME_INVALID;
  if (hasNul(topic)) return RC.MALFORMED_PACKET;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 43 /* + */ || c === 35 /* # */) return RC.TOPIC_NAME_INVALID;
  }
  if (Buffer.byteLength(topic) > limits.maxTopicBytes) return RC.TOPIC_NAME_INVALID;
  if (slashesCounted(topic) > limits.maxTopicSlashes) return RC.TOPIC_NAME_INVALID;
  return 0;
}

/**
 * Checks the syntax of a topic filter [MQTT-4.7.1-1..3]: `#` only last and alone in its level, `+` alone in its level.
 * A syntax error is a malformed packet; a well-formed filter over the configured limits is "topic filter invalid".
 */
export function validateTopicFilter(filter: string, limits: TopicLimits): number {
  if (filter.length === 0) return RC.MALFORMED_PACKET; // [MQTT-4.7.3-1]
  if (hasNul(filter)) return RC.MALFORMED_PACKET;
  const n = filter.length;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 35 /* # */) {
      if (i !== n - 1) return RC.MALFORMED_PACKET; // [MQTT-4.7.1-2] last character
      if (i > 0 && filter.charCodeAt(i - 1) !== 47) return RC.MALFORMED_PACKET;
    } else if (c === 43 /* + */) {
      // [MQTT-4.7.1-3] occupies an entire level
      if (i > 0 && filter.charCodeAt(i - 1) !== 47) return RC.MALFORMED_PACKET;
      if (i < n - 1 && filter.charCodeAt(i + 1) !== 47) return RC.MALFORMED_PACKET;
    }
  }
  if (Buffer.byteLength(filter) > limits.maxTopicBytes) return RC.TOPIC_FILTER_INVALID;
  if (slashesCounted(filter) > limits.maxTopicSlashes) return RC.TOPIC_FILTER_INVALID;
  return 0;
}

export function hasWildcard(filter: string): boolean {
  return filter.indexOf('+') !== -1 || filter.indexOf('#') !== -1;
}

export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Splits `$share/{ShareName}/{filter}` [MQTT-4.8.2-1/2]. Returns null for a non-shared filter,
 * and `undefined` for a malformed shared one (empty or wildcard share name, missing filter).
 */
export function parseSharedFilter(filter: string): SharedFilter | null | undefined {
  if (!filter.startsWith('$share/')) return null;
  const slash = filter.indexOf('/', 7);
  if (slash === -1) return undefined;
  const group = filter.slice(7, slash);
  const rest = filter.slice(slash + 1);
  if (group.length === 0 || group.includes('+') || group.includes('#') || rest.length === 0) return undefined;
  return { group, filter: rest };
}

/**
 * True when `topic` matches `filter`. A filter starting with a wildcard never matches a `$` topic [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 36 /* $ */) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 43 || f0 === 35) return false;
  }
  let fi = 0;
  let ti = 0;
  const fl = filter.length;
  const tl = topic.length;
  while (fi < fl) {
    const fc = filter.charCodeAt(fi);
    if (fc === 35 /* # */) return true; // matches parent level too (a/# matches a)
    if (fc === 43 /* + */) {
      while (ti < tl && topic.charCodeAt(ti) !== 47) ti++;
      fi++;
    } else {
      if (ti >= tl) {
        // topic ended: only "/#" may remain
        return fi + 1 < fl && fc === 47 && filter.charCodeAt(fi + 1) === 35 && fi + 2 === fl;
      }
      if (fc !== topic.charCodeAt(ti)) return false;
      fi++;
      ti++;
    }
  }
  return ti === tl;
}
