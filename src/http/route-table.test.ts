import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iotDataModel } from './models/iot-data.gen.js';
import { iotJobsDataModel } from './models/iot-jobs-data.gen.js';
import { iotModel } from './models/iot.gen.js';
import { RouteTable } from './route-table.js';
import type { ServiceModel } from './service-model.js';

/** A concrete request path for a template: labels filled in, fixed query kept. */
function sample(requestUri: string): { path: string; query: Array<[string, string]> } {
  const [path, q] = requestUri.split('?') as [string, string | undefined];
  const query = (q ?? '').split('&').filter(Boolean).map((p) => p.split('=') as [string, string]).map(([k, v]) => [k, v ?? ''] as [string, string]);
  return { path: path.replace(/\{[^}]+\+\}/g, 'a/b').replace(/\{[^}]+\}/g, 'label-x'), query };
}

for (const model of [iotModel, iotDataModel, iotJobsDataModel] as ServiceModel[]) {
  test(`${model.metadata.serviceId}: every operation's own route resolves to that operation`, () => {
    const table = new RouteTable(model);
    for (const [name, op] of Object.entries(model.operations)) {
      const { path, query } = sample(op.requestUri);
      assert.equal(table.match(op.method, path, query)?.operation, name, `${op.method} ${op.requestUri}`);
    }
  });
}

test('shared prefixes: the literal route wins, labels are percent-decoded, greedy labels keep slashes', () => {
  const t = new RouteTable(iotModel);
  assert.equal(t.match('POST', '/things', [])?.operation, 'RegisterThing');
  assert.deepEqual(t.match('POST', '/things/lamp%3A1', [])?.labels, { thingName: 'lamp:1' });
  assert.equal(t.match('PUT', '/thing-groups/addThingToThingGroup', [])?.operation, 'AddThingToThingGroup');
  assert.equal(t.match('GET', '/thing-groups/addThingToThingGroup', [])?.operation, 'DescribeThingGroup');
  const dest = t.match('GET', '/destinations/arn%3Aaws%3Aiot%3Aeu-central-1%3A123456789012%3Aruledestination/http/abc', []);
  assert.equal(dest?.operation, 'GetTopicRuleDestination');
  assert.equal(dest?.labels.arn, 'arn:aws:iot:eu-central-1:123456789012:ruledestination/http/abc');
  assert.equal(t.match('GET', '/authorizers', [])?.operation, 'ListAuthorizers', 'trailing slash of /authorizers/ is optional');
  assert.equal(t.match('GET', '/things/a%2Fb/principals', [])?.labels.thingName, 'a/b');
  assert.equal(t.match('DELETE', '/things', []), null);
  assert.equal(t.match('GET', '/nothing-here', []), null);
});
