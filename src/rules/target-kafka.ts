/**
 * A shared kafkajs producer for `kafka` actions, one per distinct connection (brokers, TLS, SASL).
 * kafkajs retries a little by itself; the whole send is also bounded by the action timeout.
 */
import { CompressionTypes, Kafka, logLevel, Partitioners, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from '../lib/index.js';
import { withTimeout } from './target-util.js';

/** What identifies a Kafka client: plain JSON, so that equal connections share one producer. */
export interface KafkaConnection {
  brokers: string[];
  /** null: plaintext; otherwise TLS, with these CA certificates (PEM) or the system's. */
  tls: { ca: string | null } | null;
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
}

export interface KafkaSend {
  topic: string;
  key: string | null;
  value: Buffer;
  partition: number | null;
  headers: Record<string, string>;
  /** -1 (all), 0 or 1. */
  acks: number;
  gzip: boolean;
}

export class KafkaTarget {
  private producer: Promise<Producer> | null = null;
  private closed = false;

  constructor(
    private readonly conn: KafkaConnection,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  private connection(): Promise<Producer> {
    if (this.producer !== null) return this.producer;
    const log = this.logger;
    const kafka = new Kafka({
      clientId: 'thingport-rules',
      brokers: this.conn.brokers,
      ...(this.conn.tls === null ? {} : { ssl: this.conn.tls.ca === null ? true : { ca: [this.conn.tls.ca] } }),
      ...(this.conn.sasl === null ? {} : { sasl: { ...this.conn.sasl } as SASLOptions }),
      connectionTimeout: this.timeoutMs,
      requestTimeout: this.timeoutMs,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      // kafkajs logs to the console by default; route it to Thingport's log.
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          const { message, ...rest } = entry;
          if (level <= logLevel.ERROR) log.warn({ kafka: rest }, `kafka: ${message}`);
          else log.debug({ kafka: rest }, `kafka: ${message}`);
        },
    });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    const p = producer.connect().then(() => producer);
    this.producer = p;
    p.then(
      () => {
        producer.on(producer.events.DISCONNECT, () => {
          if (this.producer === p) this.producer = null;
        });
        if (this.closed) void producer.disconnect().catch(() => undefined);
      },
      () => {
        if (this.producer === p) this.producer = null;
      },
    );
    return p;
  }

  /** Sends one message and waits for the acks it asks for (or the timeout). */
  send(m: KafkaSend): Promise<void> {
    const where = `Kafka ${this.conn.brokers.join(',')}`;
    const run = async (): Promise<void> => {
      const producer = await this.connection();
      await producer.send({
        topic: m.topic,
        acks: m.acks,
        timeout: this.timeoutMs,
        compression: m.gzip ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: [{ key: m.key, value: m.value, headers: m.headers, ...(m.partition === null ? {} : { partition: m.partition }) }],
      });
    };
    return withTimeout(
      run().catch((err: unknown) => Promise.reject(new Error(`${where}: ${(err as Error).message}`))),
      this.timeoutMs,
      `send to ${where}`,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.producer;
    this.producer = null;
    if (p === null) return;
    const producer = await p.catch(() => null);
    if (producer !== null) await producer.disconnect().catch(() => undefined);
  }
}
