/**
 * The part of `aws-iot-device-sdk` (the AWS IoT Device SDK for JavaScript v1, CommonJS, untyped)
 * the tests use: the `thingShadow` client (thing/index.js) and its device options
 * (device/index.js, common/lib/tls-reader.js). Written from the SDK's source rather than taken
 * from @types/aws-iot-device-sdk, which would bring a second, older mqtt.js.
 */
declare module 'aws-iot-device-sdk' {
  import type { EventEmitter } from 'node:events';

  export interface DeviceOptions {
    host: string;
    port?: number;
    /** `mqtts` (default), `wss`, `wss-custom-auth`. */
    protocol?: 'mqtts' | 'wss' | 'wss-custom-auth';
    clientId: string;
    /** PEM files; read when the client is created. */
    keyPath?: string;
    certPath?: string;
    caPath?: string;
    /** TLS SNI; defaults to `host`. */
    servername?: string;
    keepalive?: number;
    baseReconnectTimeMs?: number;
    maximumReconnectTimeMs?: number;
    minimumConnectionTimeMs?: number;
    /** false: no `?SDK=JavaScript&Version=…` metrics user name. */
    enableMetrics?: boolean;
    debug?: boolean;
  }

  export interface ThingShadowOptions {
    /** ms before an operation without accepted/rejected emits `timeout` (default 10000). */
    operationTimeout?: number;
  }

  export interface RegisterOptions {
    ignoreDeltas?: boolean;
    /** Subscribe to every accepted/rejected topic at register (default true) instead of per operation. */
    persistentSubscribe?: boolean;
    /** Drop accepted/delta messages older than the last version seen (default true). */
    discardStale?: boolean;
    /** Put the last version seen into every update (default true). */
    enableVersioning?: boolean;
    qos?: 0 | 1;
    debug?: boolean;
  }

  export interface ThingShadow extends EventEmitter {
    register(thingName: string, options?: RegisterOptions, callback?: (err?: unknown, failedTopics?: unknown) => void): void;
    unregister(thingName: string): void;
    /** The clientToken of the operation, or null when refused locally (one in flight, unknown thing, a `version` property). */
    update(thingName: string, stateObject: Record<string, unknown>): string | null;
    get(thingName: string, clientToken?: string): string | null;
    delete(thingName: string, clientToken?: string): string | null;
    publish(topic: string, message: string | Buffer, options?: { qos?: 0 | 1 }, callback?: (err?: Error) => void): void;
    end(force?: boolean, callback?: () => void): void;
  }

  export function thingShadow(deviceOptions: DeviceOptions, thingShadowOptions?: ThingShadowOptions): ThingShadow;

  const awsIot: { thingShadow: typeof thingShadow };
  export default awsIot;
}
