import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_POLICY_DOCUMENT_CHARS, parsePolicyDocument } from './document.js';
import { PolicyError } from './errors.js';

const st = (s: Record<string, unknown>): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', ...s }] });

/** [what is wrong, document, message fragment] — each must be MalformedPolicyException naming the problem. */
const MALFORMED: Array<[string, string, RegExp]> = [
  ['empty document', '   ', /empty/],
  ['not JSON', '{"Version": ', /not valid JSON/],
  ['a JSON array', '[]', /must be a JSON object/],
  ['unknown top-level element', JSON.stringify({ Version: '2012-10-17', Statement: [], Extra: 1 }), /unknown element 'Extra'/],
  ['unknown Version', JSON.stringify({ Version: '2020-01-01', Statement: [] }), /Version must be one of 2012-10-17, 2008-10-17/],
  ['no Statement', JSON.stringify({ Version: '2012-10-17' }), /no Statement/],
  ['a statement that is not an object', JSON.stringify({ Version: '2012-10-17', Statement: ['x'] }), /Statement 1 must be a JSON object/],
  ['unknown Effect', st({ Effect: 'Permit' }), /Effect must be 'Allow' or 'Deny', not "Permit"/],
  ['missing Effect', st({ Effect: undefined }), /Effect must be 'Allow' or 'Deny'/],
  ['missing Action', st({ Action: undefined }), /exactly one of Action or NotAction/],
  ['both Action and NotAction', st({ NotAction: 'iot:Publish' }), /exactly one of Action or NotAction/],
  ['missing Resource', st({ Resource: undefined }), /exactly one of Resource or NotResource/],
  ['both Resource and NotResource', st({ NotResource: '*' }), /exactly one of Resource or NotResource/],
  ['an empty Action list', st({ Action: [] }), /Action must be a string or a non-empty array/],
  ['a non-string Action', st({ Action: [1] }), /every Action entry must be a non-empty string/],
  ['an action without a service prefix', st({ Action: 'Publish' }), /'Publish' is not an action/],
  ['a resource that is not an ARN', st({ Resource: 'topic/a' }), /resource 'topic\/a' must be an ARN/],
  ['a Principal (IoT policies have none)', st({ Principal: '*' }), /do not take a Principal/],
  ['an unknown statement element', st({ Effects: 'Allow' }), /unknown element 'Effects'/],
  ['an unknown condition operator', st({ Condition: { StringSortOf: { 'iot:ClientId': 'x' } } }), /'StringSortOf' is not a condition operator/],
  ['a condition operator without keys object', st({ Condition: { StringEquals: 'x' } }), /must map condition keys to values/],
  ['a condition value of the wrong type', st({ Condition: { StringEquals: { 'iot:ClientId': { a: 1 } } } }), /must be strings, numbers or booleans/],
  ['a bad Bool value', st({ Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'yes' } } }), /Bool needs 'true' or 'false'/],
  ['a bad CIDR block', st({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), /IpAddress needs an IP address or CIDR block/],
  ['a bad number', st({ Condition: { NumericLessThan: { 'iot:Connection.Thing.Attributes[n]': 'ten' } } }), /NumericLessThan needs a number/],
  ['a bad date', st({ Condition: { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } } }), /DateLessThan needs an ISO 8601 date/],
  ['IfExists on Null', st({ Condition: { NullIfExists: { 'iot:ClientId': 'true' } } }), /'NullIfExists' is not a condition operator/],
  ['an unterminated policy variable', st({ Resource: 'arn:aws:iot:eu-central-1:123456789012:topic/${iot:ClientId' }), /unterminated policy variable/],
];

for (const [what, doc, message] of MALFORMED) {
  test(`MalformedPolicyException for ${what}`, () => {
    assert.throws(() => parsePolicyDocument(doc), (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      assert.equal(err.code, 'policy.malformed');
      assert.match(err.message, message);
      return true;
    });
  });
}

test('policy size: at most 2048 characters excluding whitespace (API_CreatePolicy)', () => {
  const base = st({ Sid: '' });
  const fill = MAX_POLICY_DOCUMENT_CHARS - base.length;
  const exact = st({ Sid: 'x'.repeat(fill) });
  assert.equal(exact.replace(/\s/g, '').length, MAX_POLICY_DOCUMENT_CHARS);
  parsePolicyDocument(exact);
  parsePolicyDocument(exact.replace(/,/g, ',\n        ')); // whitespace does not count
  assert.throws(() => parsePolicyDocument(st({ Sid: 'x'.repeat(fill + 1) })), /2049 characters long excluding whitespace; the limit is 2048/);
});

test('accepted forms: Statement as one object, Action/Resource as strings or arrays, 2008-10-17, no Version, every operator family', () => {
  const doc = parsePolicyDocument(JSON.stringify({
    Version: '2012-10-17',
    Id: 'devices',
    Statement: {
      Sid: 'all',
      Effect: 'Deny',
      NotAction: ['iot:Connect', 'iot:Pub*'],
      NotResource: ['arn:aws:iot:*:*:topic/${iot:ClientId}/*'],
      Condition: {
        'ForAnyValue:StringLikeIfExists': { 'iot:Certificate.Subject.Organization.List': ['A*', 'B?'] },
        'ForAllValues:StringNotEqualsIgnoreCase': { 'iot:Certificate.Subject.Country.List': 'de' },
        NumericGreaterThanEquals: { 'iot:Connection.Thing.Attributes[floor]': 2 },
        Bool: { 'iot:Connection.Thing.IsAttached': true },
        NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'] },
        DateGreaterThanIfExists: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' },
        ArnLike: { 'iot:Connection.Thing.Attributes[owner]': 'arn:aws:iot:*' },
        Null: { 'iot:DomainName': 'false' },
      },
    },
  }));
  assert.equal(doc.statements.length, 1);
  assert.equal(doc.statements[0]?.conditions.length, 8);
  assert.equal(doc.timeDependent, true);
  assert.equal(parsePolicyDocument('{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}').version, '2008-10-17');
  assert.equal(parsePolicyDocument('{"Version":"2012-10-17","Statement":[]}').statements.length, 0);
});
