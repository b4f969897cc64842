/**
 * The embedded SQLite database every capability's SQLite store shares (one file,
 * `<data-dir>/thingport.db`, one better-sqlite3 handle per process), and versioned migrations per
 * module so stored data has an upgrade path (STYLE.md #10).
 */
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface SqliteOptions {
  /** `NORMAL` survives a killed process (WAL); `FULL` also power loss. */
  synchronous?: 'NORMAL' | 'FULL';
}

/** Opens (creating if needed) a database file in WAL mode with foreign keys on. `:memory:` works for tests. */
export function openDatabase(file: string, opts: SqliteOptions = {}): SqliteDatabase {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * Brings `module`'s tables up to date: `steps[i]` is the SQL that takes its schema from version i
 * to i + 1. Applied steps are recorded in `schema_versions`; a database written by a newer
 * Thingport (more steps than this one knows) is refused rather than misread.
 */
export function migrate(db: SqliteDatabase, module: string, steps: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (module TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_versions WHERE module = ?').get(module) as { version: number } | undefined;
  const current = row?.version ?? 0;
  if (current > steps.length) {
    throw new Error(`the ${module} tables are at schema version ${current}, newer than this Thingport understands (${steps.length}); upgrade Thingport`);
  }
  if (current === steps.length) return;
  db.transaction(() => {
    for (let v = current; v < steps.length; v++) db.exec(steps[v]);
    db.prepare('INSERT INTO schema_versions (module, version) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET version = excluded.version').run(module, steps.length);
  })();
}
