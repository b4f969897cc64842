/**
 * Splits a byte stream into whole MQTT control packets (fixed header + Remaining Length, section 2.1/2.2).
 * It checks what must be refused before a body is buffered: reserved packet types, the fixed-header
 * flags each type requires [MQTT-2.1.3-1], a Remaining Length over 4 bytes [MQTT-1.5.5-1] and the
 * maximum packet size (so an attacker cannot make us buffer 256 MB).
 *
 * No I/O: `push(chunk)` calls `onPacket(packet)` for each complete packet and returns 0, or returns the
 * reason code that must end the connection. Packets that lie wholly inside a chunk are passed as views
 * (no copy); only a packet split across chunks is assembled into a fresh buffer.
 */
import { RC } from './reason-codes.js';

/** Required low nibble per packet type; -1 = any (PUBLISH carries DUP/QoS/RETAIN there). */
const REQUIRED_FLAGS = [
  -2, // 0 reserved
  0, // CONNECT
  0, // CONNACK
  -1, // PUBLISH
  0, // PUBACK
  0, // PUBREC
  2, // PUBREL
  0, // PUBCOMP
  2, // SUBSCRIBE
  0, // SUBACK
  2, // UNSUBSCRIBE
  0, // UNSUBACK
  0, // PINGREQ
  0, // PINGRESP
  0, // DISCONNECT
  0, // AUTH
];

/** Receives each complete packet (an object, so one owner serves as sink without a closure per connection). */
export interface PacketSink {
  onPacket(packet: Buffer): void;
}

export class Framer {
  /** Bytes of a packet that started in an earlier chunk. */
  private pending: Buffer | null = null;
  /** Set by the owner when the connection is closing: stop handing out packets. */
  stopped = false;

  constructor(
    private maxPacketBytes: number,
    private readonly sink: PacketSink,
  ) {}

  setMaxPacketBytes(n: number): void {
    this.maxPacketBytes = n;
  }

  /** Feeds a chunk; returns 0 or the reason code to disconnect with. */
  push(chunk: Buffer): number {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    const len = buf.length;
    while (pos < len && !this.stopped) {
      const first = buf[pos];
      const type = first >> 4;
      const required = REQUIRED_FLAGS[type];
      if (required === -2) return RC.MALFORMED_PACKET;
      if (required >= 0 && (first & 0x0f) !== required) return RC.MALFORMED_PACKET;
      if (type === 3 && (first & 0x06) === 0x06) return RC.MALFORMED_PACKET; // QoS 3 [MQTT-3.3.1-4]
      // Remaining Length: variable byte integer, at most 4 bytes.
      let remaining = 0;
      let mult = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4; n++, i++) {
        if (i >= len) break;
        const b = buf[i];
        remaining += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) return RC.MALFORMED_PACKET;
      }
      if (!complete) {
        if (i - pos - 1 >= 4) return RC.MALFORMED_PACKET;
        this.pending = Buffer.from(buf.subarray(pos));
        return 0;
      }
      const total = i - pos + remaining;
      if (total > this.maxPacketBytes) return RC.PACKET_TOO_LARGE;
      if (pos + total > len) {
        this.pending = Buffer.from(buf.subarray(pos));
        return 0;
      }
      this.sink.onPacket(buf.subarray(pos, pos + total));
      pos += total;
    }
    return 0;
  }

  /** Bytes buffered for an incomplete packet. */
  get buffered(): number {
    return this.pending === null ? 0 : this.pending.length;
  }
}
