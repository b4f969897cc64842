/**
 * Topic rule destinations for the `http` action: CreateTopicRuleDestination stores the destination
 * IN_PROGRESS and POSTs a confirmation message with a token to its confirmationUrl; the owner of
 * the endpoint proves control by calling ConfirmTopicRuleDestination (or GETting the enableUrl),
 * which makes it ENABLED. An http action only sends to a URL under an ENABLED destination.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { arn as makeArn } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { RulesError, rulesErrors } from './errors.js';
import type { DestinationStatus, StoredDestination } from './model.js';
import type { RulesStore } from './store.js';

export interface DestinationDeps {
  store: RulesStore;
  region: string;
  accountId: string;
  logger: Logger;
  /** Base URL of the API, for the enableUrl in confirmation messages (null when unknown). */
  apiBaseUrl: () => string | null;
  fetch?: typeof fetch;
  now?: () => number;
}

export class Destinations {
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  constructor(private readonly deps: DestinationDeps) {
    this.fetch = deps.fetch ?? globalThis.fetch;
    this.now = deps.now ?? Date.now;
  }

  create(confirmationUrl: string): StoredDestination {
    let url: URL;
    try {
      url = new URL(confirmationUrl);
    } catch {
      throw rulesErrors.invalid(`confirmationUrl ${confirmationUrl} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw rulesErrors.invalid('confirmationUrl must be an HTTPS (or, on Thingport, HTTP) URL');
    if (this.deps.store.listDestinations().some((d) => d.confirmationUrl === confirmationUrl))
      throw new RulesError('rules.already_exists', `a topic rule destination for ${confirmationUrl} already exists`);
    const t = this.now();
    const d: StoredDestination = {
      arn: makeArn(this.deps.region, this.deps.accountId, `ruledestination/http/${randomUUID()}`),
      confirmationUrl,
      status: 'IN_PROGRESS',
      statusReason: null,
      confirmationToken: randomBytes(32).toString('hex'),
      createdAt: t,
      lastUpdatedAt: t,
    };
    this.deps.store.putDestination(d);
    void this.sendConfirmation(d);
    return d;
  }

  /** POSTs AWS's confirmation message; a failure leaves the destination IN_PROGRESS with a reason. */
  async sendConfirmation(d: StoredDestination): Promise<void> {
    const base = this.deps.apiBaseUrl();
    const body = {
      arn: d.arn,
      confirmationToken: d.confirmationToken,
      enableUrl: base === null ? undefined : `${base}/confirmdestination/${d.confirmationToken}`,
      messageType: 'DestinationConfirmation',
    };
    try {
      const res = await this.fetch(d.confirmationUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.setReason(d.arn, `the confirmation URL answered ${res.status}`);
    } catch (err) {
      this.setReason(d.arn, `cannot send the confirmation: ${(err as Error).message}`);
    }
  }

  private setReason(arn: string, reason: string): void {
    const cur = this.deps.store.getDestination(arn);
    if (cur === null || cur.status !== 'IN_PROGRESS') return;
    this.deps.store.putDestination({ ...cur, statusReason: reason, lastUpdatedAt: this.now() });
    this.deps.logger.warn({ arn, reason }, 'topic rule destination not confirmed');
  }

  confirm(token: string): void {
    const d = this.deps.store.getDestinationByToken(token);
    if (d === null) throw rulesErrors.invalid('the confirmation token is not valid');
    if (d.status === 'IN_PROGRESS' || d.status === 'ERROR') this.deps.store.putDestination({ ...d, status: 'ENABLED', statusReason: null, lastUpdatedAt: this.now() });
  }

  get(arn: string): StoredDestination {
    const d = this.deps.store.getDestination(arn);
    if (d === null) throw rulesErrors.destinationNotFound(arn);
    return d;
  }

  list(): StoredDestination[] {
    return this.deps.store.listDestinations();
  }

  update(arn: string, status: DestinationStatus): void {
    const d = this.get(arn);
    if (status === 'IN_PROGRESS') {
      const next = { ...d, status, confirmationToken: randomBytes(32).toString('hex'), lastUpdatedAt: this.now() };
      this.deps.store.putDestination(next);
      void this.sendConfirmation(next);
      return;
    }
    if (status !== 'ENABLED' && status !== 'DISABLED') throw rulesErrors.invalid(`status ${status} cannot be set`);
    if (status === 'ENABLED' && d.status === 'IN_PROGRESS') throw rulesErrors.invalid('the destination has not been confirmed');
    this.deps.store.putDestination({ ...d, status, lastUpdatedAt: this.now() });
  }

  delete(arn: string): void {
    if (!this.deps.store.deleteDestination(arn)) throw rulesErrors.destinationNotFound(arn);
  }

  /** The destination a URL falls under (its confirmationUrl is a prefix), or null. */
  forUrl(url: string): StoredDestination | null {
    let best: StoredDestination | null = null;
    for (const d of this.deps.store.listDestinations()) if (url.startsWith(d.confirmationUrl) && (best === null || d.confirmationUrl.length > best.confirmationUrl.length)) best = d;
    return best;
  }
}
