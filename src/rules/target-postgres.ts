/**
 * A shared PostgreSQL pool for `postgres` actions. Every value is a query parameter; table and
 * column names were checked and quoted when the rule was compiled. Rows queued for the same table
 * and columns in the same tick go in one multi-row INSERT; when the server rejects that statement
 * (a bad value in one row), the rows are inserted one by one so that only the bad row fails.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import type { Logger } from '../lib/index.js';
import { redactUrl, withTimeout } from './target-util.js';

interface QueuedRow {
  values: unknown[];
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Batch {
  table: string;
  columns: readonly string[];
  rows: QueuedRow[];
}

/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMETERS = 65_535;
const MAX_ROWS = 1000;

export class PostgresTarget {
  private readonly pool: pg.Pool;
  private readonly batches = new Map<string, Batch>();
  private scheduled = false;
  private readonly where: string;

  constructor(
    url: string,
    private readonly timeoutMs: number,
    logger: Logger,
  ) {
    this.where = redactUrl(url);
    this.pool = new pg.Pool({ connectionString: withDefaultUser(url), max: 4, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, idleTimeoutMillis: 30_000, application_name: 'thingport-rules' });
    // An idle client whose server went away: the pool drops it and opens a new one when needed.
    this.pool.on('error', (err) => logger.warn({ err, url: this.where }, 'PostgreSQL connection of rule actions failed'));
  }

  /** Inserts one row; `table` and `columns` are quoted identifiers. */
  insert(table: string, columns: readonly string[], values: unknown[]): Promise<void> {
    const row = new Promise<void>((resolve, reject) => {
      const key = `${table}\0${columns.join(',')}`;
      let b = this.batches.get(key);
      if (b === undefined) {
        b = { table, columns, rows: [] };
        this.batches.set(key, b);
      }
      b.rows.push({ values, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
    return withTimeout(row, this.timeoutMs, `insert into PostgreSQL ${this.where}`);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    for (const b of batches) {
      const per = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMETERS / b.columns.length)));
      for (let i = 0; i < b.rows.length; i += per) void this.write(b.table, b.columns, b.rows.slice(i, i + per));
    }
  }

  private async write(table: string, columns: readonly string[], rows: QueuedRow[]): Promise<void> {
    try {
      await this.query(table, columns, rows.map((r) => r.values));
      for (const r of rows) r.resolve();
    } catch (err) {
      // Only a statement the server refused is known not to have written anything; after a
      // connection error or a timeout, retrying could insert a row twice.
      if (rows.length === 1 || !(err instanceof pg.DatabaseError)) {
        for (const r of rows) r.reject(this.failure(err));
        return;
      }
      await Promise.all(
        rows.map(async (r) => {
          try {
            await this.query(table, columns, [r.values]);
            r.resolve();
          } catch (e) {
            r.reject(this.failure(e));
          }
        }),
      );
    }
  }

  private async query(table: string, columns: readonly string[], rows: unknown[][]): Promise<void> {
    const params: unknown[] = [];
    const tuples = rows.map((values) => `(${values.map((v) => `$${params.push(v)}`).join(', ')})`);
    await this.pool.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }

  private failure(err: unknown): Error {
    return new Error(`PostgreSQL ${this.where}: ${(err as Error).message}`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A URL without a user name connects as the operating-system user, as libpq (psql) does; the pg
 * driver would take $USER instead, which services and CI often lack.
 */
export function withDefaultUser(url: string): string {
  const u = new URL(url);
  if (u.username !== '' || u.searchParams.has('user')) return url;
  u.username = encodeURIComponent(userInfo().username);
  return u.toString();
}
