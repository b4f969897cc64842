/**
 * 05 — docs/api.md's list of supported operations is generated (scripts/gen-api-doc.mjs asks a
 * running server which operations have handlers); this fails when the list is out of date, and
 * checks that every operation issue 4 promises is listed as supported.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/test/identity/05-api-doc.test.js). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOC = `${ROOT}docs/api.md`;

/** The operations issue 4 (identity and control plane) promises. */
const ISSUE_4_OPERATIONS = [
  // registry
  'CreateThing', 'DescribeThing', 'UpdateThing', 'DeleteThing', 'ListThings',
  'CreateThingType', 'DescribeThingType', 'DeprecateThingType', 'DeleteThingType', 'ListThingTypes',
  'CreateThingGroup', 'DescribeThingGroup', 'UpdateThingGroup', 'DeleteThingGroup', 'ListThingGroups',
  'AddThingToThingGroup', 'RemoveThingFromThingGroup', 'ListThingsInThingGroup', 'ListThingGroupsForThing', 'UpdateThingGroupsForThing',
  'UpdateEventConfigurations', 'DescribeEventConfigurations',
  // certificates, CAs, principals, endpoint
  'CreateKeysAndCertificate', 'CreateCertificateFromCsr', 'RegisterCACertificate', 'RegisterCertificate', 'RegisterCertificateWithoutCA',
  'DescribeCertificate', 'UpdateCertificate', 'DeleteCertificate', 'ListCertificates', 'ListCertificatesByCA',
  'DescribeCACertificate', 'UpdateCACertificate', 'DeleteCACertificate', 'ListCACertificates', 'GetRegistrationCode',
  'AttachThingPrincipal', 'DetachThingPrincipal', 'ListThingPrincipals', 'ListPrincipalThings', 'DescribeEndpoint',
  // policies
  'CreatePolicy', 'GetPolicy', 'DeletePolicy', 'ListPolicies', 'CreatePolicyVersion', 'GetPolicyVersion', 'ListPolicyVersions',
  'DeletePolicyVersion', 'SetDefaultPolicyVersion', 'AttachPolicy', 'DetachPolicy', 'ListAttachedPolicies', 'ListTargetsForPolicy',
  'AttachPrincipalPolicy', 'DetachPrincipalPolicy', 'ListPrincipalPolicies', 'GetEffectivePolicies', 'TestAuthorization',
];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Operation -> supported, from the generated table. */
function table(): Map<string, boolean> {
  const doc = readFileSync(DOC, 'utf8');
  const section = doc.slice(doc.indexOf('<!-- operations:start -->'), doc.indexOf('<!-- operations:end -->'));
  const rows = new Map<string, boolean>();
  for (const m of section.matchAll(/^\| \**([A-Za-z0-9]+)\** \| `[A-Z]+ [^`]+` \| (yes|no) \|$/gm)) rows.set(m[1]!, m[2] === 'yes');
  return rows;
}

describe('05 docs/api.md operations list', () => {
  test('[docs] docs/api.md lists the operations the server serves (node scripts/gen-api-doc.mjs --check)', async () => {
    const r = await run(['scripts/gen-api-doc.mjs', '--check']);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
  });

  test('[docs] the table has every operation of the IoT service model, each with its route', async () => {
    const rows = table();
    const model = (await import(new URL('../../src/http/models/iot.gen.js', import.meta.url).href)) as { iotModel: { operations: Record<string, unknown> } };
    assert.deepEqual([...rows.keys()].sort(), Object.keys(model.iotModel.operations).sort());
  });

  test('[Issue 4] every registry, certificate, principal and policy operation of issue 4 is listed as supported', () => {
    const rows = table();
    assert.deepEqual(
      ISSUE_4_OPERATIONS.filter((op) => rows.get(op) !== true),
      [],
      'operations issue 4 promises that docs/api.md does not list as supported',
    );
  });
});
