/**
 * The broker's SQLite tables, and the upgrade of data directories written by older versions.
 *
 * Version 2 stores a message that several persistent sessions queue in the same batch once, in
 * `broker_messages`, and each receiver's `broker_queue` row references it; a message with a single
 * receiver stays inline in its queue row (one row to write and to delete, not two). Version 1 had every
 * message inline.
 */
import type Database from 'better-sqlite3';

export const SCHEMA_VERSION = 2;

const TABLES = `
CREATE TABLE IF NOT EXISTS broker_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS broker_sessions (
  client_id TEXT PRIMARY KEY, expiry_interval INTEGER NOT NULL, disconnected_at INTEGER, protocol_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS broker_subscriptions (
  client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER,
  PRIMARY KEY (client_id, filter));
CREATE TABLE IF NOT EXISTS broker_retained (
  topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT);
CREATE TABLE IF NOT EXISTS broker_incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id));
`;

/** v2: shared message rows, and queue rows that either reference one or carry the message inline. */
const QUEUE_V2 = `
CREATE TABLE IF NOT EXISTS broker_messages (
  id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  properties TEXT, expires_at INTEGER NOT NULL, origin TEXT);
CREATE TABLE IF NOT EXISTS broker_queue (
  client_id TEXT NOT NULL, seq INTEGER NOT NULL,
  message_id INTEGER,
  topic TEXT, payload BLOB, msg_qos INTEGER, msg_retain INTEGER, properties TEXT, expires_at INTEGER, origin TEXT,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, subscription_ids TEXT, state TEXT NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq),
  CHECK ((message_id IS NULL) = (topic IS NOT NULL)));
`;

/**
 * Creates the tables on a new database, upgrades an older layout in one transaction, and refuses a
 * database written by a newer Thingport.
 */
export function openBrokerSchema(db: Database.Database): void {
  db.transaction(() => {
    db.exec(TABLES);
    const row = db.prepare("SELECT value FROM broker_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    const version = row === undefined ? null : Number(row.value);
    if (version !== null && version > SCHEMA_VERSION)
      throw new Error(`broker storage schema ${version} is newer than this Thingport understands (${SCHEMA_VERSION})`);
    // The layout decides, not only the recorded version: a v1 queue has no message_id column.
    const cols = db.pragma('table_info(broker_queue)') as { name: string }[];
    if (cols.length > 0 && !cols.some((c) => c.name === 'message_id')) migrateV1(db);
    db.exec(QUEUE_V2);
    db.prepare("INSERT OR REPLACE INTO broker_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  })();
}

/** v1 → v2: every queued message stays inline; the shared table starts empty. */
function migrateV1(db: Database.Database): void {
  db.exec('ALTER TABLE broker_queue RENAME TO broker_queue_v1');
  db.exec(QUEUE_V2);
  db.exec(`INSERT INTO broker_queue (client_id, seq, message_id, topic, payload, msg_qos, msg_retain, properties, expires_at, origin,
      qos, retain, subscription_ids, state, packet_id)
    SELECT client_id, seq, NULL, topic, payload, msg_qos, msg_retain, properties, expires_at, origin,
      qos, retain, subscription_ids, state, packet_id FROM broker_queue_v1`);
  db.exec('DROP TABLE broker_queue_v1');
}
