/**
 * The connections of the on-premises actions (kafka, nats, amqp, postgres): one shared client per
 * distinct target (URL, or Kafka connection properties), opened on first use, reopened on the next
 * use after it broke, and closed by `close()` (Rules.stop). Every publish or insert is bounded by
 * `timeoutMs`, so a target that is down fails the action (and the errorAction runs) instead of
 * holding messages forever.
 */
import type { Logger } from '../lib/index.js';
import { AmqpTarget } from './target-amqp.js';
import { KafkaTarget, type KafkaConnection } from './target-kafka.js';
import { NatsTarget } from './target-nats.js';
import { PostgresTarget } from './target-postgres.js';
import { withTimeout } from './target-util.js';

export interface ExternalTargetsConfig {
  /** Default server of `nats` actions without `url`. */
  natsUrl: string;
  /** Default broker of `amqp` actions without `url`. */
  amqpUrl: string;
  /** Default database of `postgres` actions without `url`; null: such an action is refused. */
  postgresUrl: string | null;
  /** Bound on one publish or insert, connecting included. */
  timeoutMs: number;
}

interface Closable {
  close(): Promise<void>;
}

export class ExternalTargets {
  private readonly clients = new Map<string, Closable>();

  constructor(
    readonly config: ExternalTargetsConfig,
    private readonly logger: Logger,
  ) {}

  private get<T extends Closable>(key: string, open: () => T): T {
    let c = this.clients.get(key) as T | undefined;
    if (c === undefined) {
      c = open();
      this.clients.set(key, c);
    }
    return c;
  }

  nats(url: string): NatsTarget {
    return this.get(`nats ${url}`, () => new NatsTarget(url, this.config.timeoutMs, this.logger));
  }

  amqp(url: string): AmqpTarget {
    return this.get(`amqp ${url}`, () => new AmqpTarget(url, this.config.timeoutMs, this.logger));
  }

  postgres(url: string): PostgresTarget {
    return this.get(`postgres ${url}`, () => new PostgresTarget(url, this.config.timeoutMs, this.logger));
  }

  kafka(conn: KafkaConnection): KafkaTarget {
    return this.get(`kafka ${JSON.stringify(conn)}`, () => new KafkaTarget(conn, this.config.timeoutMs, this.logger));
  }

  /** How many clients exist (tests). */
  get size(): number {
    return this.clients.size;
  }

  /** Closes every client; a later use opens a new one. */
  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    // Bounded too: a connection still being opened to a silent server is closed when (if) it opens.
    await Promise.all(
      all.map((c) => withTimeout(c.close(), this.config.timeoutMs, 'closing a rule action connection').catch((err: unknown) => this.logger.warn({ err }, 'closing a rule action connection failed'))),
    );
  }
}
