import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTrie } from './topic-trie.js';
import { topicMatches } from '../protocol/index.js';

function matches(filters: string[], topic: string): string[] {
  const t = new TopicTrie<string>();
  for (const f of filters) t.add(f, f, f);
  const out: string[] = [];
  t.match(topic, (v) => out.push(v));
  return out.sort();
}

const CASES: [string, string, boolean][] = [
  ['a/b/c', 'a/b/c', true],
  ['a/+/c', 'a/b/c', true],
  ['a/+/c', 'a/b/d', false],
  ['a/#', 'a', true], // [MQTT-4.7.1-2] "sport/#" matches "sport"
  ['a/#', 'a/b/c', true],
  ['#', 'a/b', true],
  ['+', 'a', true],
  ['+', 'a/b', false],
  ['+/+', '/a', true],
  ['/+', '/a', true],
  ['+', '', true],
  ['a/+', 'a/', true],
  ['a/b', 'a/b/c', false],
  ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
  ['+/x', '$SYS/x', false], // [MQTT-4.7.2-1]
  ['$SYS/#', '$SYS/x', true],
  ['$aws/events/+/connected/#', '$aws/events/presence/connected/c1', true],
];

for (const [filter, topic, expected] of CASES) {
  test(`topic "${topic}" ${expected ? 'matches' : 'does not match'} filter "${filter}"`, () => {
    assert.equal(topicMatches(filter, topic), expected, 'topicMatches');
    assert.deepEqual(matches([filter], topic), expected ? [filter] : [], 'TopicTrie');
  });
}

test('trie visits each matching filter once and prunes on remove', () => {
  const t = new TopicTrie<number>();
  t.add('a/#', 'c1', 1);
  t.add('a/+', 'c1', 2);
  t.add('a/b', 'c2', 3);
  const seen: number[] = [];
  t.match('a/b', (v) => seen.push(v));
  assert.deepEqual(seen.sort(), [1, 2, 3]);
  assert.equal(t.size, 3);
  assert.equal(t.remove('a/+', 'c1'), 2);
  assert.equal(t.remove('a/+', 'c1'), undefined);
  assert.equal(t.size, 2);
  assert.deepEqual([...t.entries()].map((e) => e[0]).sort(), ['a/#', 'a/b']);
});

test('match results are cached per topic and never stale: add and remove change the next match', () => {
  const t = new TopicTrie<string>();
  const seen = (topic: string): string[] => {
    const out: string[] = [];
    t.match(topic, (v) => out.push(v));
    return out.sort();
  };
  t.add('a/+', 'c1', 'plus');
  assert.deepEqual(seen('a/b'), ['plus']);
  assert.deepEqual(seen('a/b'), ['plus']); // from the cache
  t.add('a/#', 'c2', 'hash');
  assert.deepEqual(seen('a/b'), ['hash', 'plus']);
  t.remove('a/+', 'c1');
  assert.deepEqual(seen('a/b'), ['hash']);
  t.add('a/#', 'c2', 'hash2'); // replacing a value is a change too
  assert.deepEqual(seen('a/b'), ['hash2']);
});

test('matching stays correct when topics do not recur (cache full, then bypassed) and a visitor changes the trie', () => {
  const t = new TopicTrie<number>({ matchCacheSize: 4 });
  t.add('d/+/up', 'k', 1);
  t.add('d/7/#', 'k7', 7);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 50; i++) {
      const out: number[] = [];
      t.match(`d/${i}/up`, (v) => out.push(v));
      assert.deepEqual(out.sort(), i === 7 ? [1, 7] : [1], `d/${i}/up round ${round}`);
    }
  }
  // A visitor that unsubscribes sees the snapshot it started with; the next match sees the change.
  const first: number[] = [];
  t.match('d/7/up', (v) => {
    first.push(v);
    t.remove('d/7/#', 'k7');
  });
  assert.equal(first.length >= 1, true);
  const next: number[] = [];
  t.match('d/7/up', (v) => next.push(v));
  assert.deepEqual(next, [1]);
});

// ------------------------------------------------------------------ node shapes
// A node holds its only value inline and a Map from the second one (see TrieNode). These tests
// look at the nodes to pin that layout, since it is what keeps a large fleet's memory down.

interface NodeView {
  children: Map<string, NodeView> | null;
  key: string | null;
  value: unknown;
  values: Map<string, unknown> | null;
}

function nodeAt<V>(t: TopicTrie<V>, filter: string): NodeView | undefined {
  let node: NodeView | undefined = (t as unknown as { root: NodeView }).root;
  for (const level of filter.split('/')) node = node?.children?.get(level);
  return node;
}

function cacheSize<V>(t: TopicTrie<V>): number {
  return (t as unknown as { matchCache: Map<string, unknown> }).matchCache.size;
}

function visited<V>(t: TopicTrie<V>, topic: string): [V, string][] {
  const out: [V, string][] = [];
  t.match(topic, (v, k) => out.push([v, k]));
  return out;
}

test('a filter with one value holds it inline; a second moves both to a Map in order; removing back to one returns it inline', () => {
  const t = new TopicTrie<string>();
  assert.equal(t.add('a/b', 'k1', 'v1'), undefined);
  let n = nodeAt(t, 'a/b')!;
  assert.equal(n.key, 'k1');
  assert.equal(n.value, 'v1');
  assert.equal(n.values, null);
  assert.equal(t.get('a/b', 'k1'), 'v1');
  assert.equal(t.get('a/b', 'k2'), undefined);

  assert.equal(t.add('a/b', 'k2', 'v2'), undefined);
  n = nodeAt(t, 'a/b')!;
  assert.equal(n.key, null);
  assert.equal(n.value, undefined);
  assert.deepEqual([...n.values!.keys()], ['k1', 'k2']);
  assert.deepEqual(visited(t, 'a/b'), [['v1', 'k1'], ['v2', 'k2']]);
  assert.equal(t.size, 2);

  assert.equal(t.add('a/b', 'k3', 'v3'), undefined);
  assert.equal(t.remove('a/b', 'k1'), 'v1');
  assert.deepEqual([...nodeAt(t, 'a/b')!.values!.keys()], ['k2', 'k3'], 'still a Map with two values');
  assert.equal(t.remove('a/b', 'k3'), 'v3');
  n = nodeAt(t, 'a/b')!;
  assert.equal(n.values, null, 'back inline with one value');
  assert.equal(n.key, 'k2');
  assert.equal(n.value, 'v2');
  assert.deepEqual(visited(t, 'a/b'), [['v2', 'k2']]);
  assert.deepEqual([...t.entries()], [['a/b', 'k2', 'v2']]);

  assert.equal(t.remove('a/b', 'k1'), undefined, 'a key that is not there');
  assert.equal(t.remove('a/b', 'k2'), 'v2');
  assert.equal(t.size, 0);
  assert.equal(nodeAt(t, 'a'), undefined, 'the emptied branch is pruned');
  assert.equal((t as unknown as { root: NodeView }).root.children, null, 'and the root drops its children Map');
});

test('replacing the value of a key keeps one value, inline or in the Map, and clears cached matches', () => {
  const t = new TopicTrie<string>();
  t.add('x', 'k1', 'old');
  assert.deepEqual(visited(t, 'x'), [['old', 'k1']]);
  assert.equal(t.add('x', 'k1', 'new'), 'old');
  assert.equal(t.size, 1);
  assert.equal(nodeAt(t, 'x')!.values, null);
  assert.deepEqual(visited(t, 'x'), [['new', 'k1']]);
  t.add('x', 'k2', 'two');
  assert.equal(t.add('x', 'k1', 'newer'), 'new');
  assert.equal(t.size, 2);
  assert.deepEqual(visited(t, 'x'), [['newer', 'k1'], ['two', 'k2']]);
});

test('a removal prunes empty nodes up to the first node that still holds a value or another child', () => {
  const t = new TopicTrie<number>();
  t.add('a/b/c/d', 'k', 1);
  t.add('a/b', 'k', 2);
  t.add('a/x', 'k', 3);
  assert.equal(t.remove('a/b/c/d', 'k'), 1);
  assert.equal(nodeAt(t, 'a/b/c'), undefined);
  assert.equal(nodeAt(t, 'a/b')!.children, null, 'a/b lost its only child and its children Map');
  assert.equal(nodeAt(t, 'a/b')!.value, 2);
  assert.equal(t.remove('a/b', 'k'), 2);
  assert.equal(nodeAt(t, 'a/b'), undefined);
  assert.deepEqual([...nodeAt(t, 'a')!.children!.keys()], ['x']);
  assert.equal(t.remove('a/b', 'k'), undefined, 'a filter that is gone');
  assert.deepEqual(visited(t, 'a/x'), [[3, 'k']]);
});

test('[MQTT-4.7.1-2] `+` and `#` nodes match with one value inline and with several in a Map', () => {
  const t = new TopicTrie<string>();
  t.add('s/+/t', 'c1', 'plus1');
  t.add('s/#', 'c1', 'hash1');
  t.add('#', 'c9', 'all');
  const sorted = (topic: string): string[] => visited(t, topic).map(([v]) => v).sort();
  assert.deepEqual(sorted('s/7/t'), ['all', 'hash1', 'plus1']);
  assert.deepEqual(sorted('s'), ['all', 'hash1'], '"s/#" matches "s"');
  t.add('s/+/t', 'c2', 'plus2');
  t.add('s/#', 'c2', 'hash2');
  t.add('#', 'c8', 'all2');
  assert.deepEqual(sorted('s/7/t'), ['all', 'all2', 'hash1', 'hash2', 'plus1', 'plus2']);
  assert.deepEqual(sorted('s'), ['all', 'all2', 'hash1', 'hash2']);
  assert.deepEqual(sorted('$SYS/x'), [], '[MQTT-4.7.2-1]');
  t.remove('s/+/t', 'c1');
  t.remove('s/#', 'c2');
  t.remove('#', 'c9');
  assert.deepEqual(sorted('s/7/t'), ['all2', 'hash1', 'plus2']);
  assert.deepEqual(sorted('s'), ['all2', 'hash1']);
  assert.equal(nodeAt(t, 's/#')!.key, 'c1');
  assert.equal(nodeAt(t, 's/+/t')!.key, 'c2');
  assert.equal(nodeAt(t, '#')!.key, 'c8');
});

test('shared subscriptions: groups on one filter are values keyed by group name, one inline, several in a Map', () => {
  // SubscriptionIndex keeps `$share/{group}/{filter}` groups in a trie of their own, keyed by group.
  const t = new TopicTrie<{ group: string }>();
  const g1 = { group: 'g1' };
  const g2 = { group: 'g2' };
  t.add('sensors/+/temp', 'g1', g1);
  assert.deepEqual(visited(t, 'sensors/a/temp'), [[g1, 'g1']]);
  t.add('sensors/+/temp', 'g2', g2);
  assert.deepEqual(visited(t, 'sensors/a/temp'), [[g1, 'g1'], [g2, 'g2']]);
  t.remove('sensors/+/temp', 'g1');
  assert.deepEqual(visited(t, 'sensors/a/temp'), [[g2, 'g2']]);
  assert.equal(nodeAt(t, 'sensors/+/temp')!.key, 'g2');
});

test('the match cache is cleared by every change, including a value moving between inline and Map', () => {
  const t = new TopicTrie<string>();
  t.add('a/+', 'k1', 'v1');
  assert.deepEqual(visited(t, 'a/b'), [['v1', 'k1']]);
  assert.equal(cacheSize(t), 1);
  t.add('a/+', 'k2', 'v2'); // inline -> Map
  assert.equal(cacheSize(t), 0);
  assert.deepEqual(visited(t, 'a/b'), [['v1', 'k1'], ['v2', 'k2']]);
  t.remove('a/+', 'k1'); // Map -> inline
  assert.equal(cacheSize(t), 0);
  assert.deepEqual(visited(t, 'a/b'), [['v2', 'k2']]);
  t.remove('a/+', 'k2'); // inline -> pruned
  assert.deepEqual(visited(t, 'a/b'), []);
  assert.equal(t.remove('a/+', 'k2'), undefined);
  assert.equal(cacheSize(t), 1, 'a removal that found nothing changes nothing');
});

test('a topic matching nothing is cached too, and stops matching nothing once a filter for it is added', () => {
  const t = new TopicTrie<string>();
  assert.deepEqual(visited(t, 'q/1'), []);
  assert.deepEqual(visited(t, 'q/2'), []);
  assert.equal(cacheSize(t), 2);
  t.add('q/1', 'k', 'v');
  assert.deepEqual(visited(t, 'q/1'), [['v', 'k']]);
  assert.deepEqual(visited(t, 'q/2'), []);
});

test('matchUncached finds what match finds and leaves the cache alone', () => {
  const t = new TopicTrie<string>();
  t.add('$aws/events/presence/connected/+', 'k1', 'presence');
  t.add('$aws/events/#', 'k2', 'events');
  t.add('#', 'k3', 'all'); // never matches a `$` topic [MQTT-4.7.2-1]
  const topic = '$aws/events/presence/connected/c1';
  const uncached: string[] = [];
  t.matchUncached(topic, (v) => uncached.push(v));
  assert.equal(cacheSize(t), 0);
  assert.deepEqual(uncached.sort(), visited(t, topic).map(([v]) => v).sort());
  assert.deepEqual(uncached.sort(), ['events', 'presence']);
});
