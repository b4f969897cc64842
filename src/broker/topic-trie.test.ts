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
