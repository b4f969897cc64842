/**
 * A shared AMQP 0-9-1 connection (RabbitMQ) for `amqp` actions, with one confirm channel per
 * exchange: a publish resolves when the broker confirms it, and fails when the broker nacks it or
 * closes the channel (an exchange that does not exist closes its channel with 404 — which is why
 * each exchange has its own channel: one rule's missing exchange does not fail another's publishes).
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from '../lib/index.js';
import { redactUrl, withTimeout } from './target-util.js';

interface ChannelState {
  channel: Promise<ConfirmChannel>;
  /** Why the broker closed the channel, for the failures it causes. */
  error: string | null;
}

export interface AmqpPublish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  headers: Record<string, string>;
  persistent: boolean;
  contentType: string;
}

export class AmqpTarget {
  private conn: Promise<ChannelModel> | null = null;
  private readonly channels = new Map<string, ChannelState>();
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  private connection(): Promise<ChannelModel> {
    if (this.conn !== null) return this.conn;
    const p = connect(this.url, { timeout: this.timeoutMs });
    this.conn = p;
    p.then(
      (c) => {
        c.on('error', (err: Error) => this.logger.warn({ err, url: redactUrl(this.url) }, 'AMQP connection of rule actions failed'));
        // Reconnect on the next publish.
        c.on('close', () => {
          if (this.conn === p) {
            this.conn = null;
            this.channels.clear();
          }
        });
        if (this.closed) void c.close().catch(() => undefined);
      },
      () => {
        if (this.conn === p) this.conn = null;
      },
    );
    return p;
  }

  private channel(exchange: string): ChannelState {
    let st = this.channels.get(exchange);
    if (st !== undefined) return st;
    const state: ChannelState = { channel: this.connection().then((c) => c.createConfirmChannel()), error: null };
    st = state;
    this.channels.set(exchange, state);
    state.channel.then(
      (ch) => {
        ch.on('error', (err: Error) => (state.error = err.message));
        ch.on('close', () => {
          if (this.channels.get(exchange) === state) this.channels.delete(exchange);
        });
      },
      () => {
        if (this.channels.get(exchange) === state) this.channels.delete(exchange);
      },
    );
    return state;
  }

  /** Publishes and waits for the broker's confirm (or the timeout). */
  publish(m: AmqpPublish): Promise<void> {
    const run = async (): Promise<void> => {
      const st = this.channel(m.exchange);
      const ch = await st.channel;
      await new Promise<void>((resolve, reject) => {
        const options = { headers: m.headers, persistent: m.persistent, contentType: m.contentType };
        try {
          ch.publish(m.exchange, m.routingKey, m.content, options, (err: unknown) => (err ? reject(new Error(st.error ?? String((err as Error).message ?? err))) : resolve()));
        } catch (err) {
          // A channel that is already closed throws at once.
          reject(new Error(st.error ?? (err as Error).message));
        }
      });
    };
    return withTimeout(
      run().catch((err: unknown) => Promise.reject(new Error(`AMQP ${redactUrl(this.url)}: ${(err as Error).message}`))),
      this.timeoutMs,
      `publish to AMQP ${redactUrl(this.url)}`,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.conn;
    this.conn = null;
    this.channels.clear();
    if (p === null) return;
    const c = await p.catch(() => null);
    if (c !== null) await c.close().catch(() => undefined);
  }
}
