/** The rules engine's storage port. */
import type { StoredDestination, StoredRule } from './model.js';

export interface RulesStore {
  getRule(name: string): StoredRule | null;
  /** All rules in name order. */
  listRules(): StoredRule[];
  insertRule(rule: StoredRule): boolean;
  updateRule(rule: StoredRule): void;
  deleteRule(name: string): boolean;

  getDestination(arn: string): StoredDestination | null;
  getDestinationByToken(token: string): StoredDestination | null;
  listDestinations(): StoredDestination[];
  putDestination(d: StoredDestination): void;
  deleteDestination(arn: string): boolean;

  /** Local DynamoDB-style tables (dynamoDB / dynamoDBv2 actions, get_dynamodb). */
  putItem(table: string, hashKey: string, rangeKey: string, item: Record<string, unknown>): void;
  getItem(table: string, hashKey: string, rangeKey: string): Record<string, unknown> | null;
  listItems(table: string, limit: number): Record<string, unknown>[];
}
