/**
 * The shadow store on the shared embedded SQLite database (tables `shadow_*`). Every commit is a
 * transaction of its own: better-sqlite3 is synchronous, so when `commit` returns the row and its
 * history entry are in the WAL and survive a killed process (synchronous=NORMAL; FULL also
 * survives power loss — `storageSync: full`).
 */
import { migrate, type SqliteDatabase } from '../core/index.js';
import type { HistoryQuery, ShadowHistoryEntry, ShadowRecord, ShadowStore } from './store.js';

/** Schema versions of the `shadow` module; append, never edit (STYLE.md #10). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE shadow_documents (
     thing_name TEXT NOT NULL, shadow_name TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
     desired TEXT, reported TEXT, metadata_desired TEXT, metadata_reported TEXT, updated_at INTEGER NOT NULL,
     PRIMARY KEY (thing_name, shadow_name)) WITHOUT ROWID;
   CREATE TABLE shadow_history (
     id INTEGER PRIMARY KEY AUTOINCREMENT, thing_name TEXT NOT NULL, shadow_name TEXT NOT NULL,
     version INTEGER NOT NULL, operation TEXT NOT NULL, at INTEGER NOT NULL, principal TEXT, client_id TEXT,
     client_token TEXT, request TEXT, state TEXT);
   CREATE INDEX shadow_history_shadow ON shadow_history (thing_name, shadow_name, id);
   CREATE INDEX shadow_history_at ON shadow_history (at);`,
];

interface DocRow {
  thing_name: string; shadow_name: string; version: number; deleted: number; desired: string | null; reported: string | null;
  metadata_desired: string | null; metadata_reported: string | null; updated_at: number;
}
interface HistoryRow {
  thing_name: string; shadow_name: string; version: number; operation: string; at: number; principal: string | null;
  client_id: string | null; client_token: string | null; request: string | null; state: string | null;
}

const toRecord = (r: DocRow): ShadowRecord => ({
  thingName: r.thing_name,
  shadowName: r.shadow_name,
  version: r.version,
  deleted: r.deleted === 1,
  desired: r.desired,
  reported: r.reported,
  metadataDesired: r.metadata_desired,
  metadataReported: r.metadata_reported,
  updatedAt: r.updated_at,
});
const toEntry = (r: HistoryRow): ShadowHistoryEntry => ({
  thingName: r.thing_name,
  shadowName: r.shadow_name,
  version: r.version,
  operation: r.operation === 'delete' ? 'delete' : 'update',
  at: r.at,
  principal: r.principal,
  clientId: r.client_id,
  clientToken: r.client_token,
  request: r.request,
  state: r.state,
});

export class SqliteShadowStore implements ShadowStore {
  private readonly stmts;
  private readonly commitTx: (record: ShadowRecord, history: ShadowHistoryEntry | null) => void;

  constructor(private readonly db: SqliteDatabase) {
    migrate(db, 'shadow', MIGRATIONS);
    this.stmts = {
      get: db.prepare('SELECT * FROM shadow_documents WHERE thing_name = ? AND shadow_name = ?'),
      put: db.prepare(
        `INSERT INTO shadow_documents (thing_name, shadow_name, version, deleted, desired, reported, metadata_desired, metadata_reported, updated_at)
         VALUES (@thingName, @shadowName, @version, @deleted, @desired, @reported, @metadataDesired, @metadataReported, @updatedAt)
         ON CONFLICT (thing_name, shadow_name) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
           desired = excluded.desired, reported = excluded.reported, metadata_desired = excluded.metadata_desired,
           metadata_reported = excluded.metadata_reported, updated_at = excluded.updated_at`,
      ),
      addHistory: db.prepare(
        `INSERT INTO shadow_history (thing_name, shadow_name, version, operation, at, principal, client_id, client_token, request, state)
         VALUES (@thingName, @shadowName, @version, @operation, @at, @principal, @clientId, @clientToken, @request, @state)`,
      ),
      names: db.prepare(
        `SELECT shadow_name FROM shadow_documents WHERE thing_name = ? AND shadow_name <> '' AND deleted = 0 AND shadow_name > ?
         ORDER BY shadow_name LIMIT ?`,
      ),
      history: db.prepare(
        `SELECT * FROM shadow_history WHERE thing_name = @thingName AND shadow_name = @shadowName
           AND at >= @from AND at <= @to AND version > @afterVersion ORDER BY id LIMIT @limit`,
      ),
      historyAt: db.prepare('SELECT * FROM shadow_history WHERE thing_name = ? AND shadow_name = ? AND at <= ? ORDER BY id DESC LIMIT 1'),
      pruneOld: db.prepare('DELETE FROM shadow_history WHERE at < ?'),
      pruneOldOne: db.prepare('DELETE FROM shadow_history WHERE thing_name = ? AND shadow_name = ? AND at < ?'),
      pruneExcess: db.prepare(
        `DELETE FROM shadow_history WHERE thing_name = @thingName AND shadow_name = @shadowName AND id <= (
           SELECT id FROM shadow_history WHERE thing_name = @thingName AND shadow_name = @shadowName ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
      ),
      shadows: db.prepare('SELECT DISTINCT thing_name, shadow_name FROM shadow_history'),
    };
    this.commitTx = db.transaction((record: ShadowRecord, history: ShadowHistoryEntry | null) => {
      this.stmts.put.run({ ...record, deleted: record.deleted ? 1 : 0 });
      if (history !== null) this.stmts.addHistory.run(history);
    });
  }

  get(thingName: string, shadowName: string): ShadowRecord | null {
    const r = this.stmts.get.get(thingName, shadowName) as DocRow | undefined;
    return r === undefined ? null : toRecord(r);
  }

  commit(record: ShadowRecord, history: ShadowHistoryEntry | null): void {
    this.commitTx(record, history);
  }

  listNamedShadows(thingName: string, after: string | null, limit: number): string[] {
    return (this.stmts.names.all(thingName, after ?? '', limit) as { shadow_name: string }[]).map((r) => r.shadow_name);
  }

  history(q: HistoryQuery): ShadowHistoryEntry[] {
    const rows = this.stmts.history.all({
      thingName: q.thingName,
      shadowName: q.shadowName,
      from: q.from ?? Number.MIN_SAFE_INTEGER,
      to: q.to ?? Number.MAX_SAFE_INTEGER,
      afterVersion: q.afterVersion ?? -1,
      limit: q.limit,
    }) as HistoryRow[];
    return rows.map(toEntry);
  }

  historyAt(thingName: string, shadowName: string, at: number): ShadowHistoryEntry | null {
    const r = this.stmts.historyAt.get(thingName, shadowName, at) as HistoryRow | undefined;
    return r === undefined ? null : toEntry(r);
  }

  pruneHistory(before: number, keepPerShadow: number, only?: { thingName: string; shadowName: string }): number {
    return this.db.transaction(() => {
      let n = 0;
      const targets = only !== undefined ? [only] : (this.stmts.shadows.all() as { thing_name: string; shadow_name: string }[]).map((r) => ({ thingName: r.thing_name, shadowName: r.shadow_name }));
      if (only !== undefined) n += this.stmts.pruneOldOne.run(only.thingName, only.shadowName, before).changes;
      else n += this.stmts.pruneOld.run(before).changes;
      for (const t of targets) n += this.stmts.pruneExcess.run({ ...t, keep: keepPerShadow }).changes;
      return n;
    })();
  }
}
