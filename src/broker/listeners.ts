/**
 * Network listeners: MQTT over TCP and TLS, and MQTT over WebSocket at a path of an HTTP(S) server.
 * Each hands accepted connections to the broker as a Transport.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TLSSocket } from 'node:tls';
import type { Broker } from './broker.js';
import { SocketTransport, WebSocketTransport } from './transport.js';

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens; a failure to bind rejects (the caller names the setting), later errors are logged. */
function listen(server: net.Server, host: string, port: number, onLaterError: (err: Error) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', onError);
      server.on('error', onLaterError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** MQTT over plain TCP. Rejects with the listen error (EADDRINUSE...) so the caller can name the setting. */
export async function listenMqtt(broker: Broker, host: string, port: number): Promise<Listener> {
  const server = net.createServer({ noDelay: true }, (socket) => broker.accept(new SocketTransport(socket, 'tcp')));
  const bound = await listen(server, host, port, (err) => broker.logger.error({ err }, 'mqtt listener error'));
  return { port: bound, close: () => closeServer(server) };
}

export interface TlsListenerOptions {
  key: string;
  cert: string;
  ca?: string;
  /** Ask clients for a certificate (default true; verifying it is the authenticate hook's job). */
  requestCert?: boolean;
}

/** MQTT over TLS (8883). */
export async function listenMqtts(broker: Broker, host: string, port: number, opts: TlsListenerOptions): Promise<Listener> {
  const server = tls.createServer(
    { key: opts.key, cert: opts.cert, ca: opts.ca, requestCert: opts.requestCert !== false, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (socket) => broker.accept(new SocketTransport(socket, 'tls')),
  );
  server.on('tlsClientError', (err) => broker.logger.debug({ err: err.message }, 'TLS handshake failed'));
  const bound = await listen(server, host, port, (err) => broker.logger.error({ err }, 'mqtts listener error'));
  return { port: bound, close: () => closeServer(server) };
}

/**
 * Serves MQTT over WebSocket at `path` of an HTTP or HTTPS server (sub-protocol `mqtt`, binary frames).
 * Other upgrade requests are refused with 404.
 */
export function attachWebSocket(broker: Broker, server: HttpServer, path: string, secure: boolean): () => Promise<void> {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: broker.config.maxPacketBytes + 8,
    perMessageDeflate: false,
    handleProtocols: (protocols) => {
      for (const p of ['mqtt', 'mqttv3.1']) if (protocols.has(p)) return p;
      return false;
    },
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sock = req.socket as TLSSocket;
      const cert = secure && typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate(true) : null;
      const peer = cert !== null && Object.keys(cert).length > 0 ? cert : null;
      const sn = secure ? (sock as TLSSocket & { servername?: string | false }).servername : null;
      const serverName = typeof sn === 'string' && sn.length > 0 ? sn : null;
      const httpRequest = { url, headers: { ...req.headers } };
      broker.accept(new WebSocketTransport(ws, secure ? 'wss' : 'ws', req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0, peer, httpRequest, serverName));
    });
  };
  server.on('upgrade', onUpgrade);
  return async () => {
    server.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
