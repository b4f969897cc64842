/**
 * The IoT API operations of the identity capability: certificates, CA certificates, thing
 * principals, the registration code and DescribeEndpoint. Adapters only: each translates the
 * model's input to a service call and the result to the model's output; IdentityError codes become
 * AWS error types through one table (errors.ts).
 */
import { AwsServiceError, type AwsHandlers, type IotOperations } from '../http/index.js';
import type { CaCertificateService } from './certificates-ca.js';
import { caCertificateArn, certificateArn, type CertificateContext, type ListPage } from './certificates-context.js';
import type { ThingPrincipalService } from './certificates-principals.js';
import type { CertificateService } from './certificates.js';
import { describeEndpoint, type ListenerUrls } from './endpoint.js';
import { IDENTITY_ERRORS, IdentityError } from './errors.js';
import type { CaCertificateRecord, CertificateRecord, ListWindow } from './store.js';

type Out<K extends keyof IotOperations> = IotOperations[K]['output'];

export interface IdentityHttpDeps {
  ctx: CertificateContext;
  certificates: CertificateService;
  cas: CaCertificateService;
  principals: ThingPrincipalService;
  endpoints: () => ListenerUrls;
}

/** Page size of the certificate lists when the caller gives none (AWS documents none; its maximum is 250). */
const DEFAULT_PAGE_SIZE = 250;
/** Page size of ListThingPrincipals / ListPrincipalThings when the caller gives none. */
const DEFAULT_MAX_RESULTS = 250;

/**
 * Markers of the certificate lists: opaque, and within the model's `Marker` pattern
 * (`[A-Za-z0-9+/]+={0,2}`, i.e. base64), so clients echo them back unchanged.
 */
export function encodeMarker(offset: number): string {
  return Buffer.from(`tp1:${offset}`).toString('base64');
}

export function decodeMarker(marker: string | undefined): number {
  if (marker === undefined || marker === '') return 0;
  const m = /^tp1:(\d{1,15})$/.exec(Buffer.from(marker, 'base64').toString('utf8'));
  if (m === null) throw new AwsServiceError('InvalidRequestException', `Invalid marker: '${marker.slice(0, 64)}' was not issued by this server`);
  return Number(m[1]);
}

function windowOf(input: { pageSize?: number; marker?: string; ascendingOrder?: boolean }): ListWindow {
  return { offset: decodeMarker(input.marker), limit: input.pageSize ?? DEFAULT_PAGE_SIZE, ascending: input.ascendingOrder === true };
}

function nextMarker<T>(page: ListPage<T>, window: ListWindow): string | undefined {
  return page.more ? encodeMarker(window.offset + page.items.length) : undefined;
}

/** An offset page of an in-memory list with `nextToken` / `maxResults` (registry-style lists). */
function tokenPage<T>(items: readonly T[], input: { nextToken?: string; maxResults?: number }): { items: T[]; nextToken?: string } {
  const start = decodeMarker(input.nextToken);
  const end = Math.min(items.length, start + (input.maxResults ?? DEFAULT_MAX_RESULTS));
  return end < items.length ? { items: items.slice(start, end), nextToken: encodeMarker(end) } : { items: items.slice(start, end) };
}

/** Runs a service call, turning IdentityError into the AWS error the SDKs expect. */
export async function aws<T>(call: () => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof IdentityError) throw new AwsServiceError(IDENTITY_ERRORS[err.code], err.message, undefined, { cause: err, fields: err.fields });
    throw err;
  }
}

/** Builds the handlers. */
export function createIdentityHandlers(deps: IdentityHttpDeps): AwsHandlers<IotOperations> {
  const { ctx, certificates, cas, principals } = deps;
  const date = (ms: number): Date => new Date(ms);
  const summary = (r: CertificateRecord) => ({
    certificateArn: certificateArn(ctx, r.certificateId),
    certificateId: r.certificateId,
    status: r.status,
    certificateMode: r.certificateMode,
    creationDate: date(r.createdAt),
  });
  const description = (r: CertificateRecord): NonNullable<Out<'DescribeCertificate'>['certificateDescription']> => ({
    ...summary(r),
    ...(r.caCertificateId !== null ? { caCertificateId: r.caCertificateId } : {}),
    certificatePem: r.certificatePem,
    ownedBy: ctx.accountId,
    lastModifiedDate: date(r.lastModifiedAt),
    customerVersion: r.customerVersion,
    generationId: r.generationId,
    validity: { notBefore: date(r.notBefore), notAfter: date(r.notAfter) },
  });
  const caSummary = (r: CaCertificateRecord) => ({
    certificateArn: caCertificateArn(ctx, r.certificateId),
    certificateId: r.certificateId,
    status: r.status,
    creationDate: date(r.createdAt),
  });

  return {
    CreateKeysAndCertificate: (input) =>
      aws(async () => {
        const { record, keyPair } = await certificates.createKeysAndCertificate(input.setAsActive === true);
        return {
          certificateArn: certificateArn(ctx, record.certificateId),
          certificateId: record.certificateId,
          certificatePem: record.certificatePem,
          keyPair: { PublicKey: keyPair!.publicKeyPem, PrivateKey: keyPair!.privateKeyPem },
        };
      }),
    CreateCertificateFromCsr: (input) =>
      aws(async () => {
        const { record } = await certificates.createCertificateFromCsr(input.certificateSigningRequest, input.setAsActive === true);
        return { certificateArn: certificateArn(ctx, record.certificateId), certificateId: record.certificateId, certificatePem: record.certificatePem };
      }),
    RegisterCertificate: (input) =>
      aws(async () => {
        const r = await certificates.registerCertificate(input);
        return { certificateArn: certificateArn(ctx, r.certificateId), certificateId: r.certificateId };
      }),
    RegisterCertificateWithoutCA: (input) =>
      aws(() => {
        const r = certificates.registerCertificateWithoutCa(input);
        return { certificateArn: certificateArn(ctx, r.certificateId), certificateId: r.certificateId };
      }),
    DescribeCertificate: (input) => aws(() => ({ certificateDescription: description(certificates.describeCertificate(input.certificateId)) })),
    UpdateCertificate: (input) =>
      aws(() => {
        certificates.updateCertificate(input.certificateId, input.newStatus);
        return {};
      }),
    DeleteCertificate: (input) =>
      aws(() => {
        certificates.deleteCertificate(input.certificateId, input.forceDelete === true);
        return {};
      }),
    ListCertificates: (input) =>
      aws(() => {
        const w = windowOf(input);
        const page = certificates.listCertificates(w);
        return { certificates: page.items.map(summary), nextMarker: nextMarker(page, w) };
      }),
    ListCertificatesByCA: (input) =>
      aws(() => {
        const w = windowOf(input);
        const page = certificates.listCertificates(w, input.caCertificateId);
        return { certificates: page.items.map(summary), nextMarker: nextMarker(page, w) };
      }),

    GetRegistrationCode: () => aws(() => ({ registrationCode: cas.getRegistrationCode() })),
    RegisterCACertificate: (input) =>
      aws(async () => {
        const r = await cas.registerCaCertificate(input);
        return { certificateArn: caCertificateArn(ctx, r.certificateId), certificateId: r.certificateId };
      }),
    DescribeCACertificate: (input) =>
      aws(() => {
        const r = cas.describeCaCertificate(input.certificateId);
        return {
          certificateDescription: {
            ...caSummary(r),
            certificatePem: r.certificatePem,
            ownedBy: ctx.accountId,
            autoRegistrationStatus: r.autoRegistrationStatus,
            lastModifiedDate: date(r.lastModifiedAt),
            customerVersion: r.customerVersion,
            generationId: r.generationId,
            validity: { notBefore: date(r.notBefore), notAfter: date(r.notAfter) },
            certificateMode: r.certificateMode,
          },
          ...(r.registrationConfig !== null ? { registrationConfig: r.registrationConfig } : {}),
        };
      }),
    UpdateCACertificate: (input) =>
      aws(() => {
        cas.updateCaCertificate(input.certificateId, input);
        return {};
      }),
    DeleteCACertificate: (input) =>
      aws(() => {
        cas.deleteCaCertificate(input.certificateId);
        return {};
      }),
    ListCACertificates: (input) =>
      aws(() => {
        const w = windowOf(input);
        const page = cas.listCaCertificates(w);
        return { certificates: page.items.map(caSummary), nextMarker: nextMarker(page, w) };
      }),

    AttachThingPrincipal: (input) =>
      aws(() => {
        principals.attach(input.thingName, input.principal);
        return {};
      }),
    DetachThingPrincipal: (input) =>
      aws(() => {
        principals.detach(input.thingName, input.principal);
        return {};
      }),
    ListThingPrincipals: (input) =>
      aws(() => {
        const page = tokenPage(principals.listThingPrincipals(input.thingName), input);
        return { principals: page.items, nextToken: page.nextToken };
      }),
    ListPrincipalThings: (input) =>
      aws(() => {
        const page = tokenPage(principals.listPrincipalThings(input.principal), input);
        return { things: page.items, nextToken: page.nextToken };
      }),

    DescribeEndpoint: (input) => aws(() => ({ endpointAddress: describeEndpoint(deps.endpoints(), input.endpointType) })),
  };
}
