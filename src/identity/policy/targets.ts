/**
 * What a policy can be attached to, in the string forms AWS accepts:
 *  - AttachPolicy `target`: "a thing group or a certificate" ARN (`arn:aws:iot:{region}:{account}:cert/{id}`,
 *    `...:thinggroup/{name}`) or an Amazon Cognito identity id (`{region}:{uuid}`);
 *  - AttachPrincipalPolicy / ListPrincipalPolicies `principal`: "a certificate ARN ... or an Amazon Cognito ID";
 *  - TestAuthorization `principal`: "CertificateArn ..., thingGroupArn ... and CognitoId (region:id)".
 * Targets are stored canonically: ARNs rebuilt with this installation's partition, region and account.
 */
import { arn, parseArn } from '../../core/index.js';
import { PolicyError } from './errors.js';

export type TargetKind = 'cert' | 'thinggroup' | 'cognito';

export interface Target {
  kind: TargetKind;
  /** Certificate id, thing group name, or Cognito identity id. */
  id: string;
  /** The canonical stored form: an ARN, or the Cognito identity id. */
  key: string;
}

const CERT_ID = /^[0-9a-fA-F]{64}$/;
const GROUP_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const COGNITO_ID = /^[a-z]{2}(-[a-z]+)+-\d+:[0-9a-fA-F-]{36}$/;

export const certificateTarget = (region: string, accountId: string, certificateId: string): string => arn(region, accountId, `cert/${certificateId}`);
export const thingGroupTarget = (region: string, accountId: string, groupName: string): string => arn(region, accountId, `thinggroup/${groupName}`);

/** Parses `text` as one of `kinds`; InvalidRequestException naming `field` otherwise. */
export function parseTarget(text: string, kinds: readonly TargetKind[], region: string, accountId: string, field: string): Target {
  const bad = (why: string): PolicyError => new PolicyError('policy.invalid_request', `Invalid ${field} '${text}': ${why}`);
  if (COGNITO_ID.test(text)) {
    if (!kinds.includes('cognito')) throw bad(`expected ${kinds.join(' or ')} ARN`);
    return { kind: 'cognito', id: text, key: text };
  }
  const a = parseArn(text);
  if (a === null || a.service !== 'iot') throw bad(`expected ${describe(kinds)}`);
  if (a.region !== region || a.accountId !== accountId) throw bad(`this server serves region ${region}, account ${accountId}`);
  const slash = a.resource.indexOf('/');
  const type = slash === -1 ? a.resource : a.resource.slice(0, slash);
  const id = slash === -1 ? '' : a.resource.slice(slash + 1);
  if (type === 'cert' && kinds.includes('cert')) {
    if (!CERT_ID.test(id)) throw bad('a certificate id is 64 hexadecimal characters');
    return { kind: 'cert', id: id.toLowerCase(), key: certificateTarget(region, accountId, id.toLowerCase()) };
  }
  if (type === 'thinggroup' && kinds.includes('thinggroup')) {
    if (!GROUP_NAME.test(id)) throw bad('not a thing group name');
    return { kind: 'thinggroup', id, key: thingGroupTarget(region, accountId, id) };
  }
  throw bad(`expected ${describe(kinds)}`);
}

function describe(kinds: readonly TargetKind[]): string {
  const names: Record<TargetKind, string> = { cert: 'a certificate ARN', thinggroup: 'a thing group ARN', cognito: 'an Amazon Cognito identity id' };
  return kinds.map((k) => names[k]).join(' or ');
}

/** The stored key of the target a connection's principal stands for (certificate id or Cognito identity id). */
export function principalTargetKey(principal: string, region: string, accountId: string): string {
  return COGNITO_ID.test(principal) ? principal : certificateTarget(region, accountId, principal);
}
