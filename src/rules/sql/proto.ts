/**
 * `decode(value, 'proto', bucket, fileDescriptorSetKey, protoFileName, messageType)`: protobuf
 * payloads decoded with a FileDescriptorSet (`protoc --descriptor_set_out --include_imports`)
 * stored in Thingport's object store — the directory the s3 action writes, `<dataDir>/s3/<bucket>/<key>`.
 * A descriptor is read when a rule is compiled and kept per (bucket, key); a file that changed
 * since (size or mtime) is read again by the next rule that names it.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import protojson from 'protobufjs/ext/protojson.js';

interface FileInfo {
  name: string;
  package: string;
  messages: Set<string>;
}

interface Loaded {
  size: number;
  mtimeMs: number;
  root: protobuf.Root;
  files: FileInfo[];
}

/** One message type ready to decode bytes into AWS's JSON form. */
export type ProtoDecoder = (bytes: Uint8Array) => unknown;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class ProtoDescriptors {
  private readonly cache = new Map<string, Loaded>();
  private readonly root: string;

  /** @param objectsDir `<dataDir>/s3` */
  constructor(objectsDir: string) {
    this.root = resolve(objectsDir);
  }

  private load(bucket: string, key: string): Loaded {
    if (!BUCKET.test(bucket)) throw new Error(`decode(): bucket name '${bucket}' is not valid`);
    const file = resolve(join(this.root, bucket, key));
    if (key === '' || !file.startsWith(join(this.root, bucket) + sep)) throw new Error(`decode(): object key '${key}' is not valid`);
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new Error(`decode(): the FileDescriptorSet s3://${bucket}/${key} does not exist in Thingport's object store`);
    }
    const id = `${bucket}/${key}`;
    const hit = this.cache.get(id);
    if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit;
    const bytes = readFileSync(file);
    let loaded: Loaded;
    try {
      const set = descriptor.FileDescriptorSet.decode(bytes) as unknown as { file: { name?: string; package?: string; messageType?: { name?: string }[] }[] };
      const files = set.file.map((f) => ({ name: f.name ?? '', package: f.package ?? '', messages: new Set((f.messageType ?? []).map((m) => m.name ?? '')) }));
      loaded = { size: st.size, mtimeMs: st.mtimeMs, root: protobuf.Root.fromDescriptor(bytes).resolveAll() as protobuf.Root, files };
    } catch (err) {
      throw new Error(`decode(): s3://${bucket}/${key} is not a FileDescriptorSet: ${(err as Error).message}`);
    }
    this.cache.set(id, loaded);
    return loaded;
  }

  /**
   * The decoder of `messageType` declared in the descriptor set's file `protoFileName` (`name` or
   * `name.proto`); throws an Error naming what is missing.
   */
  decoder(bucket: string, key: string, protoFileName: string, messageType: string): ProtoDecoder {
    const d = this.load(bucket, key);
    const wanted = protoFileName.endsWith('.proto') ? protoFileName : `${protoFileName}.proto`;
    const file = d.files.find((f) => f.name === wanted || f.name.endsWith(`/${wanted}`));
    if (file === undefined) throw new Error(`decode(): s3://${bucket}/${key} has no file ${wanted} (it has ${d.files.map((f) => f.name).join(', ') || 'none'})`);
    // A nested message (`Outer.Inner`) is looked up from its top-level name.
    if (!file.messages.has(messageType.split('.')[0]!)) throw new Error(`decode(): ${wanted} declares no message ${messageType}`);
    const type = d.root.lookupType(file.package === '' ? messageType : `${file.package}.${messageType}`);
    return (bytes) => {
      let message;
      try {
        message = type.decode(bytes);
      } catch (err) {
        throw new Error(`decode(): the value is not a valid ${type.fullName.slice(1)} message: ${(err as Error).message}`);
      }
      // Protobuf's JSON mapping: lowerCamelCase names, enums by name, 64-bit integers as
      // strings, bytes as base64, fields at their default value left out.
      return protojson.toJson(type, message) as unknown;
    };
  }
}
