/**
 * Storage of custom authorizers (CreateAuthorizer ...) and the default authorizer: the port and its
 * SQLite adapter (tables `identity_authorizers`, `identity_authorizer_settings`, migrated as module
 * `identity_authorizers`). Synchronous like the identity store: the connect path reads it.
 */
import { migrate, type SqliteDatabase } from '../core/index.js';

export type AuthorizerStatus = 'ACTIVE' | 'INACTIVE';

export interface AuthorizerRecord {
  authorizerName: string;
  authorizerFunctionArn: string;
  /** The name of the token in headers, query parameters or the MQTT user name query; null when signing is disabled and none was given. */
  tokenKeyName: string | null;
  /** Key name -> PEM public key (RSA, at least 2048 bits). */
  tokenSigningPublicKeys: Record<string, string>;
  status: AuthorizerStatus;
  signingDisabled: boolean;
  enableCachingForHttp: boolean;
  tags: Array<{ Key: string; Value?: string }>;
  /** ms since the epoch */
  createdAt: number;
  lastModifiedAt: number;
}

/** Rows after `offset`, at most `limit`, by creation time; optionally only one status. */
export interface AuthorizerListWindow {
  offset: number;
  limit: number;
  ascending: boolean;
  status?: AuthorizerStatus;
}

export interface AuthorizerStore {
  getAuthorizer(name: string): AuthorizerRecord | null;
  /** Inserts; false when the name exists. */
  insertAuthorizer(rec: AuthorizerRecord): boolean;
  /** Replaces every field but the name and creation time; false when absent. */
  updateAuthorizer(rec: AuthorizerRecord): boolean;
  deleteAuthorizer(name: string): boolean;
  /** A page of the list plus whether more rows follow it. */
  listAuthorizers(window: AuthorizerListWindow): { items: AuthorizerRecord[]; more: boolean };
  getDefaultAuthorizer(): string | null;
  /** Sets (a name) or clears (null) the default authorizer. */
  setDefaultAuthorizer(name: string | null): void;
}

/** schema steps: index i takes the tables from version i to i + 1 (STYLE.md #10). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE identity_authorizers (
     name TEXT PRIMARY KEY,
     function_arn TEXT NOT NULL,
     token_key_name TEXT,
     public_keys TEXT NOT NULL,
     status TEXT NOT NULL,
     signing_disabled INTEGER NOT NULL,
     caching_for_http INTEGER NOT NULL,
     tags TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_modified_at INTEGER NOT NULL
   );
   CREATE INDEX identity_authorizers_created ON identity_authorizers (created_at, name);
   CREATE TABLE identity_authorizer_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

interface Row {
  name: string;
  function_arn: string;
  token_key_name: string | null;
  public_keys: string;
  status: string;
  signing_disabled: number;
  caching_for_http: number;
  tags: string;
  created_at: number;
  last_modified_at: number;
}

const recordOf = (r: Row): AuthorizerRecord => ({
  authorizerName: r.name,
  authorizerFunctionArn: r.function_arn,
  tokenKeyName: r.token_key_name,
  tokenSigningPublicKeys: JSON.parse(r.public_keys) as Record<string, string>,
  status: r.status as AuthorizerStatus,
  signingDisabled: r.signing_disabled === 1,
  enableCachingForHttp: r.caching_for_http === 1,
  tags: JSON.parse(r.tags) as AuthorizerRecord['tags'],
  createdAt: r.created_at,
  lastModifiedAt: r.last_modified_at,
});

const params = (a: AuthorizerRecord) => ({
  name: a.authorizerName,
  arn: a.authorizerFunctionArn,
  tokenKey: a.tokenKeyName,
  keys: JSON.stringify(a.tokenSigningPublicKeys),
  status: a.status,
  signing: a.signingDisabled ? 1 : 0,
  caching: a.enableCachingForHttp ? 1 : 0,
  tags: JSON.stringify(a.tags),
  created: a.createdAt,
  modified: a.lastModifiedAt,
});

const DEFAULT_KEY = 'default_authorizer';

/** Creates the tables if needed and returns the store over them. */
export function createSqliteAuthorizerStore(db: SqliteDatabase): AuthorizerStore {
  migrate(db, 'identity_authorizers', MIGRATIONS);
  const order = (asc: boolean): string => (asc ? 'ORDER BY created_at ASC, name ASC' : 'ORDER BY created_at DESC, name DESC');
  const q = {
    get: db.prepare('SELECT * FROM identity_authorizers WHERE name = ?'),
    insert: db.prepare(
      'INSERT OR IGNORE INTO identity_authorizers VALUES (@name, @arn, @tokenKey, @keys, @status, @signing, @caching, @tags, @created, @modified)',
    ),
    update: db.prepare(
      `UPDATE identity_authorizers SET function_arn = @arn, token_key_name = @tokenKey, public_keys = @keys, status = @status,
         signing_disabled = @signing, caching_for_http = @caching, tags = @tags, last_modified_at = @modified WHERE name = @name`,
    ),
    delete: db.prepare('DELETE FROM identity_authorizers WHERE name = ?'),
    listAsc: db.prepare(`SELECT * FROM identity_authorizers ${order(true)} LIMIT ? OFFSET ?`),
    listDesc: db.prepare(`SELECT * FROM identity_authorizers ${order(false)} LIMIT ? OFFSET ?`),
    listStatusAsc: db.prepare(`SELECT * FROM identity_authorizers WHERE status = ? ${order(true)} LIMIT ? OFFSET ?`),
    listStatusDesc: db.prepare(`SELECT * FROM identity_authorizers WHERE status = ? ${order(false)} LIMIT ? OFFSET ?`),
    settingGet: db.prepare('SELECT value FROM identity_authorizer_settings WHERE key = ?'),
    settingSet: db.prepare('INSERT INTO identity_authorizer_settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    settingDelete: db.prepare('DELETE FROM identity_authorizer_settings WHERE key = ?'),
  };
  let defaultName: string | null | undefined;
  return {
    getAuthorizer: (name) => {
      const r = q.get.get(name) as Row | undefined;
      return r === undefined ? null : recordOf(r);
    },
    insertAuthorizer: (rec) => q.insert.run(params(rec)).changes === 1,
    updateAuthorizer: (rec) => q.update.run(params(rec)).changes === 1,
    deleteAuthorizer: (name) => q.delete.run(name).changes === 1,
    listAuthorizers: (w) => {
      // One row more than asked tells whether another page follows.
      const rows = (
        w.status === undefined
          ? (w.ascending ? q.listAsc : q.listDesc).all(w.limit + 1, w.offset)
          : (w.ascending ? q.listStatusAsc : q.listStatusDesc).all(w.status, w.limit + 1, w.offset)
      ) as Row[];
      return { items: rows.slice(0, w.limit).map(recordOf), more: rows.length > w.limit };
    },
    // Read on every CONNECT without credentials: kept in memory (this store is its only writer).
    getDefaultAuthorizer: () => {
      if (defaultName === undefined) defaultName = (q.settingGet.get(DEFAULT_KEY) as { value: string } | undefined)?.value ?? null;
      return defaultName;
    },
    setDefaultAuthorizer: (name) => {
      if (name === null) q.settingDelete.run(DEFAULT_KEY);
      else q.settingSet.run(DEFAULT_KEY, name);
      defaultName = name;
    },
  };
}
