/**
 * One small interface over the byte streams MQTT runs on (TCP, TLS, WebSocket), so a connection's
 * protocol code is the same for all of them.
 */
import type { Socket } from 'node:net';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { WebSocket } from 'ws';
import type { TransportKind } from './hooks.js';

/** What a transport reports to its owner (the Connection itself: no closures per connection). */
export interface TransportEvents {
  onData(chunk: Buffer): void;
  onClose(): void;
}

export interface Transport {
  readonly kind: TransportKind;
  /** The WebSocket upgrade request (url, headers); null for TCP and TLS. */
  readonly httpRequest: { url: string; headers: Record<string, string | string[] | undefined> } | null;
  /** TLS SNI host name, if the client sent one. */
  readonly serverName: string | null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly peerCertificate: PeerCertificate | null;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  bind(events: TransportEvents): void;
  /** Returns false when the caller should wait for onDrain. */
  write(buf: Buffer): boolean;
  cork(): void;
  uncork(): void;
  pause(): void;
  resume(): void;
  /** Closes after pending writes are flushed. */
  end(): void;
  destroy(): void;
}

/** The owner of a socket's events, kept on the socket so one set of listener functions serves all sockets. */
const OWNER = Symbol('thingport.transportEvents');
type OwnedSocket = Socket & { [OWNER]: TransportEvents };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER].onData(chunk);
}
function onSocketClose(this: OwnedSocket): void {
  this[OWNER].onClose();
}
function onSocketError(): void {
  /* 'close' follows; the reason is CONNECTION_LOST */
}

function normalizeAddress(a: string | undefined): string {
  if (a === undefined) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export class SocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly httpRequest = null;
  constructor(
    private readonly socket: Socket,
    readonly kind: TransportKind,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
  }
  get serverName(): string | null {
    if (this.kind !== 'tls') return null;
    const sn = (this.socket as TLSSocket & { servername?: string | false }).servername;
    return typeof sn === 'string' && sn.length > 0 ? sn : null;
  }
  get peerCertificate(): PeerCertificate | null {
    if (this.kind !== 'tls') return null;
    const c = (this.socket as TLSSocket).getPeerCertificate(true);
    return c !== undefined && c !== null && Object.keys(c).length > 0 ? c : null;
  }
  get writableLength(): number {
    return this.socket.writableLength;
  }
  bind(ev: TransportEvents): void {
    const socket = this.socket as OwnedSocket;
    socket[OWNER] = ev;
    socket.on('data', onSocketData);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
  }
  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }
  cork(): void {
    this.socket.cork();
  }
  uncork(): void {
    this.socket.uncork();
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  end(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
}

export class WebSocketTransport implements Transport {
  private closed = false;
  constructor(
    private readonly ws: WebSocket,
    readonly kind: TransportKind,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly peerCertificate: PeerCertificate | null,
    readonly httpRequest: { url: string; headers: Record<string, string | string[] | undefined> } | null = null,
    readonly serverName: string | null = null,
  ) {
    this.remoteAddress = normalizeAddress(remoteAddress);
  }
  get writableLength(): number {
    return this.ws.bufferedAmount;
  }
  bind(ev: TransportEvents): void {
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) {
        // [MQTT-6.0.0-1] MQTT over WebSocket uses binary frames only.
        this.destroy();
        return;
      }
      if (Array.isArray(data)) for (const d of data) ev.onData(d);
      else ev.onData(Buffer.isBuffer(data) ? data : Buffer.from(data));
    });
    this.ws.on('close', () => {
      this.closed = true;
      ev.onClose();
    });
    this.ws.on('error', () => {
      /* 'close' follows */
    });
  }
  write(buf: Buffer): boolean {
    if (this.closed) return false;
    this.ws.send(buf, { binary: true });
    return this.ws.bufferedAmount < 1 << 20;
  }
  cork(): void {}
  uncork(): void {}
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
  end(): void {
    this.ws.close();
  }
  destroy(): void {
    this.ws.terminate();
  }
}
