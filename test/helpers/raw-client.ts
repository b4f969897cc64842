/**
 * A raw TCP MQTT client for black-box protocol tests: it sends exactly the bytes or packets a
 * test gives it (valid or not) and hands back every packet the server sends, in order, decoded
 * by mqtt-packet. Nothing is retried, acknowledged or validated on the client side, so a test
 * sees precisely what the broker did.
 */
import net from 'node:net';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  Packet,
  PacketCmd,
  Parser,
} from 'mqtt-packet';

const { generate, parser: createParser } = mqttPacket;

export type ProtocolVersion = 4 | 5;
export type PacketOf<C extends PacketCmd> = Extract<Packet, { cmd: C }>;

/** Default wait for one packet; generous because CI machines stall, never a sleep. */
export const PACKET_TIMEOUT_MS = 3_000;

/** Thrown by nextPacket when the server closed the connection before sending another packet. */
export class ConnectionClosedError extends Error {
  constructor(what: string) {
    super(`connection closed by the server while waiting for ${what}`);
    this.name = 'ConnectionClosedError';
  }
}

interface Waiter {
  predicate(p: Packet): boolean;
  resolve(p: Packet): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface RawConnectOptions {
  host?: string;
  /** Decoding version for packets from the server (CONNECT packets sent later override it). */
  protocolVersion?: ProtocolVersion;
}

export class RawClient {
  /** Every byte received, for tests that inspect what mqtt-packet cannot decode. */
  received: Buffer = Buffer.alloc(0);
  /** Set when the server's bytes could not be decoded (e.g. a 3.1.1-style CONNACK read as v5). */
  parseError: Error | null = null;
  closed = false;

  private readonly queue: Packet[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly parser: Parser & { settings: { protocolVersion?: number } };
  private readonly closedPromise: Promise<void>;

  constructor(
    readonly socket: net.Socket,
    public protocolVersion: ProtocolVersion,
  ) {
    this.parser = createParser({ protocolVersion }) as Parser & { settings: { protocolVersion?: number } };
    this.parser.on('packet', (p: Packet) => this.push(p));
    this.parser.on('error', (e: Error) => {
      // Name the bytes: a decode failure is a finding, and the hex is what explains it.
      this.parseError = new Error(`${e.message}; bytes received: ${this.received.subarray(-300).toString('hex')}`);
      this.failWaiters(new Error(`cannot decode server bytes: ${this.parseError.message}`));
    });
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.parser.parse(chunk);
    });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.failWaiters(new ConnectionClosedError('a packet'));
        resolve();
      });
    });
    // A reset by the server is a close as far as tests are concerned.
    socket.on('error', () => undefined);
  }

  /** Writes raw bytes, e.g. a deliberately malformed packet. */
  send(bytes: Buffer | number[]): void {
    if (this.closed) return;
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Encodes a packet with mqtt-packet and writes it. A CONNECT switches the decoding version. */
  sendPacket(packet: Packet, protocolVersion?: ProtocolVersion): void {
    if (packet.cmd === 'connect' && packet.protocolVersion) this.setVersion(packet.protocolVersion === 5 ? 5 : 4);
    this.send(encodePacket(packet, protocolVersion ?? this.protocolVersion));
  }

  setVersion(v: ProtocolVersion): void {
    this.protocolVersion = v;
    this.parser.settings.protocolVersion = v;
  }

  /** The next packet from the server, whatever it is. Rejects on timeout or close. */
  nextPacket(timeoutMs = PACKET_TIMEOUT_MS): Promise<Packet> {
    return this.take(() => true, timeoutMs, 'a packet');
  }

  /**
   * The first packet (queued or yet to come) that satisfies the predicate; packets before it stay
   * queued, in order, for later reads. Used for acknowledgements that may be overtaken by
   * deliveries of the same message to this very client.
   */
  take(predicate: (p: Packet) => boolean, timeoutMs = PACKET_TIMEOUT_MS, what = 'a matching packet'): Promise<Packet> {
    const i = this.queue.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(new ConnectionClosedError(what));
    if (this.parseError) return Promise.reject(new Error(`cannot decode server bytes: ${this.parseError.message}`));
    return new Promise<Packet>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          const queued = this.queue.map(describePacket).join(', ');
          reject(new Error(`no ${what} from the server within ${timeoutMs} ms${queued ? ` (queued: ${queued})` : ''}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** The next packet, which must be of the given type. */
  async expect<C extends PacketCmd>(cmd: C, timeoutMs = PACKET_TIMEOUT_MS): Promise<PacketOf<C>> {
    const p = await this.nextPacket(timeoutMs);
    assert.equal(p.cmd, cmd, `expected ${cmd}, got ${describePacket(p)}`);
    return p as PacketOf<C>;
  }

  /** Skips packets until one satisfies the predicate; the skipped ones are returned too. */
  async waitFor<P extends Packet = Packet>(
    predicate: (p: Packet) => boolean,
    timeoutMs = PACKET_TIMEOUT_MS,
  ): Promise<{ packet: P; skipped: Packet[] }> {
    const deadline = Date.now() + timeoutMs;
    const skipped: Packet[] = [];
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching packet within ${timeoutMs} ms; got ${skipped.map(describePacket).join(', ') || 'nothing'}`);
      const p = await this.nextPacket(left);
      if (predicate(p)) return { packet: p as P, skipped };
      skipped.push(p);
    }
  }

  /** Collects the next n PUBLISH packets (other packets are a failure). */
  async publishes(n: number, timeoutMs = PACKET_TIMEOUT_MS): Promise<IPublishPacket[]> {
    const out: IPublishPacket[] = [];
    for (let i = 0; i < n; i++) out.push(await this.expect('publish', timeoutMs));
    return out;
  }

  /** Packets already received and not yet consumed. */
  pending(): readonly Packet[] {
    return this.queue;
  }

  /** Resolves when the server has closed the connection; rejects after timeoutMs. */
  waitClosed(timeoutMs = PACKET_TIMEOUT_MS): Promise<void> {
    if (this.closed) return Promise.resolve();
    return withTimeout(this.closedPromise, timeoutMs, `the server did not close the connection within ${timeoutMs} ms`);
  }

  /** Sends CONNECT (in this client's protocol version unless given) and returns the server's CONNACK. */
  async connect(fields: Partial<IConnectPacket> = {}, timeoutMs = PACKET_TIMEOUT_MS): Promise<IConnackPacket> {
    const packet: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.protocolVersion,
      clean: true,
      keepalive: 60,
      clientId: '',
      ...fields,
    };
    this.sendPacket(packet);
    return this.expect('connack', timeoutMs);
  }

  /**
   * PINGREQ, then waits for the PINGRESP. Whatever the server sent before it stays queued (see
   * pending()), so `await ping(); pending()` shows everything the server had sent by then.
   */
  async ping(timeoutMs = PACKET_TIMEOUT_MS): Promise<void> {
    this.sendPacket({ cmd: 'pingreq' });
    await this.take((p) => p.cmd === 'pingresp', timeoutMs, 'PINGRESP');
  }

  /** Subscribes and returns the SUBACK's granted codes. */
  async subscribe(
    filters: Array<{ topic: string; qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }> | string,
    opts: { messageId?: number; properties?: { subscriptionIdentifier?: number; userProperties?: Record<string, string> } } = {},
  ): Promise<number[]> {
    const subscriptions = typeof filters === 'string' ? [{ topic: filters, qos: 1 as const }] : filters;
    const messageId = opts.messageId ?? nextId();
    this.sendPacket({ cmd: 'subscribe', messageId, subscriptions, ...(opts.properties ? { properties: opts.properties } : {}) });
    const suback = await this.takeAck('suback', messageId);
    return suback.granted as number[];
  }

  /** Unsubscribes and returns the UNSUBACK's reason codes (MQTT 5; empty for 3.1.1). */
  async unsubscribe(filters: string[], messageId = nextId()): Promise<number[]> {
    this.sendPacket({ cmd: 'unsubscribe', messageId, unsubscriptions: filters });
    const unsuback = await this.takeAck('unsuback', messageId);
    return (unsuback.granted as number[] | undefined) ?? [];
  }

  /** Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP); returns the ack's reason code. */
  async publish(
    topic: string,
    payload: string | Buffer,
    opts: { qos?: 0 | 1 | 2; retain?: boolean; properties?: IPublishPacket['properties']; messageId?: number } = {},
  ): Promise<number> {
    const qos = opts.qos ?? 0;
    const messageId = qos > 0 ? (opts.messageId ?? nextId()) : undefined;
    this.sendPacket({
      cmd: 'publish',
      topic,
      payload,
      qos,
      dup: false,
      retain: opts.retain ?? false,
      ...(messageId !== undefined ? { messageId } : {}),
      ...(opts.properties ? { properties: opts.properties } : {}),
    });
    if (qos === 0) return 0;
    if (qos === 1) {
      const ack = await this.takeAck('puback', messageId);
      return ack.reasonCode ?? 0;
    }
    const rec = await this.takeAck('pubrec', messageId);
    if ((rec.reasonCode ?? 0) >= 0x80) return rec.reasonCode ?? 0;
    this.sendPacket({ cmd: 'pubrel', messageId });
    await this.takeAck('pubcomp', messageId);
    return rec.reasonCode ?? 0;
  }

  /**
   * The acknowledgement of the given type for our packet id, skipping (and keeping queued) other
   * packets; a DISCONNECT or close instead is a failure that names what came.
   */
  async takeAck<C extends 'puback' | 'pubrec' | 'pubcomp' | 'pubrel' | 'suback' | 'unsuback'>(
    cmd: C,
    messageId: number | undefined,
    timeoutMs = PACKET_TIMEOUT_MS,
  ): Promise<PacketOf<C>> {
    const p = await this.take(
      (x) => (x.cmd === cmd && x.messageId === messageId) || x.cmd === 'disconnect',
      timeoutMs,
      `${cmd.toUpperCase()} for packet id ${messageId}`,
    );
    assert.equal(p.cmd, cmd, `expected ${cmd.toUpperCase()} for packet id ${messageId}, got ${describePacket(p)}`);
    return p as PacketOf<C>;
  }

  /** Acknowledges a received PUBLISH as its QoS requires (QoS 2: PUBREC, then PUBCOMP for the PUBREL). */
  async ack(p: IPublishPacket): Promise<void> {
    if (p.qos === 1) this.sendPacket({ cmd: 'puback', messageId: p.messageId });
    if (p.qos === 2) {
      this.sendPacket({ cmd: 'pubrec', messageId: p.messageId });
      await this.takeAck('pubrel', p.messageId);
      this.sendPacket({ cmd: 'pubcomp', messageId: p.messageId });
    }
  }

  /** Sends DISCONNECT (v5: with a reason code) and waits for the server to close. */
  async disconnect(reasonCode = 0, properties?: IDisconnectPacket['properties']): Promise<void> {
    const packet: IDisconnectPacket = { cmd: 'disconnect' };
    if (this.protocolVersion === 5) {
      packet.reasonCode = reasonCode;
      if (properties) packet.properties = properties;
    }
    this.sendPacket(packet);
    this.socket.end();
    await this.waitClosed();
  }

  /** Drops the TCP connection without DISCONNECT: an ungraceful close as far as the server knows. */
  destroy(): void {
    this.socket.destroy();
  }

  private push(p: Packet): void {
    const i = this.waiters.findIndex((w) => w.predicate(p));
    if (i < 0) {
      this.queue.push(p);
      return;
    }
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(p);
  }

  private failWaiters(e: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }
}

let idCounter = 0;
/** Packet ids for raw clients: unique enough within one connection's short life, never 0. */
export function nextId(): number {
  idCounter = (idCounter % 65_000) + 1;
  return idCounter;
}

/** Encodes one packet with mqtt-packet's generator. */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion = 4): Buffer {
  return generate(packet, { protocolVersion });
}

/** Opens a TCP connection (nothing sent yet). */
export function rawConnect(port: number, opts: RawConnectOptions = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1' });
    socket.setNoDelay(true);
    // An open test socket must never keep the test process alive on its own.
    socket.unref();
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new RawClient(socket, opts.protocolVersion ?? 4));
    });
  });
}

/**
 * Opens a connection and completes CONNECT/CONNACK, asserting success.
 * A random client id is used unless one is given.
 */
export async function rawConnected(
  port: number,
  protocolVersion: ProtocolVersion,
  fields: Partial<IConnectPacket> = {},
  host?: string,
): Promise<{ client: RawClient; connack: IConnackPacket }> {
  const client = await rawConnect(port, { protocolVersion, ...(host ? { host } : {}) });
  const connack = await client.connect({ clientId: randomClientId(), ...fields });
  assert.equal(connack.reasonCode ?? connack.returnCode, 0, `CONNACK refused: ${describePacket(connack)}`);
  return { client, connack };
}

/**
 * Asserts the server ends the connection for a protocol violation: on MQTT 5 a DISCONNECT carrying
 * one of the given reason codes comes first [MQTT-4.13.1-1]; then the network connection closes.
 */
export async function expectServerDisconnect(
  client: RawClient,
  reasonCodes: number | readonly number[],
  timeoutMs = PACKET_TIMEOUT_MS,
): Promise<IDisconnectPacket | null> {
  const codes = typeof reasonCodes === 'number' ? [reasonCodes] : reasonCodes;
  let disconnect: IDisconnectPacket | null = null;
  if (client.protocolVersion === 5) {
    const p = await client.nextPacket(timeoutMs).catch((e: Error) => e);
    assert.ok(!(p instanceof Error), `expected DISCONNECT ${codes.map(hex).join('/')} before the close, got ${p instanceof Error ? p.message : ''}`);
    assert.equal(p.cmd, 'disconnect', `expected DISCONNECT ${codes.map(hex).join('/')}, got ${describePacket(p)}`);
    disconnect = p as IDisconnectPacket;
    assert.ok(
      codes.includes(disconnect.reasonCode ?? 0),
      `DISCONNECT reason ${hex(disconnect.reasonCode ?? 0)}, expected ${codes.map(hex).join(' or ')}`,
    );
  } else {
    // MQTT 3.1.1 has no server DISCONNECT: anything but a close is wrong.
    const p = await client.nextPacket(timeoutMs).catch((e: Error) => e);
    assert.ok(p instanceof ConnectionClosedError, `expected the connection to close, got ${p instanceof Error ? p.message : describePacket(p)}`);
  }
  await client.waitClosed(timeoutMs);
  return disconnect;
}

/** Asserts the server closes the connection, tolerating nothing but the listed packet types first. */
export async function expectClosed(client: RawClient, timeoutMs = PACKET_TIMEOUT_MS): Promise<Packet[]> {
  const seen: Packet[] = [];
  for (;;) {
    const p = await client.nextPacket(timeoutMs).catch((e: Error) => e);
    if (p instanceof ConnectionClosedError) return seen;
    if (p instanceof Error) throw p;
    seen.push(p);
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;
}

export function describePacket(p: Packet): string {
  const extra: string[] = [];
  const r = p as { reasonCode?: number; returnCode?: number; messageId?: number; topic?: string; granted?: unknown };
  if (r.reasonCode != null) extra.push(`reason ${hex(r.reasonCode)}`);
  if (r.returnCode != null) extra.push(`return ${hex(r.returnCode)}`);
  if (r.messageId != null) extra.push(`id ${r.messageId}`);
  if (r.topic != null) extra.push(`topic ${JSON.stringify(r.topic)}`);
  if (r.granted != null) extra.push(`granted ${JSON.stringify(r.granted)}`);
  return `${p.cmd.toUpperCase()}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

let clientCounter = 0;
/** A client id unique within the test run: letters and digits only, 23 bytes at most [MQTT-3.1.3-5]. */
export function randomClientId(prefix = 'raw'): string {
  clientCounter += 1;
  return `${prefix}${process.pid}x${clientCounter}${Math.random().toString(36).slice(2, 6)}`.slice(0, 23);
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
