/**
 * Registered CA certificates: the registration code, RegisterCACertificate with its proof of key
 * possession (a verification certificate signed by the CA's key whose common name is the
 * registration code), describe, update, delete, list, and finding the registered CA that signed a
 * device certificate.
 *
 * AWS facts (developer guide, "Manage your CA certificates" / "Deactivate a CA certificate"):
 * DEFAULT mode needs the verification certificate, SNI_ONLY does not. Setting a CA INACTIVE stops
 * new certificates it issued from being registered automatically; registered certificates it
 * signed keep working until each is revoked — so deactivating a CA disconnects no one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isCaCertificate, isSignedBy, isWithinValidity, parseCertificatePem, type ParsedCertificate } from './certificates-crypto.js';
import { caCertificateArn, normaliseCertificateId, readPage, type CertificateContext, type ListPage } from './certificates-context.js';
import { IdentityError } from './errors.js';
import type { AutoRegistrationStatus, CaCertificateRecord, CaCertificateStatus, CertificateMode, ListWindow } from './store.js';

const REGISTRATION_CODE_KEY = 'registrationCode';

export interface RegisterCaInput {
  caCertificate: string;
  verificationCertificate?: string;
  setAsActive?: boolean;
  allowAutoRegistration?: boolean;
  registrationConfig?: CaCertificateRecord['registrationConfig'];
  certificateMode?: CertificateMode;
}

export interface UpdateCaInput {
  newStatus?: CaCertificateStatus;
  newAutoRegistrationStatus?: AutoRegistrationStatus;
  registrationConfig?: CaCertificateRecord['registrationConfig'];
  removeAutoRegistration?: boolean;
}

export class CaCertificateService {
  /** Parsed CA certificates by id (a CA's PEM never changes; parsing on every connect would). */
  private readonly parsed = new Map<string, ParsedCertificate>();

  constructor(private readonly ctx: CertificateContext) {}

  /** The parsed certificate of a registered CA. */
  parse(rec: CaCertificateRecord): ParsedCertificate {
    let p = this.parsed.get(rec.certificateId);
    if (p === undefined) {
      p = parseCertificatePem(rec.certificatePem, 'caCertificate');
      this.parsed.set(rec.certificateId, p);
    }
    return p;
  }

  /** GetRegistrationCode: one code per installation (64 hex digits), created on first request and kept. */
  getRegistrationCode(): string {
    return this.ctx.store.getSetting(REGISTRATION_CODE_KEY) ?? this.ctx.store.setSettingIfAbsent(REGISTRATION_CODE_KEY, randomBytes(32).toString('hex'));
  }

  /** RegisterCACertificate. */
  async registerCaCertificate(input: RegisterCaInput): Promise<CaCertificateRecord> {
    const now = this.ctx.now();
    const ca = parseCertificatePem(input.caCertificate, 'caCertificate');
    if (!isCaCertificate(ca.certificate)) {
      throw new IdentityError('certificate.invalid', 'caCertificate is not a CA certificate: its basicConstraints extension must say CA:TRUE');
    }
    if (!isWithinValidity(ca.certificate, now)) {
      throw new IdentityError('certificate.invalid', `caCertificate is not valid now: it is valid from ${ca.certificate.notBefore.toISOString()} to ${ca.certificate.notAfter.toISOString()}`);
    }
    const mode = input.certificateMode ?? 'DEFAULT';
    if (mode === 'DEFAULT') await this.checkVerificationCertificate(ca, input.verificationCertificate, now);

    const rec: CaCertificateRecord = {
      certificateId: ca.certificateId,
      certificatePem: ca.pem,
      status: input.setAsActive === true ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration === true ? 'ENABLE' : 'DISABLE',
      certificateMode: mode,
      registrationConfig: input.registrationConfig ?? null,
      subject: ca.certificate.subject,
      createdAt: now,
      lastModifiedAt: now,
      customerVersion: 1,
      generationId: randomUUID(),
      notBefore: ca.certificate.notBefore.getTime(),
      notAfter: ca.certificate.notAfter.getTime(),
    };
    if (!this.ctx.store.insertCaCertificate(rec)) {
      throw new IdentityError('certificate.already_exists', 'The CA certificate is already registered', {
        fields: { resourceId: rec.certificateId, resourceArn: caCertificateArn(this.ctx, rec.certificateId) },
      });
    }
    return rec;
  }

  describeCaCertificate(certificateId: string): CaCertificateRecord {
    return this.get(certificateId);
  }

  /** UpdateCACertificate: status, auto-registration, registration config (`removeAutoRegistration` clears the config). */
  updateCaCertificate(certificateId: string, input: UpdateCaInput): CaCertificateRecord {
    const rec = this.get(certificateId);
    const next: CaCertificateRecord = {
      ...rec,
      status: input.newStatus ?? rec.status,
      autoRegistrationStatus: input.newAutoRegistrationStatus ?? rec.autoRegistrationStatus,
      registrationConfig: input.removeAutoRegistration === true ? null : (input.registrationConfig ?? rec.registrationConfig),
    };
    const changed =
      next.status !== rec.status ||
      next.autoRegistrationStatus !== rec.autoRegistrationStatus ||
      JSON.stringify(next.registrationConfig) !== JSON.stringify(rec.registrationConfig);
    if (!changed) return rec;
    const updated = { ...next, lastModifiedAt: this.ctx.now(), customerVersion: rec.customerVersion + 1, generationId: randomUUID() };
    this.ctx.store.updateCaCertificate(updated);
    return updated;
  }

  /**
   * DeleteCACertificate: refused while ACTIVE. Certificates it signed stay registered but can no longer
   * connect (their chain cannot be checked without the CA); ListCertificatesByCA still lists them.
   */
  deleteCaCertificate(certificateId: string): void {
    const rec = this.get(certificateId);
    if (rec.status === 'ACTIVE') throw new IdentityError('certificate.state', `The CA certificate ${rec.certificateId} is ACTIVE; set it INACTIVE with UpdateCACertificate before deleting it`);
    this.ctx.store.deleteCaCertificate(rec.certificateId);
    this.parsed.delete(rec.certificateId);
  }

  listCaCertificates(window: ListWindow): ListPage<CaCertificateRecord> {
    return readPage(window, (w) => this.ctx.store.listCaCertificates(w));
  }

  /** The registered CA (any status) whose key signed `parsed`, or null. Ambiguity picks the oldest. */
  async findSigner(parsed: ParsedCertificate): Promise<{ record: CaCertificateRecord; certificate: ParsedCertificate } | null> {
    for (const rec of this.ctx.store.findCaCertificatesBySubject(parsed.certificate.issuer)) {
      const ca = this.parse(rec);
      if (await isSignedBy(parsed.certificate, ca.certificate)) return { record: rec, certificate: ca };
    }
    return null;
  }

  /** The record, or `certificate.not_found`. */
  get(certificateId: string): CaCertificateRecord {
    const id = normaliseCertificateId(certificateId);
    const rec = this.ctx.store.getCaCertificate(id);
    if (rec === null) throw new IdentityError('certificate.not_found', `The CA certificate ${id} does not exist`);
    return rec;
  }

  /**
   * Proof that whoever registers the CA holds its key: the verification certificate must be signed
   * by the CA's key and carry the registration code as its common name.
   */
  private async checkVerificationCertificate(ca: ParsedCertificate, pem: string | undefined, now: number): Promise<void> {
    if (pem === undefined) {
      throw new IdentityError('request.invalid', 'verificationCertificate is required to register a CA certificate in DEFAULT mode (sign one with the CA key, common name = GetRegistrationCode)');
    }
    const verification = parseCertificatePem(pem, 'verificationCertificate');
    if (!(await isSignedBy(verification.certificate, ca.certificate))) {
      throw new IdentityError('certificate.invalid', 'verificationCertificate is not signed by the private key of caCertificate');
    }
    if (!isWithinValidity(verification.certificate, now)) throw new IdentityError('certificate.invalid', 'verificationCertificate is expired or not yet valid');
    const cn = verification.certificate.subjectName.getField('2.5.4.3');
    if (cn.length !== 1 || cn[0] !== this.getRegistrationCode()) {
      throw new IdentityError('registration_code.invalid', 'The common name of verificationCertificate is not the registration code of this account (GetRegistrationCode)');
    }
  }
}
