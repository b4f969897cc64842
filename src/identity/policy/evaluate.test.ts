// Table-driven evaluation suite: each test is named after the AWS / IAM rule it checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvalContext, type AuthzSubject, type CertificateFacts, type ThingFacts } from './context.js';
import { parsePolicyDocument } from './document.js';
import { bindPolicies, decide, explain } from './evaluate.js';

const A = (r: string): string => `arn:aws:iot:eu-central-1:123456789012:${r}`;
type Json = Record<string, unknown>;

interface World {
  subject?: Partial<AuthzSubject>;
  thing?: ThingFacts | null;
  cert?: CertificateFacts | null;
  now?: number;
}

const CERT: CertificateFacts = {
  certificateId: 'c'.repeat(64),
  subject: { CommonName: 'lamp-1', Organization: ['Example Corp', 'AnyCompany'], Country: 'DE', OrganizationalUnit: 'Lights*', Title: 'a,b' },
  issuer: { CommonName: 'Thingport Root CA' },
  subjectAlternativeName: { dnsName: ['lamp-1.example.com', 'alt.example.com'], ipAddress: ['10.0.0.5'] },
  serialNumber: '0a1b2c',
  notBefore: new Date('2026-01-01T00:00:00Z'),
  notAfter: new Date('2027-01-01T00:00:00Z'),
};
const THING: ThingFacts = { thingName: 'lamp-1', thingTypeName: 'Lamp', attributes: { room: 'kitchen', floor: '3', owner: A('thinggroup/family') } };

function bindWorld(statements: Json[][], world: World, version = '2012-10-17') {
  const policies = statements.map((Statement, i) => ({ name: `p${i + 1}`, arn: A(`policy/p${i + 1}`), document: parsePolicyDocument(JSON.stringify({ Version: version, Statement })) }));
  const subject: AuthzSubject = { clientId: 'lamp-1', principal: CERT.certificateId, thingName: 'lamp-1', sourceIp: '192.0.2.10', ...world.subject };
  const ctx = createEvalContext(subject, {
    thing: () => (world.thing === undefined ? THING : world.thing),
    certificate: () => (world.cert === undefined ? CERT : world.cert),
    now: () => world.now ?? Date.parse('2026-06-01T00:00:00Z'),
  });
  return bindPolicies(policies, ctx);
}

/** [action, resource (relative to the account ARN), expected decision] */
type Check = [string, string, boolean];

interface Case {
  rule: string;
  statements: Json[][];
  world?: World;
  version?: string;
  checks: Check[];
}

const allow = (Action: unknown, Resource: unknown, Condition?: Json): Json => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });
const deny = (Action: unknown, Resource: unknown, Condition?: Json): Json => ({ Effect: 'Deny', Action, Resource, ...(Condition ? { Condition } : {}) });
const pub = (cond: Json, resource = A('topic/t')): Json[][] => [[allow('iot:Publish', resource, cond)]];

const CASES: Case[] = [
  // --- wildcards (pub-sub-policy.html "Using wildcard characters in MQTT and AWS IoT Core policies")
  { rule: 'wildcards: * matches any run of characters, across topic levels', statements: [[allow('iot:Publish', A('topic/a/*'))]],
    checks: [['iot:Publish', 'topic/a/b', true], ['iot:Publish', 'topic/a/b/c', true], ['iot:Publish', 'topic/a', false], ['iot:Publish', 'topic/b/a', false]] },
  { rule: 'wildcards: ? matches exactly one character', statements: [[allow('iot:Publish', A('topic/dev??'))]],
    checks: [['iot:Publish', 'topic/dev01', true], ['iot:Publish', 'topic/dev1', false], ['iot:Publish', 'topic/dev001', false]] },
  { rule: 'wildcards: MQTT + and # are literal characters in policies', statements: [[allow('iot:Subscribe', [A('topicfilter/a/+/c'), A('topicfilter/x/#')])]],
    checks: [['iot:Subscribe', 'topicfilter/a/+/c', true], ['iot:Subscribe', 'topicfilter/a/b/c', false], ['iot:Subscribe', 'topicfilter/x/#', true], ['iot:Subscribe', 'topicfilter/x/y', false]] },
  { rule: 'wildcards: Resource "*" matches every resource', statements: [[allow('iot:Connect', '*')]],
    checks: [['iot:Connect', 'client/anything', true], ['iot:Publish', 'topic/x', false]] },
  { rule: 'resources compare case-sensitively', statements: [[allow('iot:Publish', A('topic/Lamp'))]],
    checks: [['iot:Publish', 'topic/Lamp', true], ['iot:Publish', 'topic/lamp', false]] },
  { rule: 'actions: names compare case-insensitively (IAM)', statements: [[allow('IOT:publish', '*')]], checks: [['iot:Publish', 'topic/t', true]] },
  { rule: 'actions: wildcards in action names (iot:*, iot:Pub*)', statements: [[allow('iot:Pub*', '*')], [allow('iot:*', A('client/*'))]],
    checks: [['iot:Publish', 'topic/t', true], ['iot:Subscribe', 'topicfilter/t', false], ['iot:Connect', 'client/c', true], ['iot:RetainPublish', 'topic/t', false]] },
  // --- evaluation logic (iot-policies.html: default deny, explicit deny overrides allow)
  { rule: 'default deny: nothing is allowed without a matching Allow', statements: [], checks: [['iot:Connect', 'client/lamp-1', false]] },
  { rule: 'explicit Deny beats Allow, also across policies', statements: [[allow('iot:*', '*')], [deny('iot:Publish', A('topic/admin/*'))]],
    checks: [['iot:Publish', 'topic/admin/reboot', false], ['iot:Publish', 'topic/status', true], ['iot:Subscribe', 'topicfilter/admin/reboot', true]] },
  { rule: 'explicit Deny beats Allow within one statement list regardless of order', statements: [[deny('iot:Publish', '*'), allow('iot:Publish', A('topic/t'))]],
    checks: [['iot:Publish', 'topic/t', false]] },
  { rule: 'NotAction: an Allow for every action except those listed', statements: [[{ Effect: 'Allow', NotAction: ['iot:Publish', 'iot:Retain*'], Resource: '*' }]],
    checks: [['iot:Subscribe', 'topicfilter/t', true], ['iot:Publish', 'topic/t', false], ['iot:RetainPublish', 'topic/t', false]] },
  { rule: 'NotResource: an Allow on every resource except those listed', statements: [[{ Effect: 'Allow', Action: 'iot:Publish', NotResource: A('topic/secret/*') }]],
    checks: [['iot:Publish', 'topic/open', true], ['iot:Publish', 'topic/secret/x', false]] },
  { rule: 'NotResource in a Deny: denies everything outside the list', statements: [[allow('iot:Publish', '*'), { Effect: 'Deny', Action: 'iot:Publish', NotResource: A('topic/lamp-1/*') }]],
    checks: [['iot:Publish', 'topic/lamp-1/state', true], ['iot:Publish', 'topic/lamp-2/state', false]] },
  // --- policy variables (basic-, thing- and cert-policy-variables.html)
  { rule: 'variables: ${iot:ClientId} is replaced by the client id', statements: [[allow('iot:Connect', A('client/${iot:ClientId}')), allow('iot:Publish', A('topic/my/${iot:ClientId}'))]],
    world: { subject: { clientId: 'c-42' } }, checks: [['iot:Connect', 'client/c-42', true], ['iot:Publish', 'topic/my/c-42', true], ['iot:Publish', 'topic/my/c-43', false]] },
  { rule: 'variables: substituted values are literal, a client id holding * is no wildcard', statements: [[allow('iot:Publish', A('topic/${iot:ClientId}'))]],
    world: { subject: { clientId: 'a*' } }, checks: [['iot:Publish', 'topic/a*', true], ['iot:Publish', 'topic/abc', false]] },
  { rule: 'variables: names are case-insensitive (IAM)', statements: [[allow('iot:Publish', A('topic/${IOT:clientid}'))]], checks: [['iot:Publish', 'topic/lamp-1', true]] },
  { rule: 'variables: thing name, thing type and attributes of the connection thing', statements: [[allow('iot:Publish', A('topic/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.Attributes[room]}/${iot:Connection.Thing.ThingName}'))]],
    checks: [['iot:Publish', 'topic/Lamp/kitchen/lamp-1', true], ['iot:Publish', 'topic/Lamp/hall/lamp-1', false]] },
  { rule: 'variables: iot:Connection.Thing.IsAttached is true only with an attached thing', statements: [[allow('iot:Connect', '*', { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } })]],
    checks: [['iot:Connect', 'client/lamp-1', true]] },
  { rule: 'variables: iot:Connection.Thing.IsAttached is false without a thing', statements: [[allow('iot:Connect', '*', { Bool: { 'iot:Connection.Thing.IsAttached': ['true'] } })]],
    world: { thing: null, subject: { thingName: null } }, checks: [['iot:Connect', 'client/lamp-1', false]] },
  { rule: 'variables: an unresolved thing variable matches nothing ("won\'t be resolved and will result in an access denied error")',
    statements: [[allow('iot:Publish', [A('topic/${iot:Connection.Thing.ThingName}/x'), A('topic/public')])]],
    world: { thing: null, subject: { thingName: null } },
    checks: [['iot:Publish', 'topic/lamp-1/x', false], ['iot:Publish', 'topic/${iot:Connection.Thing.ThingName}/x', false], ['iot:Publish', 'topic/public', true]] },
  { rule: 'variables: an unresolved variable in an Allow condition means the statement does not apply',
    statements: [[allow('iot:Publish', '*', { StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.Attributes[missing]}' } })]],
    checks: [['iot:Publish', 'topic/t', false]] },
  { rule: 'variables: an unresolved variable in a Deny condition equals nothing, so a StringNotEquals guard still denies',
    statements: [[allow('iot:Publish', '*'), deny('iot:Publish', '*', { StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } })]],
    world: { thing: null, subject: { thingName: null } }, checks: [['iot:Publish', 'topic/t', false]] },
  { rule: 'variables: an unresolved variable in an Allow NotResource means the statement does not apply',
    statements: [[{ Effect: 'Allow', Action: 'iot:Publish', NotResource: A('topic/${iot:Connection.Thing.ThingName}/admin') }]],
    world: { thing: null, subject: { thingName: null } }, checks: [['iot:Publish', 'topic/x', false]] },
  { rule: 'variables: certificate subject, issuer, SAN and serial number', statements: [[allow('iot:Publish', A('topic/${iot:Certificate.Subject.CommonName}/${iot:Certificate.Issuer.CommonName}/${iot:Certificate.Subject.AlternativeName.DNSName}/${iot:Certificate.SerialNumber}'))]],
    checks: [['iot:Publish', 'topic/lamp-1/Thingport Root CA/lamp-1.example.com/0a1b2c', true]] },
  { rule: 'variables: a multi-valued certificate attribute gives its first value, .N the value at index N, and a missing index fails',
    statements: [[allow('iot:Publish', [A('topic/o/${iot:Certificate.Subject.Organization}'), A('topic/o1/${iot:Certificate.Subject.Organization.1}'), A('topic/o2/${iot:Certificate.Subject.Organization.2}')])]],
    checks: [['iot:Publish', 'topic/o/Example Corp', true], ['iot:Publish', 'topic/o1/AnyCompany', true], ['iot:Publish', 'topic/o/AnyCompany', false], ['iot:Publish', 'topic/o2/', false]] },
  { rule: 'variables: a certificate attribute holding a wildcard character is not substituted', statements: [[allow('iot:Publish', A('topic/${iot:Certificate.Subject.OrganizationalUnit}'))]],
    checks: [['iot:Publish', 'topic/Lights*', false], ['iot:Publish', 'topic/Lightsabc', false]] },
  { rule: 'variables: special characters in certificate attributes are backslash-escaped', statements: [[allow('iot:Publish', A('topic/${iot:Certificate.Subject.Title}'))]],
    checks: [['iot:Publish', 'topic/a\\,b', true], ['iot:Publish', 'topic/a,b', false]] },
  { rule: 'variables: certificate variables are unresolved for a principal without certificate facts', statements: [[allow('iot:Publish', A('topic/${iot:Certificate.Subject.CommonName}'))]],
    world: { cert: null }, checks: [['iot:Publish', 'topic/lamp-1', false]] },
  { rule: 'variables: aws:SourceIp and iot:DomainName', statements: [[allow('iot:Publish', A('topic/${aws:SourceIp}/${iot:DomainName}'))]],
    world: { subject: { sourceIp: '::ffff:192.0.2.10', domainName: 'iot.example.com' } }, checks: [['iot:Publish', 'topic/192.0.2.10/iot.example.com', true]] },
  { rule: 'variables: escapes ${*}, $(?) and $($) stand for the literal characters', statements: [[allow('iot:Publish', A('topic/${*}/$(?)/$($)/*'))]],
    checks: [['iot:Publish', 'topic/*/?/$/x', true], ['iot:Publish', 'topic/a/b/$/x', false]] },
  { rule: 'variables: Version 2008-10-17 predates policy variables, so ${...} is plain text', version: '2008-10-17',
    statements: [[allow('iot:Publish', A('topic/${iot:ClientId}'))]], checks: [['iot:Publish', 'topic/lamp-1', false], ['iot:Publish', 'topic/${iot:ClientId}', true]] },
  // --- conditions (IAM reference_policies_elements_condition_operators.html)
  { rule: 'conditions: StringEquals matches any listed value; StringNotEquals none', statements: [[allow('iot:Publish', A('topic/a'), { StringEquals: { 'iot:ClientId': ['x', 'lamp-1'] } }), allow('iot:Publish', A('topic/b'), { StringNotEquals: { 'iot:ClientId': ['x', 'lamp-1'] } })]],
    checks: [['iot:Publish', 'topic/a', true], ['iot:Publish', 'topic/b', false]] },
  { rule: 'conditions: StringEqualsIgnoreCase and StringNotEqualsIgnoreCase', statements: [[allow('iot:Publish', A('topic/a'), { StringEqualsIgnoreCase: { 'iot:ClientId': 'LAMP-1' } }), allow('iot:Publish', A('topic/b'), { StringNotEqualsIgnoreCase: { 'iot:ClientId': 'LAMP-1' } })]],
    checks: [['iot:Publish', 'topic/a', true], ['iot:Publish', 'topic/b', false]] },
  { rule: 'conditions: StringLike and StringNotLike use * and ? wildcards', statements: [[allow('iot:Publish', A('topic/a'), { StringLike: { 'iot:ClientId': 'lamp-?' } }), allow('iot:Publish', A('topic/b'), { StringNotLike: { 'iot:ClientId': 'lamp*' } })]],
    checks: [['iot:Publish', 'topic/a', true], ['iot:Publish', 'topic/b', false]] },
  { rule: 'conditions: condition values may use policy variables', statements: pub({ StringEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' } }),
    checks: [['iot:Publish', 'topic/t', true]] },
  { rule: 'conditions: IpAddress and NotIpAddress with IPv4 CIDR blocks (IPv4-mapped peers included)', statements: [[allow('iot:Publish', A('topic/a'), { IpAddress: { 'aws:SourceIp': ['198.51.100.0/24', '192.0.2.0/28'] } }), allow('iot:Publish', A('topic/b'), { NotIpAddress: { 'aws:SourceIp': '192.0.2.0/24' } })]],
    world: { subject: { sourceIp: '::ffff:192.0.2.10' } }, checks: [['iot:Publish', 'topic/a', true], ['iot:Publish', 'topic/b', false]] },
  { rule: 'conditions: IpAddress with IPv6 CIDR blocks', statements: pub({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }),
    world: { subject: { sourceIp: '2001:db8:0:1::7' } }, checks: [['iot:Publish', 'topic/t', true]] },
  { rule: 'conditions: IpAddress does not match an address outside the block', statements: pub({ IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }),
    world: { subject: { sourceIp: '2001:db9::1' } }, checks: [['iot:Publish', 'topic/t', false]] },
  { rule: 'conditions: Numeric operators compare numbers', statements: [[
    allow('iot:Publish', A('topic/eq'), { NumericEquals: { 'iot:Connection.Thing.Attributes[floor]': 3 } }),
    allow('iot:Publish', A('topic/ne'), { NumericNotEquals: { 'iot:Connection.Thing.Attributes[floor]': '3' } }),
    allow('iot:Publish', A('topic/lt'), { NumericLessThan: { 'iot:Connection.Thing.Attributes[floor]': '10' } }),
    allow('iot:Publish', A('topic/le'), { NumericLessThanEquals: { 'iot:Connection.Thing.Attributes[floor]': '2' } }),
    allow('iot:Publish', A('topic/gt'), { NumericGreaterThan: { 'iot:Connection.Thing.Attributes[floor]': '2.5' } }),
    allow('iot:Publish', A('topic/ge'), { NumericGreaterThanEquals: { 'iot:Connection.Thing.Attributes[floor]': '4' } })]],
    checks: [['iot:Publish', 'topic/eq', true], ['iot:Publish', 'topic/ne', false], ['iot:Publish', 'topic/lt', true], ['iot:Publish', 'topic/le', false], ['iot:Publish', 'topic/gt', true], ['iot:Publish', 'topic/ge', false]] },
  { rule: 'conditions: Date operators on aws:CurrentTime and aws:EpochTime', statements: [[
    allow('iot:Publish', A('topic/lt'), { DateLessThan: { 'aws:CurrentTime': '2026-07-01T00:00:00Z' } }),
    allow('iot:Publish', A('topic/gt'), { DateGreaterThan: { 'aws:CurrentTime': '2026-07-01T00:00:00Z' } }),
    allow('iot:Publish', A('topic/ge'), { DateGreaterThanEquals: { 'aws:EpochTime': String(Date.parse('2026-06-01T00:00:00Z') / 1000) } }),
    allow('iot:Publish', A('topic/eq'), { DateEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }),
    allow('iot:Publish', A('topic/ne'), { DateNotEquals: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } }),
    allow('iot:Publish', A('topic/le'), { DateLessThanEquals: { 'aws:CurrentTime': '2026-05-31T23:59:59Z' } })]],
    checks: [['iot:Publish', 'topic/lt', true], ['iot:Publish', 'topic/gt', false], ['iot:Publish', 'topic/ge', true], ['iot:Publish', 'topic/eq', true], ['iot:Publish', 'topic/ne', false], ['iot:Publish', 'topic/le', false]] },
  { rule: 'conditions: ArnEquals / ArnLike compare ARNs part by part with wildcards, ArnNotLike negates', statements: [[
    allow('iot:Publish', A('topic/eq'), { ArnEquals: { 'iot:Connection.Thing.Attributes[owner]': A('thinggroup/family') } }),
    allow('iot:Publish', A('topic/like'), { ArnLike: { 'iot:Connection.Thing.Attributes[owner]': 'arn:aws:iot:*:*:thinggroup/fam*' } }),
    allow('iot:Publish', A('topic/not'), { ArnNotLike: { 'iot:Connection.Thing.Attributes[owner]': 'arn:aws:iot:*:*:thinggroup/*' } })]],
    checks: [['iot:Publish', 'topic/eq', true], ['iot:Publish', 'topic/like', true], ['iot:Publish', 'topic/not', false]] },
  { rule: 'conditions: a key absent from the context makes positive operators false and negated operators true', statements: [[
    allow('iot:Publish', A('topic/pos'), { StringEquals: { 'iot:Connection.Thing.Attributes[none]': 'x' } }),
    allow('iot:Publish', A('topic/neg'), { StringNotEquals: { 'iot:Connection.Thing.Attributes[none]': 'x' } })]],
    checks: [['iot:Publish', 'topic/pos', false], ['iot:Publish', 'topic/neg', true]] },
  { rule: 'conditions: ...IfExists is true when the key is absent and checked when present', statements: [[
    allow('iot:Publish', A('topic/absent'), { StringEqualsIfExists: { 'iot:Connection.Thing.Attributes[none]': 'x' } }),
    allow('iot:Publish', A('topic/present'), { StringEqualsIfExists: { 'iot:Connection.Thing.Attributes[room]': 'hall' } })]],
    checks: [['iot:Publish', 'topic/absent', true], ['iot:Publish', 'topic/present', false]] },
  { rule: 'conditions: Null tests whether a key is present', statements: [[
    allow('iot:Publish', A('topic/absent'), { Null: { 'iot:Connection.Thing.Attributes[none]': 'true' } }),
    allow('iot:Publish', A('topic/present'), { Null: { 'iot:Connection.Thing.Attributes[room]': 'false' } }),
    allow('iot:Publish', A('topic/wrong'), { Null: { 'iot:Connection.Thing.Attributes[room]': 'true' } })]],
    checks: [['iot:Publish', 'topic/absent', true], ['iot:Publish', 'topic/present', true], ['iot:Publish', 'topic/wrong', false]] },
  { rule: 'conditions: ForAllValues needs every value of a .List key to match', statements: [[
    allow('iot:Publish', A('topic/all'), { 'ForAllValues:StringEquals': { 'iot:Certificate.Subject.Organization.List': ['Example Corp', 'AnyCompany', 'Other'] } }),
    allow('iot:Publish', A('topic/some'), { 'ForAllValues:StringEquals': { 'iot:Certificate.Subject.Organization.List': ['Example Corp'] } }),
    allow('iot:Publish', A('topic/absent'), { 'ForAllValues:StringEquals': { 'iot:Certificate.Issuer.Organization.List': ['x'] } })]],
    checks: [['iot:Publish', 'topic/all', true], ['iot:Publish', 'topic/some', false], ['iot:Publish', 'topic/absent', true]] },
  { rule: 'conditions: ForAnyValue needs some value to match and is false for an absent key', statements: [[
    allow('iot:Publish', A('topic/any'), { 'ForAnyValue:StringLike': { 'iot:Certificate.Subject.AlternativeName.DNSName.List': 'alt.*' } }),
    allow('iot:Publish', A('topic/none'), { 'ForAnyValue:StringEquals': { 'iot:Certificate.Subject.AlternativeName.DNSName.List': 'nope' } }),
    allow('iot:Publish', A('topic/absent'), { 'ForAnyValue:StringEquals': { 'iot:Certificate.Issuer.Organization.List': 'x' } })]],
    checks: [['iot:Publish', 'topic/any', true], ['iot:Publish', 'topic/none', false], ['iot:Publish', 'topic/absent', false]] },
  { rule: 'conditions: iot:Certificate.AvailableKeys lists the certificate variables that have values', statements: pub({ 'ForAnyValue:StringEquals': { 'iot:Certificate.AvailableKeys': 'iot:Certificate.Subject.AlternativeName.IPAddress' } }),
    checks: [['iot:Publish', 'topic/t', true]] },
  { rule: 'conditions: several keys under one operator and several operators are ANDed', statements: [[
    allow('iot:Publish', A('topic/both'), { StringEquals: { 'iot:ClientId': 'lamp-1', 'iot:Connection.Thing.ThingTypeName': 'Lamp' }, Bool: { 'iot:Connection.Thing.IsAttached': true } }),
    allow('iot:Publish', A('topic/one'), { StringEquals: { 'iot:ClientId': 'lamp-1', 'iot:Connection.Thing.ThingTypeName': 'Fan' } })]],
    checks: [['iot:Publish', 'topic/both', true], ['iot:Publish', 'topic/one', false]] },
  { rule: 'conditions: condition key names are case-insensitive (IAM)', statements: pub({ StringEquals: { 'IOT:CLIENTID': 'lamp-1', 'iot:connection.thing.attributes[room]': 'kitchen' } }),
    checks: [['iot:Publish', 'topic/t', true]] },
];

for (const c of CASES) {
  test(c.rule, () => {
    const binding = bindWorld(c.statements, c.world ?? {}, c.version);
    for (const [action, resource, expected] of c.checks) {
      assert.equal(decide(binding, action.toLowerCase(), A(resource)), expected, `${action} on ${resource}`);
      assert.equal(explain(binding, action, A(resource)).decision === 'ALLOWED', expected, `explain agrees for ${action} on ${resource}`);
    }
  });
}

test('time-dependent conditions are re-evaluated on every decision and mark the binding', () => {
  let now = Date.parse('2026-06-30T23:59:59Z');
  const policies = [{ name: 'p', arn: '', document: parsePolicyDocument(JSON.stringify({ Version: '2012-10-17', Statement: allow('iot:Publish', '*', { DateLessThan: { 'aws:CurrentTime': '2026-07-01T00:00:00Z' } }) })) }];
  const ctx = createEvalContext({ clientId: 'c', principal: null, thingName: null, sourceIp: '' }, { thing: () => null, certificate: () => null, now: () => now });
  const binding = bindPolicies(policies, ctx);
  assert.equal(binding.timeDependent, true);
  assert.equal(decide(binding, 'iot:publish', A('topic/t')), true);
  now += 1000;
  assert.equal(decide(binding, 'iot:publish', A('topic/t')), false);
});

test('explain names the deciding policies and the missing context values', () => {
  const binding = bindWorld([[allow('iot:Publish', '*')], [deny('iot:Publish', A('topic/x'))], [allow('iot:Publish', A('topic/${iot:Connection.Thing.Attributes[zone]}'))]], {});
  const denied = explain(binding, 'iot:Publish', A('topic/x'));
  assert.equal(denied.decision, 'EXPLICIT_DENY');
  assert.deepEqual([...denied.deniedBy], [1]);
  assert.deepEqual([...denied.allowedBy], [0]);
  assert.deepEqual([...denied.missing], ['iot:Connection.Thing.Attributes[zone]']);
  assert.equal(explain(binding, 'iot:Subscribe', A('topicfilter/x')).decision, 'IMPLICIT_DENY');
});
