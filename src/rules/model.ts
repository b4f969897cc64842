/** The shapes the rules engine stores and returns (AWS's TopicRulePayload, as the generated model types it). */
import type { IotOperations } from '../http/index.js';

/** A topic rule as the AWS API carries it. */
export type TopicRulePayload = IotOperations['CreateTopicRule']['input']['topicRulePayload'];
/** One Action of AWS's model. */
export type AwsRuleAction = NonNullable<TopicRulePayload['errorAction']>;

/** Beyond AWS: publish the rule output to a NATS subject. */
export interface NatsAction {
  /** Server URL (`nats://`, `tls://`); default `rules.nats.url`. */
  url?: string;
  /** Substitution templates allowed. */
  subject: string;
  /** NATS message headers; values allow substitution templates. */
  headers?: { key: string; value: string }[];
}

/** Beyond AWS: publish the rule output to an AMQP 0-9-1 exchange (RabbitMQ). */
export interface AmqpAction {
  /** Broker URL (`amqp://`, `amqps://`); default `rules.amqp.url`. */
  url?: string;
  /** The exchange; `''` is the default exchange (the routing key names a queue). */
  exchange: string;
  /** Substitution templates allowed. */
  routingKey: string;
  /** Message headers; values allow substitution templates. */
  headers?: { key: string; value: string }[];
  /** Delivery mode 2 (the broker writes the message to disk in durable queues). */
  persistent?: boolean;
}

/** Beyond AWS: insert one row per message into a PostgreSQL table. */
export interface PostgresAction {
  /** Connection URL (`postgres://user@host:port/db`); default `rules.postgres.url`. */
  url?: string;
  /** `table` or `schema.table`; quoted as written, so case matters. */
  table: string;
  /**
   * Column -> value. A value with `${...}` is a substitution template (reads the original payload);
   * any other value is a path into the SQL output (`temp`, `a.b`, `*` for the whole output).
   * Absent: the output goes as JSON into a `payload` column.
   */
  columns?: Record<string, string>;
}

/** An action: one of AWS's, or one of Thingport's own (accepted by Thingport's rule API and config only). */
export type RuleAction = AwsRuleAction & { nats?: NatsAction; amqp?: AmqpAction; postgres?: PostgresAction };

/** Action members that AWS's model does not have. */
export const THINGPORT_ACTIONS = ['nats', 'amqp', 'postgres'] as const;
export type ThingportActionName = (typeof THINGPORT_ACTIONS)[number];

/** A topic rule that may use Thingport's own actions (Thingport's rule API and `rules.definitions`). */
export type RulePayload = Omit<TopicRulePayload, 'actions' | 'errorAction'> & { actions: RuleAction[]; errorAction?: RuleAction };

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
