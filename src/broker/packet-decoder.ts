/**
 * Decodes whole control packets (other than PUBLISH, which connection.ts decodes by hand) with
 * mqtt-packet. One decoder serves every connection of a broker: the framer hands over exactly one
 * complete packet at a time and parsing is synchronous, so no per-connection parser state is needed
 * — which saves a parser (and its buffer list and listeners) per idle connection.
 */
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export type DecodedPacket = Packet & { cmd: string };

export class PacketDecoder {
  private parser = this.createParser();
  private parsed: DecodedPacket | null = null;
  private failed = false;
  /** The parser's settings object; CONNECT replaces it, so it is restored before every parse. */
  private readonly settings: Record<number, { protocolVersion: number }> = { 3: { protocolVersion: 3 }, 4: { protocolVersion: 4 }, 5: { protocolVersion: 5 } };

  private createParser(): ReturnType<typeof mqttPacket.parser> {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      this.parsed = p as DecodedPacket;
    });
    parser.on('error', () => {
      this.failed = true;
    });
    return parser;
  }

  /** The packet in `raw` (exactly one whole packet), or null when it is malformed. */
  decode(raw: Buffer, protocolVersion: number): DecodedPacket | null {
    const p = this.parser as unknown as { settings: object; _list: { length: number } };
    p.settings = this.settings[protocolVersion] ?? this.settings[4];
    this.parsed = null;
    this.failed = false;
    this.parser.parse(raw);
    const packet = this.parsed as DecodedPacket | null;
    if (this.failed || packet === null || p._list.length !== 0) {
      // mqtt-packet does not fully recover from an error (its read position survives a reset), so a
      // malformed packet costs a fresh parser: nothing of it can leak into the next connection's parse.
      this.parser = this.createParser();
      return null;
    }
    this.parsed = null;
    return packet;
  }
}
