/**
 * What the certificate services share: the store, the bus, the broker's messaging API, the thing
 * registry (read only), ARNs of this installation, the clock, and Thingport's signing CA (loaded
 * from the data directory on first use).
 */
import { arn, parseArn, type EventBus, type Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import type { SigningCa } from './certificates-crypto.js';
import { IdentityError } from './errors.js';
import type { IdentityStore, ListWindow } from './store.js';

/** The part of the registry identity reads: does a thing exist. */
export interface ThingDirectory {
  getThing(thingName: string): { thingName: string } | null;
}

/**
 * What policies attach to, as far as certificate deletion needs to know (AWS refuses to delete a
 * certificate with attached policies unless `forceDelete`, which detaches them).
 */
export interface PolicyTargets {
  hasAttachedPolicies(certificateId: string): boolean;
  detachAllPolicies(certificateId: string): void;
}

export interface CertificateContext {
  store: IdentityStore;
  bus: EventBus;
  messaging: Messaging;
  registry: ThingDirectory;
  region: string;
  accountId: string;
  logger: Logger;
  now: () => number;
  /** Thingport's root CA with its private key. */
  signingCa: () => Promise<SigningCa>;
  /** Set once the policy engine exists (it is built after the certificate services). */
  policyTargets: PolicyTargets | null;
}

export const certificateArn = (ctx: CertificateContext, certificateId: string): string => arn(ctx.region, ctx.accountId, `cert/${certificateId}`);
export const caCertificateArn = (ctx: CertificateContext, certificateId: string): string => arn(ctx.region, ctx.accountId, `cacert/${certificateId}`);

const CERT_ID = /^(?:0x)?([0-9a-fA-F]{64})$/;

/** A certificate id as the API accepts it (64 hex digits, optionally `0x`-prefixed), normalised to lowercase. */
export function normaliseCertificateId(id: string): string {
  const m = CERT_ID.exec(id);
  if (m === null) throw new IdentityError('request.invalid', `certificateId must be 64 hexadecimal characters, not '${id}'`);
  return m[1]!.toLowerCase();
}

/**
 * The certificate id in a principal ARN (`arn:aws:iot:{region}:{account}:cert/{id}`), as
 * AttachThingPrincipal and friends take in header `x-amzn-principal`. A certificate ARN of another
 * region or account names nothing here (`principal.not_found`); anything else is a bad request.
 */
export function certificateIdOfPrincipal(ctx: CertificateContext, principal: string): string {
  const a = parseArn(principal);
  const m = a === null ? null : /^cert\/([0-9a-fA-F]{64})$/.exec(a.resource);
  if (a === null || a.service !== 'iot' || m === null) {
    throw new IdentityError('request.invalid', `principal must be a certificate ARN (arn:aws:iot:${ctx.region}:${ctx.accountId}:cert/<certificateId>), not '${principal}'`);
  }
  const id = m[1]!.toLowerCase();
  if (a.region !== ctx.region || a.accountId !== ctx.accountId) throw new IdentityError('principal.not_found', `The principal ${principal} does not exist`);
  return id;
}

/** A page of a list read through a store window: `limit + 1` rows are read to learn whether more remain. */
export interface ListPage<T> {
  items: T[];
  more: boolean;
}

export function readPage<T>(window: ListWindow, read: (w: ListWindow) => T[]): ListPage<T> {
  const rows = read({ ...window, limit: window.limit + 1 });
  return { items: rows.slice(0, window.limit), more: rows.length > window.limit };
}
