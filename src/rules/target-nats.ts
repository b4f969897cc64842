/**
 * A shared NATS connection for `nats` actions. NATS core publishing is fire-and-forget, so a publish
 * is confirmed with a PING/PONG round trip (flush): the server has the message once the PONG that
 * follows it arrives. Publishes in the same tick share one flush.
 */
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../lib/index.js';
import { redactUrl, withTimeout } from './target-util.js';

export class NatsTarget {
  private conn: Promise<NatsConnection> | null = null;
  private pendingFlush: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  private connection(): Promise<NatsConnection> {
    if (this.conn !== null) return this.conn;
    const p = connect({ servers: this.url, name: 'thingport-rules', timeout: this.timeoutMs, reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: false });
    this.conn = p;
    p.then(
      (nc) => {
        // A connection that closed for good (not a reconnect) is replaced on the next publish.
        void nc.closed().then((err) => {
          if (this.conn === p) this.conn = null;
          if (err) this.logger.warn({ err, url: redactUrl(this.url) }, 'NATS connection of rule actions closed');
        });
        if (this.closed) void nc.close();
      },
      () => {
        if (this.conn === p) this.conn = null;
      },
    );
    return p;
  }

  /** Publishes and waits until the server has the message (or the timeout). */
  publish(subject: string, data: Uint8Array, headers: [string, string][]): Promise<void> {
    const run = async (): Promise<void> => {
      const nc = await this.connection();
      let h;
      if (headers.length > 0) {
        h = natsHeaders();
        for (const [k, v] of headers) h.append(k, v);
      }
      nc.publish(subject, data, h === undefined ? undefined : { headers: h });
      await this.flush(nc);
    };
    return withTimeout(
      run().catch((err: unknown) => Promise.reject(new Error(`NATS ${redactUrl(this.url)}: ${(err as Error).message}`))),
      this.timeoutMs,
      `publish to NATS ${redactUrl(this.url)}`,
    );
  }

  private flush(nc: NatsConnection): Promise<void> {
    // Joined by every publish made before it is sent (it is sent on the next turn of the event loop).
    this.pendingFlush ??= new Promise<void>((r) => setImmediate(r)).then(() => {
      this.pendingFlush = null;
      return nc.flush();
    });
    return this.pendingFlush;
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.conn;
    this.conn = null;
    if (p === null) return;
    const nc = await p.catch(() => null);
    if (nc !== null && !nc.isClosed()) await nc.close();
  }
}
