/**
 * Device certificates: issued by Thingport's CA (CreateKeysAndCertificate, CreateCertificateFromCsr),
 * registered with a registered CA (RegisterCertificate) or without one (RegisterCertificateWithoutCA),
 * described, listed, moved between statuses and deleted, with AWS IoT's rules.
 *
 * A status change away from ACTIVE disconnects the certificate's live connections at once (AWS does
 * it "within a few minutes": UpdateCertificate API reference).
 */
import { randomUUID } from 'node:crypto';
import {
  isSignedBy,
  isWithinValidity,
  issueForCsr,
  issueForNewKeyPair,
  parseCertificatePem,
  readCsr,
  type DeviceKeyPair,
  type ParsedCertificate,
} from './certificates-crypto.js';
import { certificateArn, normaliseCertificateId, readPage, type CertificateContext, type ListPage } from './certificates-context.js';
import { IdentityError } from './errors.js';
import {
  CERTIFICATE_STATUSES,
  type CaCertificateRecord,
  type CertificateOrigin,
  type CertificateRecord,
  type CertificateStatus,
  type ListWindow,
} from './store.js';

/** Statuses a caller may give RegisterCertificate / RegisterCertificateWithoutCA ("ACTIVE, INACTIVE, and REVOKED": API reference). */
const REGISTERABLE: ReadonlySet<CertificateStatus> = new Set(['ACTIVE', 'INACTIVE', 'REVOKED']);
/** "Setting the status to PENDING_TRANSFER or PENDING_ACTIVATION will result in an exception" (UpdateCertificate API reference). */
const NOT_SETTABLE: ReadonlySet<CertificateStatus> = new Set(['PENDING_TRANSFER', 'PENDING_ACTIVATION']);

export interface IssuedCertificate {
  record: CertificateRecord;
  keyPair?: DeviceKeyPair;
}

export class CertificateService {
  constructor(private readonly ctx: CertificateContext) {}

  /** CreateKeysAndCertificate: a new RSA 2048 key pair and a certificate for it from Thingport's CA. */
  async createKeysAndCertificate(setAsActive: boolean): Promise<IssuedCertificate> {
    const ca = await this.ctx.signingCa();
    const { issued, keys } = await issueForNewKeyPair(ca, this.ctx.now());
    return { record: this.insertNew(issued, setAsActive ? 'ACTIVE' : 'INACTIVE', 'thingport', null, 'DEFAULT'), keyPair: keys };
  }

  /** CreateCertificateFromCsr: verifies the CSR's self-signature, then signs it with Thingport's CA. */
  async createCertificateFromCsr(csrPem: string, setAsActive: boolean): Promise<IssuedCertificate> {
    const csr = await readCsr(csrPem);
    const issued = await issueForCsr(await this.ctx.signingCa(), csr, this.ctx.now());
    return { record: this.insertNew(issued, setAsActive ? 'ACTIVE' : 'INACTIVE', 'thingport', null, 'DEFAULT') };
  }

  /**
   * RegisterCertificate: a certificate signed by a registered CA (the one given as `caCertificatePem`,
   * else the registered CA whose subject is the certificate's issuer and whose key verifies it).
   * "Registers a device certificate with AWS IoT in the same certificate mode as the signing CA. If
   * you have more than one CA certificate that has the same subject field, you must specify the CA
   * certificate that was used to sign the device certificate" (API reference).
   */
  async registerCertificate(input: { certificatePem: string; caCertificatePem?: string; setAsActive?: boolean; status?: CertificateStatus }): Promise<CertificateRecord> {
    const parsed = this.parseDeviceCertificate(input.certificatePem);
    const status = registrationStatus(input.setAsActive, input.status);
    const ca = await this.findIssuingCa(parsed, input.caCertificatePem);
    if (ca.status !== 'ACTIVE') {
      throw new IdentityError('certificate.state', `The CA certificate ${ca.certificateId} that signed this certificate is ${ca.status}; activate it with UpdateCACertificate first`);
    }
    return this.insertNew(parsed, status, 'ca', ca.certificateId, ca.certificateMode);
  }

  /** RegisterCertificateWithoutCA: any certificate; the registration itself is the trust (certificateMode SNI_ONLY, as AWS). */
  registerCertificateWithoutCa(input: { certificatePem: string; status?: CertificateStatus }): CertificateRecord {
    const parsed = this.parseDeviceCertificate(input.certificatePem);
    return this.insertNew(parsed, registrationStatus(undefined, input.status), 'none', null, 'SNI_ONLY');
  }

  /**
   * Just-in-time registration: a certificate signed by an ACTIVE registered CA with auto-registration
   * enabled, seen on a TLS connection, is registered PENDING_ACTIVATION. Returns null when the
   * certificate was registered meanwhile (a concurrent connection).
   */
  registerJustInTime(parsed: ParsedCertificate, ca: CaCertificateRecord): CertificateRecord | null {
    const rec = this.newRecord(parsed, 'PENDING_ACTIVATION', 'ca', ca.certificateId, ca.certificateMode);
    return this.ctx.store.insertCertificate(rec) ? rec : null;
  }

  describeCertificate(certificateId: string): CertificateRecord {
    return this.get(certificateId);
  }

  /**
   * UpdateCertificate. Idempotent (same status: nothing changes). "Once a certificate is revoked, its
   * status can't be changed" (developer guide, Revoke a client certificate); PENDING_TRANSFER and
   * PENDING_ACTIVATION cannot be set; a certificate in transfer cannot change.
   */
  updateCertificate(certificateId: string, newStatus: CertificateStatus): CertificateRecord {
    const rec = this.get(certificateId);
    if (!CERTIFICATE_STATUSES.includes(newStatus)) throw new IdentityError('request.invalid', `newStatus must be one of ${CERTIFICATE_STATUSES.join(', ')}`);
    if (rec.status === newStatus) return rec;
    if (NOT_SETTABLE.has(newStatus)) {
      throw new IdentityError('request.invalid', `newStatus ${newStatus} is used internally and cannot be set; use ACTIVE, INACTIVE or REVOKED`);
    }
    if (rec.status === 'REVOKED') throw new IdentityError('certificate.state', `Certificate ${rec.certificateId} is REVOKED; a revoked certificate's status cannot be changed`);
    if (rec.status === 'PENDING_TRANSFER') throw new IdentityError('certificate.state', `Certificate ${rec.certificateId} is PENDING_TRANSFER; its status cannot be changed during a transfer`);
    const updated: CertificateRecord = { ...rec, status: newStatus, lastModifiedAt: this.ctx.now(), customerVersion: rec.customerVersion + 1, generationId: randomUUID() };
    this.ctx.store.updateCertificate(updated);
    this.statusChanged(rec, updated);
    return updated;
  }

  /**
   * DeleteCertificate: "A certificate cannot be deleted if it has a policy or IoT thing attached to it
   * or if its status is set to ACTIVE"; `forceDelete` "forces the deletion of a certificate if it is
   * inactive and is not attached to an IoT thing" (API reference) — it detaches the policies.
   */
  deleteCertificate(certificateId: string, forceDelete: boolean): void {
    const rec = this.get(certificateId);
    if (rec.status === 'ACTIVE') throw new IdentityError('certificate.state', 'Certificate must be deactivated (not ACTIVE) before deletion.');
    const things = this.ctx.store.listPrincipalThings(rec.certificateId);
    if (things.length > 0) {
      throw new IdentityError('certificate.delete_conflict', `Things must be detached before deletion (thing: ${things[0]!.thingName})`);
    }
    const arn = certificateArn(this.ctx, rec.certificateId);
    const policies = this.ctx.policyTargets;
    if (policies !== null && policies.hasAttachedPolicies(rec.certificateId)) {
      if (!forceDelete) throw new IdentityError('certificate.delete_conflict', `Certificate policies must be detached before deletion (arn: ${arn})`);
      policies.detachAllPolicies(rec.certificateId);
    }
    this.ctx.store.deleteCertificate(rec.certificateId);
  }

  /** ListCertificates / ListCertificatesByCA, by creation date (newest first unless ascending). */
  listCertificates(window: ListWindow, caCertificateId?: string): ListPage<CertificateRecord> {
    const ca = caCertificateId === undefined ? undefined : normaliseCertificateId(caCertificateId);
    return readPage(window, (w) => this.ctx.store.listCertificates(w, ca));
  }

  /** The record, or `certificate.not_found`. */
  get(certificateId: string): CertificateRecord {
    const id = normaliseCertificateId(certificateId);
    const rec = this.ctx.store.getCertificate(id);
    if (rec === null) throw new IdentityError('certificate.not_found', `The certificate ${id} does not exist`);
    return rec;
  }

  private parseDeviceCertificate(pem: string): ParsedCertificate {
    const parsed = parseCertificatePem(pem, 'certificatePem');
    if (!isWithinValidity(parsed.certificate, this.ctx.now())) {
      throw new IdentityError('certificate.invalid', `certificatePem is not valid now: it is valid from ${parsed.certificate.notBefore.toISOString()} to ${parsed.certificate.notAfter.toISOString()}`);
    }
    return parsed;
  }

  /** The registered CA that signed `parsed`: the given one, else by issuer name and signature. */
  private async findIssuingCa(parsed: ParsedCertificate, caPem: string | undefined): Promise<CaCertificateRecord> {
    const store = this.ctx.store;
    if (caPem !== undefined) {
      const ca = parseCertificatePem(caPem, 'caCertificatePem');
      const rec = store.getCaCertificate(ca.certificateId);
      if (rec === null) throw new IdentityError('certificate.invalid', `caCertificatePem is not a registered CA certificate (id ${ca.certificateId}); register it with RegisterCACertificate first`);
      if (!(await isSignedBy(parsed.certificate, ca.certificate))) throw new IdentityError('certificate.invalid', 'certificatePem is not signed by caCertificatePem');
      return rec;
    }
    const signers: CaCertificateRecord[] = [];
    for (const rec of store.findCaCertificatesBySubject(parsed.certificate.issuer)) {
      if (await isSignedBy(parsed.certificate, parseCertificatePem(rec.certificatePem, 'caCertificate').certificate)) signers.push(rec);
    }
    if (signers.length === 0) {
      throw new IdentityError('certificate.invalid', `certificatePem is not signed by a registered CA certificate (issuer ${parsed.certificate.issuer}); register the CA with RegisterCACertificate first`);
    }
    if (signers.length > 1) {
      throw new IdentityError('certificate.conflict', `More than one registered CA certificate (${signers.map((s) => s.certificateId).join(', ')}) has this certificate's issuer and key; pass caCertificatePem`);
    }
    return signers[0]!;
  }

  private newRecord(parsed: ParsedCertificate, status: CertificateStatus, origin: CertificateOrigin, caCertificateId: string | null, mode: CertificateRecord['certificateMode']): CertificateRecord {
    const now = this.ctx.now();
    return {
      certificateId: parsed.certificateId,
      certificatePem: parsed.pem,
      status,
      origin,
      caCertificateId,
      certificateMode: mode,
      createdAt: now,
      lastModifiedAt: now,
      customerVersion: 1,
      generationId: randomUUID(),
      notBefore: parsed.certificate.notBefore.getTime(),
      notAfter: parsed.certificate.notAfter.getTime(),
    };
  }

  private insertNew(parsed: ParsedCertificate, status: CertificateStatus, origin: CertificateOrigin, caCertificateId: string | null, mode: CertificateRecord['certificateMode']): CertificateRecord {
    const rec = this.newRecord(parsed, status, origin, caCertificateId, mode);
    if (!this.ctx.store.insertCertificate(rec)) {
      const arn = certificateArn(this.ctx, rec.certificateId);
      throw new IdentityError('certificate.already_exists', 'The certificate is already provisioned or registered', { fields: { resourceId: rec.certificateId, resourceArn: arn } });
    }
    if (status !== 'INACTIVE') this.ctx.bus.emit('certificate.status.changed', { certificateId: rec.certificateId, status });
    return rec;
  }

  private statusChanged(before: CertificateRecord, after: CertificateRecord): void {
    this.ctx.bus.emit('certificate.status.changed', { certificateId: after.certificateId, status: after.status });
    if (before.status === 'ACTIVE' && after.status !== 'ACTIVE') {
      const id = after.certificateId;
      const n = this.ctx.messaging.disconnectWhere((c) => c.principal === id);
      if (n > 0) this.ctx.logger.info({ certificateId: id, status: after.status, connections: n }, 'disconnected the connections of a certificate that is no longer ACTIVE');
    }
  }
}

/** The status of a registration: `setAsActive` (deprecated) wins, then `status`, else INACTIVE. */
function registrationStatus(setAsActive: boolean | undefined, status: CertificateStatus | undefined): CertificateStatus {
  if (setAsActive === true) return 'ACTIVE';
  if (status === undefined) return 'INACTIVE';
  if (!REGISTERABLE.has(status)) throw new IdentityError('request.invalid', `status must be ACTIVE, INACTIVE or REVOKED when registering a certificate, not ${status}`);
  return status;
}
