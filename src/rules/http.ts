/**
 * The rules engine's AWS IoT API operations (topic rules and topic rule destinations). Errors
 * become AWS error types through one table; the router validated input against the model.
 */
import { AwsServiceError, paginate, type AwsHandlers, type IotOperations } from '../http/index.js';
import type { Destinations } from './destinations.js';
import { RulesError, type RulesErrorCode } from './errors.js';
import { THINGPORT_ACTIONS, type RuleAction, type StoredDestination, type StoredRule, type TopicRulePayload } from './model.js';
import type { RulesService } from './service.js';

const AWS_ERROR_TYPES: Record<RulesErrorCode, string> = {
  'rules.not_found': 'ResourceNotFoundException',
  'rules.already_exists': 'ResourceAlreadyExistsException',
  'rules.invalid_request': 'InvalidRequestException',
  'rules.sql_parse': 'SqlParseException',
  'rules.unauthorized': 'UnauthorizedException',
  'rules.conflict': 'ConflictingResourceUpdateException',
};

function translate(handlers: AwsHandlers<IotOperations>): AwsHandlers<IotOperations> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(handlers) as [string, (i: unknown, c: unknown) => unknown][]) {
    out[name] = async (i: unknown, c: unknown) => {
      try {
        return await fn(i, c);
      } catch (err) {
        if (err instanceof RulesError) throw new AwsServiceError(AWS_ERROR_TYPES[err.code], err.message, err.status, { cause: err });
        throw err;
      }
    };
  }
  return out as AwsHandlers<IotOperations>;
}

/** `x-amz-tagging` is a URL query string: `k1=v1&k2=v2`. */
function parseTags(header: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (header === undefined || header === '') return tags;
  for (const [k, v] of new URLSearchParams(header)) tags[k] = v;
  return tags;
}

/**
 * Thingport's own actions (nats, amqp, postgres) have no member in AWS's Action shape. GetTopicRule
 * shows each as an empty action `{}`, in its place: the list keeps its length, and a
 * Get -> ReplaceTopicRule round trip fails with InvalidRequestException instead of silently dropping
 * them. `GET /thingport/rules/{ruleName}` shows them in full.
 */
const awsAction = (a: RuleAction): RuleAction => (THINGPORT_ACTIONS.some((k) => a[k] !== undefined) ? {} : a);

const topicRule = (r: StoredRule) => ({
  ruleName: r.ruleName,
  sql: r.sql,
  description: r.description ?? undefined,
  createdAt: new Date(r.createdAt),
  actions: r.actions.map(awsAction),
  ruleDisabled: r.ruleDisabled,
  awsIotSqlVersion: r.awsIotSqlVersion,
  errorAction: r.errorAction === null ? undefined : awsAction(r.errorAction),
});

const destination = (d: StoredDestination) => ({
  arn: d.arn,
  status: d.status,
  createdAt: new Date(d.createdAt),
  lastUpdatedAt: new Date(d.lastUpdatedAt),
  statusReason: d.statusReason ?? undefined,
  httpUrlProperties: { confirmationUrl: d.confirmationUrl },
});

/** Handlers of CreateTopicRule ... DisableTopicRule and the topic rule destination operations. */
export function createRulesHandlers(svc: RulesService, destinations: Destinations): AwsHandlers<IotOperations> {
  return translate({
    CreateTopicRule: (i) => {
      svc.createRule(i.ruleName, i.topicRulePayload as TopicRulePayload, parseTags(i.tags));
      return {};
    },
    GetTopicRule: (i) => {
      const r = svc.getRule(i.ruleName);
      return { ruleArn: r.ruleArn, rule: topicRule(r) };
    },
    ListTopicRules: (i) => {
      const rules = svc.listRules({ topic: i.topic, ruleDisabled: i.ruleDisabled });
      const page = paginate(rules, { nextToken: i.nextToken, maxResults: i.maxResults }, 1000);
      return {
        rules: page.items.map((r) => ({ ruleArn: r.ruleArn, ruleName: r.ruleName, topicPattern: r.topicPattern, createdAt: new Date(r.createdAt), ruleDisabled: r.ruleDisabled })),
        ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}),
      };
    },
    ReplaceTopicRule: (i) => {
      svc.replaceRule(i.ruleName, i.topicRulePayload as TopicRulePayload);
      return {};
    },
    DeleteTopicRule: (i) => {
      svc.deleteRule(i.ruleName);
      return {};
    },
    EnableTopicRule: (i) => {
      svc.setEnabled(i.ruleName, true);
      return {};
    },
    DisableTopicRule: (i) => {
      svc.setEnabled(i.ruleName, false);
      return {};
    },
    CreateTopicRuleDestination: (i) => {
      const url = i.destinationConfiguration.httpUrlConfiguration?.confirmationUrl;
      if (url === undefined) throw new AwsServiceError('InvalidRequestException', 'only httpUrlConfiguration destinations are supported by Thingport', 400);
      return { topicRuleDestination: destination(destinations.create(url)) };
    },
    ConfirmTopicRuleDestination: (i) => {
      destinations.confirm(i.confirmationToken);
      return {};
    },
    GetTopicRuleDestination: (i) => ({ topicRuleDestination: destination(destinations.get(i.arn)) }),
    ListTopicRuleDestinations: (i) => {
      const page = paginate(destinations.list(), { nextToken: i.nextToken, maxResults: i.maxResults }, 1000);
      return {
        destinationSummaries: page.items.map((d) => ({ ...destination(d), httpUrlProperties: undefined, httpUrlSummary: { confirmationUrl: d.confirmationUrl } })),
        ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}),
      };
    },
    UpdateTopicRuleDestination: (i) => {
      destinations.update(i.arn, i.status);
      return {};
    },
    DeleteTopicRuleDestination: (i) => {
      destinations.delete(i.arn);
      return {};
    },
  });
}
