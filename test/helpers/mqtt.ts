/**
 * Small promise helpers around mqtt.js 5, the client most users of Thingport run. A TestClient
 * records every message from the moment it connects, so a test never races a subscription
 * against a publish: it asks for "the first n messages that match" and gets them or a timeout.
 */
import { connect } from 'mqtt';
import type {
  IClientOptions,
  IClientPublishOptions,
  IClientSubscribeOptions,
  IConnackPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubscriptionGrant,
  MqttClient,
} from 'mqtt';
import { randomClientId, withTimeout } from './raw-client.js';

export const MESSAGE_TIMEOUT_MS = 3_000;

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

export type Matcher = string | ((m: Received) => boolean);

export class TestClient {
  /** Every message delivered on this connection, in arrival order. */
  readonly messages: Received[] = [];
  /** A DISCONNECT sent by the server (MQTT 5), if any. */
  serverDisconnect: IDisconnectPacket | null = null;
  closed = false;

  private readonly listeners = new Set<() => void>();
  private readonly closedPromise: Promise<void>;

  constructor(
    readonly client: MqttClient,
    readonly connack: IConnackPacket,
  ) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      for (const l of this.listeners) l();
    });
    client.on('disconnect', (p) => (this.serverDisconnect = p));
    this.closedPromise = new Promise((resolve) =>
      client.on('close', () => {
        this.closed = true;
        for (const l of this.listeners) l();
        resolve();
      }),
    );
    // Errors after connect (e.g. the server closing) surface through assertions, not crashes.
    client.on('error', () => undefined);
  }

  get clientId(): string {
    return this.client.options.clientId ?? '';
  }

  async subscribe(filter: string | string[], opts: Partial<IClientSubscribeOptions> = { qos: 1 }): Promise<ISubscriptionGrant[]> {
    return this.client.subscribeAsync(filter, { qos: 1, ...opts } as IClientSubscribeOptions);
  }

  async unsubscribe(filter: string | string[]): Promise<void> {
    await this.client.unsubscribeAsync(filter);
  }

  /** Publishes and waits for the QoS flow to complete (QoS 0: until written). */
  async publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, opts);
  }

  /** Messages received so far that match (a topic string compares exactly). */
  matching(m: Matcher): Received[] {
    return this.messages.filter(toPredicate(m));
  }

  /** Waits until n matching messages have arrived and returns exactly those n (earliest first). */
  async waitMessages(m: Matcher, n: number, timeoutMs = MESSAGE_TIMEOUT_MS): Promise<Received[]> {
    const pred = toPredicate(m);
    const done = (): boolean => this.messages.filter(pred).length >= n;
    if (!done()) {
      await this.until(done, timeoutMs, () => {
        const got = this.messages.filter(pred);
        return `expected ${n} message(s) matching ${describeMatcher(m)} within ${timeoutMs} ms, got ${got.length}: ${got
          .map((r) => `${r.topic}=${r.payload.toString().slice(0, 40)}`)
          .join(', ')}`;
      });
    }
    return this.messages.filter(pred).slice(0, n);
  }

  async waitMessage(m: Matcher, timeoutMs = MESSAGE_TIMEOUT_MS): Promise<Received> {
    const [r] = await this.waitMessages(m, 1, timeoutMs);
    return r;
  }

  /** Resolves when the connection is closed (by either side). */
  waitClose(timeoutMs = MESSAGE_TIMEOUT_MS): Promise<void> {
    return withTimeout(this.closedPromise, timeoutMs, `connection still open after ${timeoutMs} ms`);
  }

  /** Normal DISCONNECT (reason 0 on MQTT 5) and close. */
  async end(): Promise<void> {
    if (this.closed) return;
    await this.client.endAsync();
  }

  /** Drops the connection without DISCONNECT (ungraceful, as the server sees it). */
  destroy(): void {
    this.client.stream.destroy();
    this.client.end(true);
  }

  /** Calls fn after every message and on close; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private until(cond: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(why()));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }
}

/** Waits until the clients together hold n matching messages; returns each client's matching payloads. */
export function waitTotal(clients: TestClient[], m: Matcher, n: number, timeoutMs = MESSAGE_TIMEOUT_MS): Promise<string[][]> {
  const pred = toPredicate(m);
  const snapshot = (): string[][] => clients.map((c) => c.messages.filter(pred).map((r) => r.payload.toString()));
  const total = (): number => snapshot().reduce((s, x) => s + x.length, 0);
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve(snapshot());
    };
    const check = (): void => {
      if (total() >= n) finish();
    };
    const timer = setTimeout(
      () => finish(new Error(`expected ${n} message(s) across ${clients.length} clients within ${timeoutMs} ms, got ${JSON.stringify(snapshot())}`)),
      timeoutMs,
    );
    for (const c of clients) offs.push(c.onChange(check));
    check();
  });
}

function toPredicate(m: Matcher): (r: Received) => boolean {
  return typeof m === 'string' ? (r) => r.topic === m : m;
}

function describeMatcher(m: Matcher): string {
  return typeof m === 'string' ? JSON.stringify(m) : 'the predicate';
}

/**
 * Connects with mqtt.js (no automatic reconnect) and resolves after a successful CONNACK;
 * rejects with the broker's refusal or a connection error. `target` is a URL or a TCP port on
 * 127.0.0.1.
 */
export function connectClient(target: string | number, opts: IClientOptions = {}): Promise<TestClient> {
  const url = typeof target === 'number' ? `mqtt://127.0.0.1:${target}` : target;
  const client = connect(url, {
    clientId: randomClientId('js'),
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
    ...opts,
  });
  return new Promise<TestClient>((resolve, reject) => {
    const onError = (e: Error): void => {
      client.end(true);
      reject(e);
    };
    const onClose = (): void => reject(new Error(`connection to ${url} closed before CONNACK`));
    client.once('error', onError);
    client.once('close', onClose);
    client.once('connect', (connack) => {
      client.off('error', onError);
      client.off('close', onClose);
      resolve(new TestClient(client, connack));
    });
  });
}

/** A topic unique to one test, so tests sharing a broker never see each other's messages. */
export function uniqueTopic(name: string): string {
  return `t/${name}/${Math.random().toString(36).slice(2, 10)}`;
}

/** Fetches a URL's text. */
export async function httpGet(url: string): Promise<{ status: number; body: string; contentType: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

/**
 * Sum of a Prometheus metric's samples whose labels include all the given ones
 * (0 when the metric or the label set is absent).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(lm[1], lm[2]);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Whether the metric appears at all (a HELP/TYPE line or a sample). */
export function hasMetric(text: string, name: string): boolean {
  return text.split('\n').some((l) => l === name || l.startsWith(`${name} `) || l.startsWith(`${name}{`) || l.startsWith(`# TYPE ${name} `));
}

/** Waits until an async probe returns true (polling at short intervals), for state only visible by asking. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Lets wall-clock time pass. Only for behaviour defined by elapsed time (keep-alive, expiry,
 * will delay) — never to wait for a message or a packet.
 */
export function elapse(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
