/**
 * Test fixture (used by the registry's *.test.ts only): a service on an in-memory database with
 * a settable clock, a capturing `publish`, and a record of bus events.
 */
import { EventBus, openDatabase, type BusEventName, type PublishInput, type SqliteDatabase } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import type { RegistryLimits } from './config.js';
import { RegistryService } from './service.js';
import { SqliteRegistryStore } from './store-sqlite.js';

export interface PublishedEvent {
  topic: string;
  payload: Record<string, unknown>;
  qos: number | undefined;
}

export interface RegistryFixture {
  service: RegistryService;
  db: SqliteDatabase;
  published: PublishedEvent[];
  busEvents: { event: BusEventName; payload: unknown }[];
  clock: { now: number };
  /** Set `on` to make every publish reject. */
  failPublish: { on: boolean };
  /** A second service on the same database, as after a restart. */
  reopen(): RegistryService;
}

export const REGION = 'eu-central-1';
export const ACCOUNT = '123456789012';

export function registryFixture(limits: Partial<RegistryLimits> = {}): RegistryFixture {
  const db = openDatabase(':memory:');
  const published: PublishedEvent[] = [];
  const busEvents: { event: BusEventName; payload: unknown }[] = [];
  const bus = new EventBus();
  for (const event of ['thing.created', 'thing.updated', 'thing.deleted', 'thinggroup.membership.changed', 'thinggroup.changed'] as const) {
    bus.on(event, (payload) => busEvents.push({ event, payload }));
  }
  const clock = { now: 1_700_000_000_000 };
  const failPublish = { on: false };
  const messaging = {
    publish: async (input: PublishInput) => {
      if (failPublish.on) throw new Error('broker gone');
      published.push({ topic: input.topic, payload: JSON.parse(String(input.payload)) as Record<string, unknown>, qos: input.qos });
    },
  };
  const make = () =>
    new RegistryService({ store: new SqliteRegistryStore(db), bus, region: REGION, accountId: ACCOUNT, messaging, logger: createLogger('silent'), now: () => clock.now, limits });
  return { service: make(), db, published, busEvents, clock, failPublish, reopen: make };
}
