/**
 * The identity store on the shared SQLite database (tables `identity_*`, migrated as module
 * `identity`). Statements are prepared once; every call is one statement (or one transaction).
 */
import { migrate, type SqliteDatabase } from '../core/index.js';
import type {
  AccessKeyRecord,
  CaCertificateRecord,
  CertificateRecord,
  IdentityStore,
  ThingPrincipalRecord,
} from './store.js';

/** schema steps: index i takes the identity tables from version i to i + 1 (STYLE.md #10). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE identity_certificates (
     certificate_id TEXT PRIMARY KEY,
     certificate_pem TEXT NOT NULL,
     status TEXT NOT NULL,
     origin TEXT NOT NULL,
     ca_certificate_id TEXT,
     certificate_mode TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_modified_at INTEGER NOT NULL,
     customer_version INTEGER NOT NULL,
     generation_id TEXT NOT NULL,
     not_before INTEGER NOT NULL,
     not_after INTEGER NOT NULL
   );
   CREATE INDEX identity_certificates_created ON identity_certificates (created_at, certificate_id);
   CREATE INDEX identity_certificates_ca ON identity_certificates (ca_certificate_id, created_at);
   CREATE TABLE identity_ca_certificates (
     certificate_id TEXT PRIMARY KEY,
     certificate_pem TEXT NOT NULL,
     status TEXT NOT NULL,
     auto_registration_status TEXT NOT NULL,
     certificate_mode TEXT NOT NULL,
     registration_config TEXT,
     subject TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_modified_at INTEGER NOT NULL,
     customer_version INTEGER NOT NULL,
     generation_id TEXT NOT NULL,
     not_before INTEGER NOT NULL,
     not_after INTEGER NOT NULL
   );
   CREATE INDEX identity_ca_certificates_subject ON identity_ca_certificates (subject);
   CREATE TABLE identity_thing_principals (
     thing_name TEXT NOT NULL,
     certificate_id TEXT NOT NULL,
     principal_type TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (thing_name, certificate_id)
   );
   CREATE INDEX identity_thing_principals_principal ON identity_thing_principals (certificate_id);
   CREATE TABLE identity_access_keys (
     access_key_id TEXT PRIMARY KEY,
     secret TEXT NOT NULL,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE identity_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

interface CertRow {
  certificate_id: string;
  certificate_pem: string;
  status: string;
  origin: string;
  ca_certificate_id: string | null;
  certificate_mode: string;
  created_at: number;
  last_modified_at: number;
  customer_version: number;
  generation_id: string;
  not_before: number;
  not_after: number;
}

interface CaRow extends Omit<CertRow, 'origin' | 'ca_certificate_id'> {
  auto_registration_status: string;
  registration_config: string | null;
  subject: string;
}

interface BindingRow {
  thing_name: string;
  certificate_id: string;
  principal_type: string;
  created_at: number;
}

interface KeyRow {
  access_key_id: string;
  secret: string;
  name: string;
  created_at: number;
  status: string;
  revoked_at: number | null;
}

const certOf = (r: CertRow): CertificateRecord => ({
  certificateId: r.certificate_id,
  certificatePem: r.certificate_pem,
  status: r.status as CertificateRecord['status'],
  origin: r.origin as CertificateRecord['origin'],
  caCertificateId: r.ca_certificate_id,
  certificateMode: r.certificate_mode as CertificateRecord['certificateMode'],
  createdAt: r.created_at,
  lastModifiedAt: r.last_modified_at,
  customerVersion: r.customer_version,
  generationId: r.generation_id,
  notBefore: r.not_before,
  notAfter: r.not_after,
});

const caOf = (r: CaRow): CaCertificateRecord => ({
  certificateId: r.certificate_id,
  certificatePem: r.certificate_pem,
  status: r.status as CaCertificateRecord['status'],
  autoRegistrationStatus: r.auto_registration_status as CaCertificateRecord['autoRegistrationStatus'],
  certificateMode: r.certificate_mode as CaCertificateRecord['certificateMode'],
  registrationConfig: r.registration_config === null ? null : (JSON.parse(r.registration_config) as CaCertificateRecord['registrationConfig']),
  subject: r.subject,
  createdAt: r.created_at,
  lastModifiedAt: r.last_modified_at,
  customerVersion: r.customer_version,
  generationId: r.generation_id,
  notBefore: r.not_before,
  notAfter: r.not_after,
});

const bindingOf = (r: BindingRow): ThingPrincipalRecord => ({
  thingName: r.thing_name,
  certificateId: r.certificate_id,
  type: r.principal_type as ThingPrincipalRecord['type'],
  createdAt: r.created_at,
});

const keyOf = (r: KeyRow): AccessKeyRecord => ({
  accessKeyId: r.access_key_id,
  secretAccessKey: r.secret,
  name: r.name,
  createdAt: r.created_at,
  status: r.status as AccessKeyRecord['status'],
  revokedAt: r.revoked_at,
});

const certParams = (c: CertificateRecord) => ({
  id: c.certificateId,
  pem: c.certificatePem,
  status: c.status,
  origin: c.origin,
  ca: c.caCertificateId,
  mode: c.certificateMode,
  created: c.createdAt,
  modified: c.lastModifiedAt,
  version: c.customerVersion,
  generation: c.generationId,
  nb: c.notBefore,
  na: c.notAfter,
});

const caParams = (c: CaCertificateRecord) => ({
  id: c.certificateId,
  pem: c.certificatePem,
  status: c.status,
  auto: c.autoRegistrationStatus,
  mode: c.certificateMode,
  config: c.registrationConfig === null ? null : JSON.stringify(c.registrationConfig),
  subject: c.subject,
  created: c.createdAt,
  modified: c.lastModifiedAt,
  version: c.customerVersion,
  generation: c.generationId,
  nb: c.notBefore,
  na: c.notAfter,
});

/** Creates the identity tables if needed and returns the store over them. */
export function createSqliteIdentityStore(db: SqliteDatabase): IdentityStore {
  migrate(db, 'identity', MIGRATIONS);
  const ASC = 'ORDER BY created_at ASC, certificate_id ASC';
  const DESC = 'ORDER BY created_at DESC, certificate_id DESC';
  const q = {
    getCert: db.prepare('SELECT * FROM identity_certificates WHERE certificate_id = ?'),
    insertCert: db.prepare(
      `INSERT OR IGNORE INTO identity_certificates VALUES (@id, @pem, @status, @origin, @ca, @mode, @created, @modified, @version, @generation, @nb, @na)`,
    ),
    updateCert: db.prepare(
      `UPDATE identity_certificates SET status = @status, ca_certificate_id = @ca, last_modified_at = @modified, customer_version = @version,
         generation_id = @generation WHERE certificate_id = @id`,
    ),
    deleteCert: db.prepare('DELETE FROM identity_certificates WHERE certificate_id = ?'),
    listAsc: db.prepare(`SELECT * FROM identity_certificates ${ASC} LIMIT ? OFFSET ?`),
    listDesc: db.prepare(`SELECT * FROM identity_certificates ${DESC} LIMIT ? OFFSET ?`),
    listByCaAsc: db.prepare(`SELECT * FROM identity_certificates WHERE ca_certificate_id = ? ${ASC} LIMIT ? OFFSET ?`),
    listByCaDesc: db.prepare(`SELECT * FROM identity_certificates WHERE ca_certificate_id = ? ${DESC} LIMIT ? OFFSET ?`),
    count: db.prepare('SELECT count(*) AS n FROM identity_certificates'),
    countByCa: db.prepare('SELECT count(*) AS n FROM identity_certificates WHERE ca_certificate_id = ?'),
    getCa: db.prepare('SELECT * FROM identity_ca_certificates WHERE certificate_id = ?'),
    insertCa: db.prepare(
      `INSERT OR IGNORE INTO identity_ca_certificates VALUES (@id, @pem, @status, @auto, @mode, @config, @subject, @created, @modified, @version, @generation, @nb, @na)`,
    ),
    updateCa: db.prepare(
      `UPDATE identity_ca_certificates SET status = @status, auto_registration_status = @auto, registration_config = @config,
         last_modified_at = @modified, customer_version = @version, generation_id = @generation WHERE certificate_id = @id`,
    ),
    deleteCa: db.prepare('DELETE FROM identity_ca_certificates WHERE certificate_id = ?'),
    listCaAsc: db.prepare(`SELECT * FROM identity_ca_certificates ${ASC} LIMIT ? OFFSET ?`),
    listCaDesc: db.prepare(`SELECT * FROM identity_ca_certificates ${DESC} LIMIT ? OFFSET ?`),
    caBySubject: db.prepare('SELECT * FROM identity_ca_certificates WHERE subject = ? ORDER BY created_at'),
    bindingGet: db.prepare('SELECT * FROM identity_thing_principals WHERE thing_name = ? AND certificate_id = ?'),
    bindingUpsert: db.prepare(
      `INSERT INTO identity_thing_principals VALUES (@thingName, @certificateId, @type, @createdAt)
       ON CONFLICT (thing_name, certificate_id) DO UPDATE SET principal_type = excluded.principal_type`,
    ),
    bindingDelete: db.prepare('DELETE FROM identity_thing_principals WHERE thing_name = ? AND certificate_id = ?'),
    bindingsOfThing: db.prepare('SELECT * FROM identity_thing_principals WHERE thing_name = ? ORDER BY created_at, certificate_id'),
    bindingsOfPrincipal: db.prepare('SELECT * FROM identity_thing_principals WHERE certificate_id = ? ORDER BY created_at, thing_name'),
    bindingsDeleteThing: db.prepare('DELETE FROM identity_thing_principals WHERE thing_name = ? RETURNING certificate_id'),
    keyGet: db.prepare('SELECT * FROM identity_access_keys WHERE access_key_id = ?'),
    keyInsert: db.prepare(`INSERT OR IGNORE INTO identity_access_keys VALUES (@accessKeyId, @secretAccessKey, @name, @createdAt, @status, @revokedAt)`),
    keyRevoke: db.prepare(`UPDATE identity_access_keys SET status = 'REVOKED', revoked_at = ? WHERE access_key_id = ? AND status = 'ACTIVE'`),
    keyList: db.prepare('SELECT * FROM identity_access_keys ORDER BY created_at, access_key_id'),
    settingGet: db.prepare('SELECT value FROM identity_settings WHERE key = ?'),
    settingInsert: db.prepare('INSERT OR IGNORE INTO identity_settings VALUES (?, ?)'),
  };

  return {
    getCertificate: (id) => {
      const r = q.getCert.get(id) as CertRow | undefined;
      return r === undefined ? null : certOf(r);
    },
    insertCertificate: (rec) => q.insertCert.run(certParams(rec)).changes === 1,
    updateCertificate: (rec) => q.updateCert.run(certParams(rec)).changes === 1,
    deleteCertificate: (id) => q.deleteCert.run(id).changes === 1,
    listCertificates: (w, ca) => {
      const rows =
        ca === undefined
          ? (w.ascending ? q.listAsc : q.listDesc).all(w.limit, w.offset)
          : (w.ascending ? q.listByCaAsc : q.listByCaDesc).all(ca, w.limit, w.offset);
      return (rows as CertRow[]).map(certOf);
    },
    countCertificates: (ca) => ((ca === undefined ? q.count.get() : q.countByCa.get(ca)) as { n: number }).n,

    getCaCertificate: (id) => {
      const r = q.getCa.get(id) as CaRow | undefined;
      return r === undefined ? null : caOf(r);
    },
    insertCaCertificate: (rec) => q.insertCa.run(caParams(rec)).changes === 1,
    updateCaCertificate: (rec) => q.updateCa.run(caParams(rec)).changes === 1,
    deleteCaCertificate: (id) => q.deleteCa.run(id).changes === 1,
    listCaCertificates: (w) => ((w.ascending ? q.listCaAsc : q.listCaDesc).all(w.limit, w.offset) as CaRow[]).map(caOf),
    findCaCertificatesBySubject: (subject) => (q.caBySubject.all(subject) as CaRow[]).map(caOf),

    attachThingPrincipal: (rec) =>
      db.transaction(() => {
        const existed = q.bindingGet.get(rec.thingName, rec.certificateId) !== undefined;
        q.bindingUpsert.run(rec);
        return !existed;
      })(),
    detachThingPrincipal: (thing, id) => q.bindingDelete.run(thing, id).changes === 1,
    listThingPrincipals: (thing) => (q.bindingsOfThing.all(thing) as BindingRow[]).map(bindingOf),
    listPrincipalThings: (id) => (q.bindingsOfPrincipal.all(id) as BindingRow[]).map(bindingOf),
    deleteThingPrincipals: (thing) => (q.bindingsDeleteThing.all(thing) as { certificate_id: string }[]).map((r) => r.certificate_id),

    getAccessKey: (id) => {
      const r = q.keyGet.get(id) as KeyRow | undefined;
      return r === undefined ? null : keyOf(r);
    },
    insertAccessKey: (rec) => q.keyInsert.run(rec).changes === 1,
    revokeAccessKey: (id, at) => q.keyRevoke.run(at, id).changes === 1,
    listAccessKeys: () => (q.keyList.all() as KeyRow[]).map(keyOf),

    getSetting: (key) => (q.settingGet.get(key) as { value: string } | undefined)?.value ?? null,
    setSettingIfAbsent: (key, value) => {
      q.settingInsert.run(key, value);
      return (q.settingGet.get(key) as { value: string }).value;
    },
  };
}
