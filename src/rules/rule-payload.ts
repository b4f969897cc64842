/**
 * Reads a TopicRulePayload that may use Thingport's own actions (nats, amqp, postgres): the body of
 * `PUT /thingport/rules/{ruleName}` and each `rules.definitions` entry. AWS's members are read and
 * validated against AWS's model exactly as the AWS API does (same messages); Thingport's own
 * members are set aside for the action compiler, which checks them. Any other member is refused:
 * AWS's API drops unknown members silently, but here a typo must not lose an action.
 */
import { formatProblems, iotModel, ShapeCodec, type Problem } from '../http/index.js';
import { rulesErrors } from './errors.js';
import { THINGPORT_ACTIONS, type RuleAction, type RulePayload } from './model.js';

const codec = new ShapeCodec(iotModel);
const PAYLOAD_MEMBERS = new Set(codec.members('TopicRulePayload').map(([name]) => name));
const AWS_ACTIONS = new Set(codec.members('Action').map(([name]) => name));
const OWN_ACTIONS = new Set<string>(THINGPORT_ACTIONS);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits one action into its AWS part (for the codec) and its Thingport part. */
function split(action: unknown, where: string): { aws: unknown; own: Record<string, unknown> } {
  if (!isObject(action)) return { aws: action, own: {} };
  const aws: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(action)) {
    if (OWN_ACTIONS.has(k)) own[k] = v;
    else if (AWS_ACTIONS.has(k)) aws[k] = v;
    else throw rulesErrors.invalid(`${where}.${k} is not an action (AWS's: ${[...AWS_ACTIONS].join(', ')}; Thingport's: ${THINGPORT_ACTIONS.join(', ')})`);
  }
  return { aws, own };
}

/** Validates `raw` as a rule payload; throws RulesError (InvalidRequestException) naming the field. */
export function parseRulePayload(raw: unknown): RulePayload {
  if (!isObject(raw)) throw rulesErrors.invalid('the rule must be a TopicRulePayload JSON object: { sql, actions, errorAction?, description?, ruleDisabled?, awsIotSqlVersion? }');
  for (const k of Object.keys(raw)) {
    if (!PAYLOAD_MEMBERS.has(k)) throw rulesErrors.invalid(`${k} is not a member of TopicRulePayload (${[...PAYLOAD_MEMBERS].join(', ')})`);
  }
  const actions = Array.isArray(raw.actions) ? raw.actions.map((a, i) => split(a, `actions[${i}]`)) : null;
  const errorAction = raw.errorAction === undefined || raw.errorAction === null ? null : split(raw.errorAction, 'errorAction');
  const forCodec = { ...raw, ...(actions ? { actions: actions.map((a) => a.aws) } : {}), ...(errorAction ? { errorAction: errorAction.aws } : {}) };
  const problems: Problem[] = [];
  const read = codec.readJson('TopicRulePayload', forCodec, 'topicRulePayload', problems) as RulePayload | undefined;
  if (problems.length > 0 || read === undefined) throw rulesErrors.invalid(formatProblems(problems));
  if (actions) read.actions = read.actions.map((a, i) => ({ ...a, ...actions[i]!.own }) as RuleAction);
  if (errorAction && read.errorAction) read.errorAction = { ...read.errorAction, ...errorAction.own } as RuleAction;
  return read;
}
