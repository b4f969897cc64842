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
