/**
 * The registry store on the shared embedded SQLite database (tables `registry_*`).
 *
 * Attributes are kept twice: as a JSON object on the thing row (what reads return) and one row
 * per attribute in `registry_thing_attributes`, indexed by (name, value), so ListThings'
 * attribute filters use an index instead of scanning every thing.
 */
import { migrate, type SqliteDatabase } from '../core/index.js';
import type {
  BillingGroupRecord,
  ListQuery,
  MembershipRecord,
  RegistryStore,
  ThingGroupRecord,
  ThingQuery,
  ThingRecord,
  ThingTypeRecord,
} from './store.js';

/** Schema versions of the `registry` module; append, never edit (STYLE.md #10). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE registry_things (
     name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, type_name TEXT, attributes TEXT NOT NULL,
     version INTEGER NOT NULL, billing_group TEXT, created_at INTEGER NOT NULL);
   CREATE INDEX registry_things_type ON registry_things (type_name, name);
   CREATE INDEX registry_things_billing ON registry_things (billing_group, name);
   CREATE TABLE registry_thing_attributes (
     thing_name TEXT NOT NULL REFERENCES registry_things (name) ON DELETE CASCADE,
     name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (thing_name, name));
   CREATE INDEX registry_thing_attributes_value ON registry_thing_attributes (name, value);
   CREATE TABLE registry_thing_types (
     name TEXT PRIMARY KEY, id TEXT NOT NULL, description TEXT, searchable_attributes TEXT NOT NULL,
     deprecated INTEGER NOT NULL, deprecated_at INTEGER, created_at INTEGER NOT NULL);
   CREATE TABLE registry_thing_groups (
     name TEXT PRIMARY KEY, id TEXT NOT NULL, parent_name TEXT, description TEXT,
     attributes TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL);
   CREATE INDEX registry_thing_groups_parent ON registry_thing_groups (parent_name, name);
   CREATE TABLE registry_group_members (
     group_name TEXT NOT NULL REFERENCES registry_thing_groups (name) ON DELETE CASCADE,
     thing_name TEXT NOT NULL REFERENCES registry_things (name) ON DELETE CASCADE,
     membership_id TEXT NOT NULL, added_at INTEGER NOT NULL, PRIMARY KEY (group_name, thing_name));
   CREATE INDEX registry_group_members_thing ON registry_group_members (thing_name, group_name);
   CREATE TABLE registry_billing_groups (
     name TEXT PRIMARY KEY, id TEXT NOT NULL, description TEXT, version INTEGER NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE registry_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

interface ThingRow { name: string; id: string; type_name: string | null; attributes: string; version: number; billing_group: string | null; created_at: number }
interface TypeRow { name: string; id: string; description: string | null; searchable_attributes: string; deprecated: number; deprecated_at: number | null; created_at: number }
interface GroupRow { name: string; id: string; parent_name: string | null; description: string | null; attributes: string; version: number; created_at: number }
interface BillingRow { name: string; id: string; description: string | null; version: number; created_at: number }
interface MemberRow { group_name: string; thing_name: string; membership_id: string; added_at: number }

const toThing = (r: ThingRow): ThingRecord => ({
  thingName: r.name,
  thingId: r.id,
  thingTypeName: r.type_name,
  attributes: JSON.parse(r.attributes) as Record<string, string>,
  version: r.version,
  billingGroupName: r.billing_group,
  createdAt: r.created_at,
});
const toType = (r: TypeRow): ThingTypeRecord => ({
  thingTypeName: r.name,
  thingTypeId: r.id,
  description: r.description,
  searchableAttributes: JSON.parse(r.searchable_attributes) as string[],
  deprecated: r.deprecated === 1,
  deprecatedAt: r.deprecated_at,
  createdAt: r.created_at,
});
const toGroup = (r: GroupRow): ThingGroupRecord => ({
  thingGroupName: r.name,
  thingGroupId: r.id,
  parentGroupName: r.parent_name,
  description: r.description,
  attributes: JSON.parse(r.attributes) as Record<string, string>,
  version: r.version,
  createdAt: r.created_at,
});
const toBilling = (r: BillingRow): BillingGroupRecord => ({ billingGroupName: r.name, billingGroupId: r.id, description: r.description, version: r.version, createdAt: r.created_at });
const toMember = (r: MemberRow): MembershipRecord => ({ thingGroupName: r.group_name, thingName: r.thing_name, membershipId: r.membership_id, addedAt: r.added_at });

/**
 * "`column` starts with `prefix`" as a range, so an index serves it and case matters (SQLite's
 * LIKE ignores ASCII case; AWS names and values are case-sensitive). Text compares bytewise
 * (BINARY collation), and U+10FFFF sorts after every other character.
 */
function startsWith(where: string[], params: unknown[], column: string, prefix: string): void {
  where.push(`${column} >= ? AND ${column} < ?`);
  params.push(prefix, `${prefix}\u{10FFFF}`);
}

/** Keyset-pagination tail shared by every list: `name > ?` (when given) and the limit. */
function page(where: string[], params: unknown[], q: ListQuery, column = 'name'): string {
  if (q.after !== undefined) {
    where.push(`${column} > ?`);
    params.push(q.after);
  }
  params.push(q.limit);
  return `${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${column} LIMIT ?`;
}

export class SqliteRegistryStore implements RegistryStore {
  private readonly stmts;

  /** Uses (and migrates) the shared database handle; does not own it. */
  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'registry', MIGRATIONS);
    const p = (sql: string) => db.prepare(sql);
    this.stmts = {
      getThing: p('SELECT * FROM registry_things WHERE name = ?'),
      putThing: p(`INSERT INTO registry_things (name, id, type_name, attributes, version, billing_group, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET id = excluded.id, type_name = excluded.type_name, attributes = excluded.attributes,
        version = excluded.version, billing_group = excluded.billing_group, created_at = excluded.created_at`),
      clearAttributes: p('DELETE FROM registry_thing_attributes WHERE thing_name = ?'),
      putAttribute: p('INSERT INTO registry_thing_attributes (thing_name, name, value) VALUES (?, ?, ?)'),
      deleteThing: p('DELETE FROM registry_things WHERE name = ?'),
      countOfType: p('SELECT COUNT(*) AS n FROM registry_things WHERE type_name = ?'),
      getType: p('SELECT * FROM registry_thing_types WHERE name = ?'),
      putType: p(`INSERT OR REPLACE INTO registry_thing_types (name, id, description, searchable_attributes, deprecated, deprecated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      deleteType: p('DELETE FROM registry_thing_types WHERE name = ?'),
      getGroup: p('SELECT * FROM registry_thing_groups WHERE name = ?'),
      putGroup: p(`INSERT INTO registry_thing_groups (name, id, parent_name, description, attributes, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET id = excluded.id, parent_name = excluded.parent_name, description = excluded.description,
        attributes = excluded.attributes, version = excluded.version, created_at = excluded.created_at`),
      deleteGroup: p('DELETE FROM registry_thing_groups WHERE name = ?'),
      childNames: p('SELECT name FROM registry_thing_groups WHERE parent_name = ? ORDER BY name'),
      getMember: p('SELECT * FROM registry_group_members WHERE group_name = ? AND thing_name = ?'),
      putMember: p('INSERT OR REPLACE INTO registry_group_members (group_name, thing_name, membership_id, added_at) VALUES (?, ?, ?, ?)'),
      deleteMember: p('DELETE FROM registry_group_members WHERE group_name = ? AND thing_name = ?'),
      membersOfThing: p('SELECT * FROM registry_group_members WHERE thing_name = ? ORDER BY group_name'),
      membersOfGroup: p('SELECT * FROM registry_group_members WHERE group_name = ? ORDER BY thing_name'),
      thingsInGroups: p(`SELECT DISTINCT thing_name FROM registry_group_members WHERE group_name IN (SELECT value FROM json_each(?))
        AND thing_name > ? ORDER BY thing_name LIMIT ?`),
      getBilling: p('SELECT * FROM registry_billing_groups WHERE name = ?'),
      putBilling: p('INSERT OR REPLACE INTO registry_billing_groups (name, id, description, version, created_at) VALUES (?, ?, ?, ?, ?)'),
      deleteBilling: p('DELETE FROM registry_billing_groups WHERE name = ?'),
      clearBilling: p('UPDATE registry_things SET billing_group = NULL WHERE billing_group = ?'),
      getSetting: p('SELECT value FROM registry_settings WHERE key = ?'),
      putSetting: p('INSERT OR REPLACE INTO registry_settings (key, value) VALUES (?, ?)'),
    };
  }

  transaction<T>(fn: () => T): T {
    // better-sqlite3 turns a nested transaction into a savepoint, so nesting joins the outer one.
    return this.db.transaction(fn)();
  }

  getThing(thingName: string): ThingRecord | null {
    const row = this.stmts.getThing.get(thingName) as ThingRow | undefined;
    return row === undefined ? null : toThing(row);
  }

  putThing(t: ThingRecord): void {
    this.transaction(() => {
      this.stmts.putThing.run(t.thingName, t.thingId, t.thingTypeName, JSON.stringify(t.attributes), t.version, t.billingGroupName, t.createdAt);
      this.stmts.clearAttributes.run(t.thingName);
      for (const [name, value] of Object.entries(t.attributes)) this.stmts.putAttribute.run(t.thingName, name, value);
    });
  }

  deleteThing(thingName: string): boolean {
    // Attribute rows and memberships go with it (ON DELETE CASCADE; foreign keys are on).
    return this.stmts.deleteThing.run(thingName).changes > 0;
  }

  listThings(q: ThingQuery): ThingRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.thingTypeName !== undefined) {
      where.push('type_name = ?');
      params.push(q.thingTypeName);
    }
    if (q.billingGroupName !== undefined) {
      where.push('billing_group = ?');
      params.push(q.billingGroupName);
    }
    if (q.attributeName !== undefined) {
      let cond = 'a.thing_name = t.name AND a.name = ?';
      params.push(q.attributeName);
      if (q.attributeValue !== undefined) {
        const conds: string[] = [];
        if (q.attributeValuePrefix) startsWith(conds, params, 'a.value', q.attributeValue);
        else {
          conds.push('a.value = ?');
          params.push(q.attributeValue);
        }
        cond += ` AND ${conds.join(' AND ')}`;
      }
      where.push(`EXISTS (SELECT 1 FROM registry_thing_attributes a WHERE ${cond})`);
    }
    const tail = page(where, params, q, 't.name');
    return (this.db.prepare(`SELECT t.* FROM registry_things t${tail}`).all(...params) as ThingRow[]).map(toThing);
  }

  countThingsOfType(thingTypeName: string): number {
    return (this.stmts.countOfType.get(thingTypeName) as { n: number }).n;
  }

  getThingType(thingTypeName: string): ThingTypeRecord | null {
    const row = this.stmts.getType.get(thingTypeName) as TypeRow | undefined;
    return row === undefined ? null : toType(row);
  }

  putThingType(t: ThingTypeRecord): void {
    this.stmts.putType.run(t.thingTypeName, t.thingTypeId, t.description, JSON.stringify(t.searchableAttributes), t.deprecated ? 1 : 0, t.deprecatedAt, t.createdAt);
  }

  deleteThingType(thingTypeName: string): boolean {
    return this.stmts.deleteType.run(thingTypeName).changes > 0;
  }

  listThingTypes(q: ListQuery & { thingTypeName?: string }): ThingTypeRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.thingTypeName !== undefined) {
      where.push('name = ?');
      params.push(q.thingTypeName);
    }
    const tail = page(where, params, q);
    return (this.db.prepare(`SELECT * FROM registry_thing_types${tail}`).all(...params) as TypeRow[]).map(toType);
  }

  getThingGroup(thingGroupName: string): ThingGroupRecord | null {
    const row = this.stmts.getGroup.get(thingGroupName) as GroupRow | undefined;
    return row === undefined ? null : toGroup(row);
  }

  putThingGroup(g: ThingGroupRecord): void {
    this.stmts.putGroup.run(g.thingGroupName, g.thingGroupId, g.parentGroupName, g.description, JSON.stringify(g.attributes), g.version, g.createdAt);
  }

  deleteThingGroup(thingGroupName: string): boolean {
    return this.stmts.deleteGroup.run(thingGroupName).changes > 0;
  }

  listThingGroups(q: ListQuery & { parentGroupName?: string; namePrefix?: string }): ThingGroupRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.parentGroupName !== undefined) {
      where.push('parent_name = ?');
      params.push(q.parentGroupName);
    }
    if (q.namePrefix !== undefined) startsWith(where, params, 'name', q.namePrefix);
    const tail = page(where, params, q);
    return (this.db.prepare(`SELECT * FROM registry_thing_groups${tail}`).all(...params) as GroupRow[]).map(toGroup);
  }

  listChildGroupNames(thingGroupName: string): string[] {
    return (this.stmts.childNames.all(thingGroupName) as { name: string }[]).map((r) => r.name);
  }

  getMembership(thingGroupName: string, thingName: string): MembershipRecord | null {
    const row = this.stmts.getMember.get(thingGroupName, thingName) as MemberRow | undefined;
    return row === undefined ? null : toMember(row);
  }

  putMembership(m: MembershipRecord): void {
    this.stmts.putMember.run(m.thingGroupName, m.thingName, m.membershipId, m.addedAt);
  }

  deleteMembership(thingGroupName: string, thingName: string): boolean {
    return this.stmts.deleteMember.run(thingGroupName, thingName).changes > 0;
  }

  listMembershipsOfThing(thingName: string): MembershipRecord[] {
    return (this.stmts.membersOfThing.all(thingName) as MemberRow[]).map(toMember);
  }

  listMembershipsOfGroup(thingGroupName: string): MembershipRecord[] {
    return (this.stmts.membersOfGroup.all(thingGroupName) as MemberRow[]).map(toMember);
  }

  listThingNamesInGroups(thingGroupNames: readonly string[], q: ListQuery): string[] {
    const rows = this.stmts.thingsInGroups.all(JSON.stringify(thingGroupNames), q.after ?? '', q.limit) as { thing_name: string }[];
    return rows.map((r) => r.thing_name);
  }

  getBillingGroup(billingGroupName: string): BillingGroupRecord | null {
    const row = this.stmts.getBilling.get(billingGroupName) as BillingRow | undefined;
    return row === undefined ? null : toBilling(row);
  }

  putBillingGroup(g: BillingGroupRecord): void {
    this.stmts.putBilling.run(g.billingGroupName, g.billingGroupId, g.description, g.version, g.createdAt);
  }

  deleteBillingGroup(billingGroupName: string): boolean {
    return this.transaction(() => {
      this.stmts.clearBilling.run(billingGroupName);
      return this.stmts.deleteBilling.run(billingGroupName).changes > 0;
    });
  }

  listBillingGroups(q: ListQuery & { namePrefix?: string }): BillingGroupRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.namePrefix !== undefined) startsWith(where, params, 'name', q.namePrefix);
    const tail = page(where, params, q);
    return (this.db.prepare(`SELECT * FROM registry_billing_groups${tail}`).all(...params) as BillingRow[]).map(toBilling);
  }

  getSetting(key: string): string | null {
    const row = this.stmts.getSetting.get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  putSetting(key: string, value: string): void {
    this.stmts.putSetting.run(key, value);
  }
}
