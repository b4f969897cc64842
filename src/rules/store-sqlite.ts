/** The rules engine's tables in the shared SQLite database (`rules_*`, migrated as module 'rules'). */
import { migrate, type SqliteDatabase } from '../core/index.js';
import { parseJsonText, toJsonText } from './sql/index.js';
import { RULE_SCHEMA_VERSION, type StoredDestination, type StoredRule } from './model.js';
import type { RulesStore } from './store.js';

const MIGRATIONS = [
  `CREATE TABLE rules_rules (name TEXT PRIMARY KEY, schema_version INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE rules_destinations (arn TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE rules_items (tbl TEXT NOT NULL, hash_key TEXT NOT NULL, range_key TEXT NOT NULL, item TEXT NOT NULL, PRIMARY KEY (tbl, hash_key, range_key));`,
];

export class SqliteRulesStore implements RulesStore {
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'rules', MIGRATIONS);
  }

  getRule(name: string): StoredRule | null {
    const row = this.db.prepare('SELECT doc FROM rules_rules WHERE name = ?').get(name) as { doc: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.doc) as StoredRule);
  }
  listRules(): StoredRule[] {
    return (this.db.prepare('SELECT doc FROM rules_rules ORDER BY name').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as StoredRule);
  }
  insertRule(rule: StoredRule): boolean {
    const r = this.db.prepare('INSERT OR IGNORE INTO rules_rules (name, schema_version, doc) VALUES (?, ?, ?)').run(rule.ruleName, RULE_SCHEMA_VERSION, JSON.stringify(rule));
    return r.changes === 1;
  }
  updateRule(rule: StoredRule): void {
    this.db.prepare('UPDATE rules_rules SET doc = ?, schema_version = ? WHERE name = ?').run(JSON.stringify(rule), RULE_SCHEMA_VERSION, rule.ruleName);
  }
  deleteRule(name: string): boolean {
    return this.db.prepare('DELETE FROM rules_rules WHERE name = ?').run(name).changes === 1;
  }

  getDestination(arn: string): StoredDestination | null {
    const row = this.db.prepare('SELECT doc FROM rules_destinations WHERE arn = ?').get(arn) as { doc: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.doc) as StoredDestination);
  }
  getDestinationByToken(token: string): StoredDestination | null {
    const row = this.db.prepare('SELECT doc FROM rules_destinations WHERE token = ?').get(token) as { doc: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.doc) as StoredDestination);
  }
  listDestinations(): StoredDestination[] {
    return (this.db.prepare('SELECT doc FROM rules_destinations ORDER BY arn').all() as { doc: string }[]).map((r) => JSON.parse(r.doc) as StoredDestination);
  }
  putDestination(d: StoredDestination): void {
    this.db
      .prepare('INSERT INTO rules_destinations (arn, token, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET token = excluded.token, doc = excluded.doc')
      .run(d.arn, d.confirmationToken, JSON.stringify(d));
  }
  deleteDestination(arn: string): boolean {
    return this.db.prepare('DELETE FROM rules_destinations WHERE arn = ?').run(arn).changes === 1;
  }

  putItem(table: string, hashKey: string, rangeKey: string, item: Record<string, unknown>): void {
    this.db
      .prepare('INSERT INTO rules_items (tbl, hash_key, range_key, item) VALUES (?, ?, ?, ?) ON CONFLICT (tbl, hash_key, range_key) DO UPDATE SET item = excluded.item')
      .run(table, hashKey, rangeKey, toJsonText(item)); // Decimals such as 7.0 kept as written
  }
  getItem(table: string, hashKey: string, rangeKey: string): Record<string, unknown> | null {
    const row = this.db.prepare('SELECT item FROM rules_items WHERE tbl = ? AND hash_key = ? AND range_key = ?').get(table, hashKey, rangeKey) as { item: string } | undefined;
    return row === undefined ? null : (parseJsonText(row.item, true) as Record<string, unknown>);
  }
  listItems(table: string, limit: number): Record<string, unknown>[] {
    return (this.db.prepare('SELECT item FROM rules_items WHERE tbl = ? ORDER BY hash_key, range_key LIMIT ?').all(table, limit) as { item: string }[]).map(
      (r) => parseJsonText(r.item, true) as Record<string, unknown>,
    );
  }
}
