/** The shapes the rules engine stores and returns (AWS's TopicRulePayload, as the generated model types it). */
import type { IotOperations } from '../http/index.js';

export type TopicRulePayload = IotOperations['CreateTopicRule']['input']['topicRulePayload'];
export type RuleAction = NonNullable<TopicRulePayload['errorAction']>;

/** Schema version of a stored rule (STYLE.md #10): bump with an upgrade in store-sqlite.ts. */
export const RULE_SCHEMA_VERSION = 1;

export interface StoredRule {
  ruleName: string;
  ruleArn: string;
  sql: string;
  description: string | null;
  actions: RuleAction[];
  errorAction: RuleAction | null;
  ruleDisabled: boolean;
  awsIotSqlVersion: string;
  /** The FROM topic filter (ListTopicRules reports it as topicPattern). */
  topicPattern: string;
  createdAt: number;
  tags: Record<string, string>;
}

export type DestinationStatus = 'ENABLED' | 'IN_PROGRESS' | 'DISABLED' | 'ERROR' | 'DELETING';

export interface StoredDestination {
  arn: string;
  confirmationUrl: string;
  status: DestinationStatus;
  statusReason: string | null;
  confirmationToken: string;
  createdAt: number;
  lastUpdatedAt: number;
}
