/** The SQLite implementation of PolicyStore: tables `policy_*` in the shared database. */
import { migrate, type SqliteDatabase } from '../../core/index.js';
import type { PolicyAttachment, PolicyStore, PolicyTag, StoredPolicy, StoredVersion } from './store.js';

/** Schema steps of module `policy` (append only: each entry takes the schema one version up). */
const MIGRATIONS = [
  `CREATE TABLE policy_policies (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     default_version INTEGER NOT NULL,
     last_version INTEGER NOT NULL,
     generation_id TEXT NOT NULL,
     tags TEXT NOT NULL DEFAULT '[]',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE policy_versions (
     policy_name TEXT NOT NULL REFERENCES policy_policies(name) ON DELETE CASCADE,
     version_id INTEGER NOT NULL,
     document TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (policy_name, version_id)
   );
   CREATE TABLE policy_attachments (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     policy_name TEXT NOT NULL REFERENCES policy_policies(name) ON DELETE CASCADE,
     target TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (policy_name, target)
   );
   CREATE INDEX policy_attachments_by_target ON policy_attachments(target);`,
];

interface PolicyRow {
  name: string;
  default_version: number;
  generation_id: string;
  tags: string;
  created_at: number;
  updated_at: number;
}
interface VersionRow {
  policy_name: string;
  version_id: number;
  document: string;
  created_at: number;
}

const toPolicy = (r: PolicyRow): StoredPolicy => ({
  name: r.name,
  defaultVersionId: r.default_version,
  generationId: r.generation_id,
  tags: JSON.parse(r.tags) as PolicyTag[],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toVersion = (r: VersionRow): StoredVersion => ({ policyName: r.policy_name, versionId: r.version_id, document: r.document, createdAt: r.created_at });

/** Creates the `policy_*` tables if needed and returns the store. */
export function createSqlitePolicyStore(db: SqliteDatabase): PolicyStore {
  migrate(db, 'policy', MIGRATIONS);
  const q = {
    get: db.prepare('SELECT * FROM policy_policies WHERE name = ?'),
    list: db.prepare('SELECT * FROM policy_policies ORDER BY id'),
    insert: db.prepare('INSERT INTO policy_policies (name, default_version, last_version, generation_id, tags, created_at, updated_at) VALUES (?, 1, 1, ?, ?, ?, ?)'),
    delete: db.prepare('DELETE FROM policy_policies WHERE name = ?'),
    versions: db.prepare('SELECT * FROM policy_versions WHERE policy_name = ? ORDER BY version_id'),
    version: db.prepare('SELECT * FROM policy_versions WHERE policy_name = ? AND version_id = ?'),
    insertVersion: db.prepare('INSERT INTO policy_versions (policy_name, version_id, document, created_at) VALUES (?, ?, ?, ?)'),
    bumpLast: db.prepare('UPDATE policy_policies SET last_version = last_version + 1 WHERE name = ? RETURNING last_version'),
    deleteVersion: db.prepare('DELETE FROM policy_versions WHERE policy_name = ? AND version_id = ?'),
    setDefault: db.prepare('UPDATE policy_policies SET default_version = ?, generation_id = ?, updated_at = ? WHERE name = ?'),
    attach: db.prepare('INSERT INTO policy_attachments (policy_name, target, created_at) VALUES (?, ?, ?) ON CONFLICT (policy_name, target) DO NOTHING'),
    detach: db.prepare('DELETE FROM policy_attachments WHERE policy_name = ? AND target = ?'),
    targets: db.prepare('SELECT target FROM policy_attachments WHERE policy_name = ? ORDER BY seq'),
    policiesOf: db.prepare('SELECT policy_name FROM policy_attachments WHERE target = ? ORDER BY seq'),
    attachments: db.prepare('SELECT policy_name, target FROM policy_attachments ORDER BY seq'),
  };
  const insertPolicy = db.transaction((p: { name: string; document: string; generationId: string; tags: PolicyTag[]; now: number }) => {
    q.insert.run(p.name, p.generationId, JSON.stringify(p.tags), p.now, p.now);
    q.insertVersion.run(p.name, 1, p.document, p.now);
  });
  const insertVersion = db.transaction((name: string, document: string, now: number): number => {
    const row = q.bumpLast.get(name) as { last_version: number } | undefined;
    if (row === undefined) throw new Error(`policy ${name} does not exist`);
    q.insertVersion.run(name, row.last_version, document, now);
    return row.last_version;
  });

  return {
    getPolicy: (name) => {
      const r = q.get.get(name) as PolicyRow | undefined;
      return r === undefined ? null : toPolicy(r);
    },
    listPolicies: () => (q.list.all() as PolicyRow[]).map(toPolicy),
    insertPolicy: (p) => insertPolicy(p),
    deletePolicy: (name) => q.delete.run(name).changes > 0,
    listVersions: (name) => (q.versions.all(name) as VersionRow[]).map(toVersion),
    getVersion: (name, id) => {
      const r = q.version.get(name, id) as VersionRow | undefined;
      return r === undefined ? null : toVersion(r);
    },
    insertVersion: (name, document, now) => insertVersion(name, document, now),
    deleteVersion: (name, id) => q.deleteVersion.run(name, id).changes > 0,
    setDefaultVersion: (name, id, generationId, now) => void q.setDefault.run(id, generationId, now, name),
    attach: (name, target, now) => q.attach.run(name, target, now).changes > 0,
    detach: (name, target) => q.detach.run(name, target).changes > 0,
    targetsOf: (name) => (q.targets.all(name) as { target: string }[]).map((r) => r.target),
    policiesOf: (target) => (q.policiesOf.all(target) as { policy_name: string }[]).map((r) => r.policy_name),
    attachments: (): PolicyAttachment[] => (q.attachments.all() as { policy_name: string; target: string }[]).map((r) => ({ policyName: r.policy_name, target: r.target })),
  };
}
