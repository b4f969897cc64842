/**
 * Thing-principal bindings (AttachThingPrincipal and friends) and which thing a connection is.
 *
 * AWS (thing-policy-variables.html): "If you use non-exclusive thing association, the same
 * certificate can be attached to multiple things ... you must match your client ID with the thing
 * name"; with an exclusive binding the thing comes from the certificate. Thingport resolves a
 * connection's thing as: the exclusively bound thing; else the bound thing named like the client id;
 * else the only bound thing (a convenience AWS leaves undefined); else none.
 *
 * Bindings of connected principals are cached in memory (read on every authorization through the
 * policy hooks) and invalidated on every change.
 */
import { certificateArn, certificateIdOfPrincipal, type CertificateContext } from './certificates-context.js';
import { IdentityError } from './errors.js';
import type { ThingPrincipalRecord, ThingPrincipalType } from './store.js';

export class ThingPrincipalService {
  private readonly cache = new Map<string, ThingPrincipalRecord[]>();
  /** Stops listening to the bus. */
  readonly close: () => void;

  constructor(private readonly ctx: CertificateContext) {
    // A deleted thing loses its bindings (a backstop: identity's delete guard normally refuses
    // deleting a thing with principals, and the registry cannot call identity, which is above it).
    this.close = ctx.bus.on('thing.deleted', ({ thingName }) => {
      for (const certificateId of ctx.store.deleteThingPrincipals(thingName)) {
        this.cache.delete(certificateId);
        ctx.bus.emit('principal.thing.changed', { principal: certificateId, thingName });
      }
    });
  }

  /** AttachThingPrincipal. Idempotent; `type` defaults to NON_EXCLUSIVE_THING (AWS's default). */
  attach(thingName: string, principal: string, type: ThingPrincipalType = 'NON_EXCLUSIVE_THING'): void {
    this.requireThing(thingName);
    const certificateId = this.requireCertificate(principal);
    const others = this.ctx.store.listPrincipalThings(certificateId).filter((b) => b.thingName !== thingName);
    if (type === 'EXCLUSIVE_THING' && others.length > 0) {
      throw new IdentityError('request.invalid', `The principal is already attached to ${others.map((b) => b.thingName).join(', ')}; an exclusive binding must be its only one`);
    }
    const exclusive = others.find((b) => b.type === 'EXCLUSIVE_THING');
    if (exclusive !== undefined) throw new IdentityError('request.invalid', `The principal is attached exclusively to ${exclusive.thingName}`);
    const created = this.ctx.store.attachThingPrincipal({ thingName, certificateId, type, createdAt: this.ctx.now() });
    this.cache.delete(certificateId);
    if (created) this.ctx.bus.emit('principal.thing.changed', { principal: certificateId, thingName });
  }

  /** DetachThingPrincipal. Detaching what is not attached succeeds (idempotent). */
  detach(thingName: string, principal: string): void {
    this.requireThing(thingName);
    const certificateId = this.requireCertificate(principal);
    if (this.ctx.store.detachThingPrincipal(thingName, certificateId)) {
      this.cache.delete(certificateId);
      this.ctx.bus.emit('principal.thing.changed', { principal: certificateId, thingName });
    }
  }

  /** ListThingPrincipals: the certificate ARNs attached to a thing. */
  listThingPrincipals(thingName: string): string[] {
    this.requireThing(thingName);
    return this.ctx.store.listThingPrincipals(thingName).map((b) => certificateArn(this.ctx, b.certificateId));
  }

  /** The bindings of a thing with their types (ListThingPrincipalsV2 once the model has it). */
  listThingPrincipalBindings(thingName: string): ThingPrincipalRecord[] {
    this.requireThing(thingName);
    return this.ctx.store.listThingPrincipals(thingName);
  }

  /** ListPrincipalThings: the things a certificate is attached to. */
  listPrincipalThings(principal: string): string[] {
    const certificateId = this.requireCertificate(principal);
    return this.ctx.store.listPrincipalThings(certificateId).map((b) => b.thingName);
  }

  /** The thing a connection with this certificate and client id is, or null (see the file comment). */
  thingOf(certificateId: string, clientId: string): string | null {
    let bindings = this.cache.get(certificateId);
    if (bindings === undefined) {
      bindings = this.ctx.store.listPrincipalThings(certificateId);
      this.cache.set(certificateId, bindings);
    }
    if (bindings.length === 0) return null;
    for (const b of bindings) if (b.type === 'EXCLUSIVE_THING') return b.thingName;
    for (const b of bindings) if (b.thingName === clientId) return clientId;
    return bindings.length === 1 ? bindings[0]!.thingName : null;
  }

  private requireThing(thingName: string): void {
    if (this.ctx.registry.getThing(thingName) === null) throw new IdentityError('thing.not_found', `The thing ${thingName} does not exist`);
  }

  private requireCertificate(principal: string): string {
    const certificateId = certificateIdOfPrincipal(this.ctx, principal);
    if (this.ctx.store.getCertificate(certificateId) === null) throw new IdentityError('principal.not_found', `The principal ${principal} does not exist`);
    return certificateId;
  }
}
