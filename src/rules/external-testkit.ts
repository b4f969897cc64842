/**
 * Test kit (imported by tests only): the real services the on-premises rule actions talk to, as tests see them: addresses from
 * THINGPORT_TEST_* variables (`.ci/run` sets them), a NATS subscriber, a RabbitMQ queue bound to an
 * exchange, a PostgreSQL client, a Kafka consumer, and a loopback port where nothing listens.
 */
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';

export const NATS_URL = process.env.THINGPORT_TEST_NATS_URL || undefined;
export const AMQP_URL = process.env.THINGPORT_TEST_AMQP_URL || undefined;
export const POSTGRES_URL = process.env.THINGPORT_TEST_POSTGRES_URL || undefined;
/** Comma-separated host:port list. */
export const KAFKA_BROKERS = process.env.THINGPORT_TEST_KAFKA_BROKERS || undefined;

/** node:test's `skip` option: the reason when the variable is not set, else false. */
export function needs(name: 'NATS_URL' | 'AMQP_URL' | 'POSTGRES_URL' | 'KAFKA_BROKERS'): string | false {
  const value = { NATS_URL, AMQP_URL, POSTGRES_URL, KAFKA_BROKERS }[name];
  return value === undefined ? `THINGPORT_TEST_${name} not set` : false;
}

/** A name no other test run uses (NATS subjects, exchanges, tables: letters, digits, _). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

/** A loopback port that refuses connections: bound, then closed. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Items arriving over time, taken in order; `next` fails after a timeout instead of hanging. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  get pending(): number {
    return this.items.length;
  }
  next(timeoutMs = 5_000, what = 'a message'): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(take);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const take = (x: T): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(take);
    });
  }
}

export interface NatsReceived {
  subject: string;
  data: Buffer;
  headers: Record<string, string>;
}

/** Subscribes to `subject` on the real NATS server; the subscription is in place when this resolves. */
export async function natsSubscribe(url: string, subject: string): Promise<{ inbox: Inbox<NatsReceived>; close(): Promise<void> }> {
  const nc: NatsConnection = await natsConnect({ servers: url });
  const inbox = new Inbox<NatsReceived>();
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) {
      const headers: Record<string, string> = {};
      if (m.headers) for (const k of m.headers.keys()) headers[k] = m.headers.get(k);
      inbox.push({ subject: m.subject, data: Buffer.from(m.data), headers });
    }
  })();
  await nc.flush();
  return { inbox, close: () => nc.close() };
}

export interface AmqpReceived {
  content: Buffer;
  routingKey: string;
  exchange: string;
  headers: Record<string, unknown>;
  deliveryMode: number | undefined;
  contentType: string | undefined;
}

/** A topic exchange (deleted with its last queue) and an exclusive queue bound to it with `bindingKey`. */
export async function amqpQueue(url: string, exchange: string, bindingKey: string): Promise<{ inbox: Inbox<AmqpReceived>; close(): Promise<void> }> {
  const conn: ChannelModel = await amqpConnect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
  const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(q.queue, exchange, bindingKey);
  const inbox = new Inbox<AmqpReceived>();
  await ch.consume(
    q.queue,
    (m) => {
      if (m === null) return;
      inbox.push({
        content: m.content,
        routingKey: m.fields.routingKey,
        exchange: m.fields.exchange,
        headers: m.properties.headers ?? {},
        deliveryMode: m.properties.deliveryMode,
        contentType: m.properties.contentType,
      });
    },
    { noAck: true },
  );
  return { inbox, close: () => conn.close() };
}

/** A connected PostgreSQL client. */
export async function pgClient(url: string): Promise<pg.Client> {
  // Without a user in the URL: the operating-system user, as psql does.
  const u = new URL(url);
  if (u.username === '') u.username = userInfo().username;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  return c;
}

/** Consumes `topic` from the beginning on a real Kafka cluster. */
export async function kafkaConsume(brokers: string, topic: string): Promise<{ inbox: Inbox<{ key: string | null; value: Buffer; headers: Record<string, string> }>; close(): Promise<void> }> {
  const kafka = new Kafka({ clientId: 'thingport-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-g` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const inbox = new Inbox<{ key: string | null; value: Buffer; headers: Record<string, string> }>();
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      inbox.push({ key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0), headers });
    },
  });
  return { inbox, close: () => consumer.disconnect() };
}

/** A loopback server that accepts connections and never answers (a hung service). */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}
