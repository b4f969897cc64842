/** MQTT topic filter matching for a rule's FROM clause (`+` one level, `#` the rest). */

/** True when `topic` matches `filter`. A `$` topic is matched only by a filter that spells out its first level. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return !(i === 0 && topic.startsWith('$'));
    if (i >= t.length) return false;
    if (level === '+') {
      if (i === 0 && topic.startsWith('$')) return false;
      continue;
    }
    if (level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Why `filter` is not a valid topic filter, or null. */
export function topicFilterProblem(filter: string): string | null {
  if (filter.length === 0) return 'the topic filter is empty';
  if (Buffer.byteLength(filter) > 256) return 'the topic filter is longer than 256 bytes';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return "'#' must be a whole level and the last one";
    if (l.includes('+') && l !== '+') return "'+' must be a whole level";
  }
  return null;
}
