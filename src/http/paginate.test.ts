import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arn, parseArn } from '../core/index.js';
import { AwsServiceError } from './aws-errors.js';
import { paginate } from './paginate.js';

test('paginate walks every item once, in pages of maxResults, with opaque tokens', () => {
  const items = Array.from({ length: 7 }, (_, i) => i);
  const seen: number[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = paginate(items, { nextToken: token, maxResults: 3 }, 100);
    seen.push(...page.items);
    token = page.nextToken;
    pages++;
  } while (token !== undefined);
  assert.deepEqual(seen, items);
  assert.equal(pages, 3);
  assert.deepEqual(paginate(items, {}, 5).items, [0, 1, 2, 3, 4], 'default page size');
  assert.equal(paginate([], {}, 5).nextToken, undefined);
});

test('paginate: a token it did not issue is InvalidRequestException', () => {
  for (const nextToken of ['garbage', 'tp1.bm90IGpzb24', `tp1.${Buffer.from('{"o":-1}').toString('base64url')}`]) {
    assert.throws(() => paginate([1, 2], { nextToken }, 1), (e: AwsServiceError) => e.name === 'InvalidRequestException' && e.status === 400);
  }
});

test('arn builds and parses AWS IoT ARNs', () => {
  assert.equal(arn('eu-central-1', '123456789012', 'thing/lamp-1'), 'arn:aws:iot:eu-central-1:123456789012:thing/lamp-1');
  assert.deepEqual(parseArn('arn:aws:iot:eu-central-1:123456789012:rule/r:x'), {
    partition: 'aws',
    service: 'iot',
    region: 'eu-central-1',
    accountId: '123456789012',
    resource: 'rule/r:x',
  });
  assert.equal(parseArn('not:an:arn'), null);
});
