/**
 * A trie of topic filters, one level per node. Each node holds the values subscribed at exactly that
 * filter, keyed (client id, share group, handler id) so one key holds at most one value per filter.
 * Matching a topic walks only the branches that can match: the literal level, `+` and `#`.
 */

/**
 * One level of the trie. In a large fleet almost every filter has one subscriber (a device's own
 * topic), so a node holds its only value inline (`key`, `value`) and creates the `values` Map only
 * for a second one; when values are removed down to one it goes back inline. A Map with its table
 * costs about 180 bytes, several times the node itself. Children are pruned as soon as they hold
 * nothing, and a node whose last child goes drops its `children` Map.
 */
class TrieNode<V> {
  children: Map<string, TrieNode<V>> | null = null;
  /** Key of the node's only value; null when it holds none, or several (then in `values`). */
  key: string | null = null;
  value: V | undefined = undefined;
  /** Two or more values by key, in the order they were added; otherwise null. */
  values: Map<string, V> | null = null;
}

function getValue<V>(node: TrieNode<V>, key: string): V | undefined {
  if (node.values !== null) return node.values.get(key);
  return node.key === key ? node.value : undefined;
}

/** Sets the value for `key`; returns the one it replaced. */
function setValue<V>(node: TrieNode<V>, key: string, value: V): V | undefined {
  if (node.values !== null) {
    const prev = node.values.get(key);
    node.values.set(key, value);
    return prev;
  }
  if (node.key === null) {
    node.key = key;
    node.value = value;
    return undefined;
  }
  if (node.key === key) {
    const prev = node.value;
    node.value = value;
    return prev;
  }
  // A second value: both move to a Map, the first one first (match order is insertion order).
  node.values = new Map([
    [node.key, node.value as V],
    [key, value],
  ]);
  node.key = null;
  node.value = undefined;
  return undefined;
}

/** Deletes the value for `key`; returns it. The last value left in `values` goes back inline. */
function deleteValue<V>(node: TrieNode<V>, key: string): V | undefined {
  const values = node.values;
  if (values !== null) {
    const prev = values.get(key);
    if (prev === undefined) return undefined;
    values.delete(key);
    if (values.size === 1) {
      for (const [k, v] of values) {
        node.key = k;
        node.value = v;
      }
      node.values = null;
    }
    return prev;
  }
  if (node.key !== key) return undefined;
  const prev = node.value;
  node.key = null;
  node.value = undefined;
  return prev;
}

function visitValues<V>(node: TrieNode<V>, visit: (value: V, key: string) => void): void {
  if (node.key !== null) visit(node.value as V, node.key);
  else if (node.values !== null) node.values.forEach(visit);
}

function isEmpty<V>(node: TrieNode<V>): boolean {
  return node.key === null && node.values === null && node.children === null;
}

/** Topics whose matches are remembered at most; past it the memory is dropped and rebuilt. */
const MATCH_CACHE_MAX = 16_384;
/** Matches done without the cache after it proved useless (mostly misses). */
const MATCH_CACHE_BYPASS = 1_000_000;
/**
 * The cached result of every topic that matches nothing (in the in-process trie, most topics).
 * Not frozen: a frozen array has an elements kind of its own, which `match` would then also see.
 */
const NO_MATCH: readonly unknown[] = [];

export class TopicTrie<V> {
  private readonly root = new TrieNode<V>();
  private count = 0;
  /**
   * What `match` found per topic, flat (`value, key, value, key, ...`): devices publish on the same
   * topics over and over, and a hit costs one lookup instead of a walk with lookups per level. Any
   * add or remove clears it, so it never returns a stale match. A fleet whose publishing topics do
   * not recur within the cache's size (or whose subscriptions churn faster than topics recur) gets
   * mostly misses: after a window of `cacheMax` misses with fewer hits than misses, matching walks
   * the trie directly for a while, so the cache costs such a fleet next to nothing.
   */
  private readonly matchCache = new Map<string, readonly unknown[]>();
  private readonly cacheMax: number;
  private hits = 0;
  private misses = 0;
  private bypass = 0;
  private collecting: unknown[] | null = null;
  private readonly collect = (value: V, key: string): void => {
    this.collecting!.push(value, key);
  };

  constructor(opts: { matchCacheSize?: number } = {}) {
    this.cacheMax = opts.matchCacheSize ?? MATCH_CACHE_MAX;
  }

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the value for `key` at `filter`; returns the previous value. */
  add(filter: string, key: string, value: V): V | undefined {
    let node = this.root;
    for (const level of filter.split('/')) {
      if (node.children === null) node.children = new Map();
      let next = node.children.get(level);
      if (next === undefined) {
        next = new TrieNode<V>();
        node.children.set(level, next);
      }
      node = next;
    }
    if (this.matchCache.size > 0) this.matchCache.clear();
    const prev = setValue(node, key, value);
    if (prev === undefined) this.count++;
    return prev;
  }

  get(filter: string, key: string): V | undefined {
    let node: TrieNode<V> | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return getValue(node, key);
  }

  /** Removes the value for `key` at `filter`; prunes empty branches. Returns the removed value. */
  remove(filter: string, key: string): V | undefined {
    const levels = filter.split('/');
    // The nodes along the filter, root first: nodes keep no parent pointer (8 bytes each).
    const path: TrieNode<V>[] = [this.root];
    for (const level of levels) {
      const next = path[path.length - 1].children?.get(level);
      if (next === undefined) return undefined;
      path.push(next);
    }
    const prev = deleteValue(path[levels.length], key);
    if (prev === undefined) return undefined;
    this.count--;
    if (this.matchCache.size > 0) this.matchCache.clear();
    for (let i = levels.length; i > 0 && isEmpty(path[i]); i--) {
      const parent = path[i - 1];
      parent.children!.delete(levels[i - 1]);
      if (parent.children!.size === 0) parent.children = null;
    }
    return prev;
  }

  /**
   * Calls `visit(value, key)` for every value whose filter matches `topic`.
   * Wildcards at the first level never match a topic starting with `$` [MQTT-4.7.2-1].
   */
  match(topic: string, visit: (value: V, key: string) => void): void {
    if (this.bypass > 0) {
      this.bypass--;
      this.matchUncached(topic, visit);
      return;
    }
    let found = this.matchCache.get(topic);
    if (found === undefined) {
      const collected: unknown[] = [];
      this.collecting = collected;
      this.walk(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 36, this.collect);
      this.collecting = null;
      found = collected.length === 0 ? NO_MATCH : collected;
      if (++this.misses >= this.cacheMax) {
        // A window's worth of misses: keep caching only if it also saw more hits than that.
        if (this.hits < this.misses) this.bypass = MATCH_CACHE_BYPASS;
        this.hits = 0;
        this.misses = 0;
        this.matchCache.clear();
      } else {
        if (this.matchCache.size >= this.cacheMax) this.matchCache.clear();
        this.matchCache.set(topic, found);
      }
    } else this.hits++;
    // A snapshot: a visitor that subscribes or unsubscribes does not change this walk.
    for (let i = 0; i < found.length; i += 2) visit(found[i] as V, found[i + 1] as string);
  }

  /**
   * `match` without the cache, for topics that will hardly recur: they would only take the place of
   * topics that do. The visitor is called during the walk.
   */
  matchUncached(topic: string, visit: (value: V, key: string) => void): void {
    this.walk(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 36, visit);
  }

  private walk(node: TrieNode<V>, levels: string[], depth: number, dollar: boolean, visit: (value: V, key: string) => void): void {
    const children = node.children;
    if (children === null) return;
    const wild = !(dollar && depth === 0);
    if (wild) {
      // `#` matches this level and everything below, including the parent level itself [MQTT-4.7.1-2].
      const hash = children.get('#');
      if (hash !== undefined) visitValues(hash, visit);
    }
    if (depth === levels.length) return;
    const literal = children.get(levels[depth]);
    if (literal !== undefined) this.visitOrDescend(literal, levels, depth, dollar, visit);
    if (wild) {
      const plus = children.get('+');
      if (plus !== undefined) this.visitOrDescend(plus, levels, depth, dollar, visit);
    }
  }

  private visitOrDescend(node: TrieNode<V>, levels: string[], depth: number, dollar: boolean, visit: (value: V, key: string) => void): void {
    if (depth === levels.length - 1) {
      visitValues(node, visit);
      // "a/#" also matches "a": handled by walk() at the next depth via the `#` child.
      const children = node.children;
      if (children !== null) {
        const hash = children.get('#');
        if (hash !== undefined) visitValues(hash, visit);
      }
      return;
    }
    this.walk(node, levels, depth + 1, dollar, visit);
  }

  /** Every (filter, key, value) — for persistence and admin listings, not the hot path. */
  *entries(): Generator<[string, string, V]> {
    const stack: [TrieNode<V>, string][] = [[this.root, '']];
    while (stack.length > 0) {
      const [node, path] = stack.pop()!;
      if (node.key !== null) yield [path, node.key, node.value as V];
      else if (node.values !== null) for (const [k, v] of node.values) yield [path, k, v];
      if (node.children !== null)
        for (const [level, child] of node.children) stack.push([child, node === this.root ? level : `${path}/${level}`]);
    }
  }
}
