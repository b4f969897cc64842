/**
 * The storage port of the identity capability: device certificates, CA certificates, thing-principal
 * bindings, access keys and a few settings (the registration code).
 *
 * Synchronous, like the broker's store: the embedded SQLite adapter answers in microseconds, and the
 * connect path (authenticate) reads it. Every adapter runs the conformance suite in store-suite.ts.
 */

export const CERTIFICATE_STATUSES = ['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_TRANSFER', 'REGISTER_INACTIVE', 'PENDING_ACTIVATION'] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];
export type CaCertificateStatus = 'ACTIVE' | 'INACTIVE';
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE';
export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

/**
 * Where a device certificate's trust comes from:
 * - `thingport`: issued by Thingport's own root CA (CreateKeysAndCertificate, CreateCertificateFromCsr);
 * - `ca`: signed by a registered CA (RegisterCertificate, JITR), `caCertificateId` set;
 * - `none`: registered without a CA (RegisterCertificateWithoutCA): the registration is the trust.
 */
export type CertificateOrigin = 'thingport' | 'ca' | 'none';

export interface CertificateRecord {
  certificateId: string;
  certificatePem: string;
  status: CertificateStatus;
  origin: CertificateOrigin;
  caCertificateId: string | null;
  certificateMode: CertificateMode;
  /** ms since the epoch */
  createdAt: number;
  lastModifiedAt: number;
  customerVersion: number;
  generationId: string;
  notBefore: number;
  notAfter: number;
}

export interface CaCertificateRecord {
  certificateId: string;
  certificatePem: string;
  status: CaCertificateStatus;
  autoRegistrationStatus: AutoRegistrationStatus;
  certificateMode: CertificateMode;
  /** RegistrationConfig (JIT provisioning template) as given; stored, not yet acted on. */
  registrationConfig: { templateBody?: string; roleArn?: string; templateName?: string } | null;
  /** The CA's subject DN, for finding the CA of a device certificate by its issuer. */
  subject: string;
  createdAt: number;
  lastModifiedAt: number;
  customerVersion: number;
  generationId: string;
  notBefore: number;
  notAfter: number;
}

export interface ThingPrincipalRecord {
  thingName: string;
  /** The certificate id (principals are certificates for now). */
  certificateId: string;
  type: ThingPrincipalType;
  createdAt: number;
}

export type AccessKeyStatus = 'ACTIVE' | 'REVOKED';

export interface AccessKeyRecord {
  accessKeyId: string;
  secretAccessKey: string;
  /** Who the key stands for: the principal name handlers see (`admin` for the first key). */
  name: string;
  createdAt: number;
  status: AccessKeyStatus;
  revokedAt: number | null;
}

/** Order and page of a list: rows after `offset`, at most `limit`, by creation time. */
export interface ListWindow {
  offset: number;
  limit: number;
  ascending: boolean;
}

export interface IdentityStore {
  getCertificate(certificateId: string): CertificateRecord | null;
  /** Inserts; false when the id exists. */
  insertCertificate(rec: CertificateRecord): boolean;
  /** Replaces status, version fields; false when absent. */
  updateCertificate(rec: CertificateRecord): boolean;
  deleteCertificate(certificateId: string): boolean;
  listCertificates(window: ListWindow, caCertificateId?: string): CertificateRecord[];
  countCertificates(caCertificateId?: string): number;

  getCaCertificate(certificateId: string): CaCertificateRecord | null;
  insertCaCertificate(rec: CaCertificateRecord): boolean;
  updateCaCertificate(rec: CaCertificateRecord): boolean;
  deleteCaCertificate(certificateId: string): boolean;
  listCaCertificates(window: ListWindow): CaCertificateRecord[];
  /** CAs whose subject DN is `subject` (candidates for the issuer of a certificate). */
  findCaCertificatesBySubject(subject: string): CaCertificateRecord[];

  /** Inserts or updates the binding's type; returns true when it is new. */
  attachThingPrincipal(rec: ThingPrincipalRecord): boolean;
  detachThingPrincipal(thingName: string, certificateId: string): boolean;
  /** Bindings of a thing, oldest first. */
  listThingPrincipals(thingName: string): ThingPrincipalRecord[];
  /** Bindings of a principal, oldest first. */
  listPrincipalThings(certificateId: string): ThingPrincipalRecord[];
  /** Removes every binding of a deleted thing; returns the certificate ids that were bound. */
  deleteThingPrincipals(thingName: string): string[];

  getAccessKey(accessKeyId: string): AccessKeyRecord | null;
  insertAccessKey(rec: AccessKeyRecord): boolean;
  /** Marks a key REVOKED; false when absent or already revoked. */
  revokeAccessKey(accessKeyId: string, at: number): boolean;
  listAccessKeys(): AccessKeyRecord[];

  getSetting(key: string): string | null;
  /** Sets `key` unless it is set; returns the value that is stored afterwards. */
  setSettingIfAbsent(key: string, value: string): string;
}
