/**
 * registry: things, thing types, static thing groups, billing groups, and registry events
 * (`$aws/events/thing/...` and friends) — the AWS IoT thing registry.
 */
import type { EventBus, Messaging, SqliteDatabase } from '../core/index.js';
import type { AwsHandlers, IotOperations } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import type { RegistryLimits } from './config.js';
import { createRegistryHandlers } from './http.js';
import { RegistryService } from './service.js';
import { SqliteRegistryStore } from './store-sqlite.js';

/** The registry's domain logic; every adapter (AWS API, CLI, other capabilities) calls it. */
export { RegistryService } from './service.js';
export type { RegistryServiceDeps } from './service.js';
/** Limits (AWS's quotas by default) and their validation. */
export { DEFAULT_REGISTRY_LIMITS, resolveRegistryLimits } from './config.js';
export type { RegistryLimits } from './config.js';
/** The error every service method throws: a dotted `code` and an HTTP `status`. */
export { RegistryError, REGISTRY_ERROR_STATUS } from './errors.js';
export type { RegistryErrorCode } from './errors.js';
/** Event types of UpdateEventConfigurations, and the domain shapes the service returns. */
export { EVENT_TYPES } from './model.js';
export type { BillingGroup, EventConfigurations, EventType, GroupRef, Page, PageRequest, Thing, ThingGroup, ThingType } from './model.js';
export type { ThingDeleteGuard } from './context.js';
export type { CreateThingInput, UpdateThingInput, ListThingsFilter } from './things.js';
export type { CreateThingTypeInput } from './thing-types.js';
export type { CreateThingGroupInput, UpdateThingGroupInput, ListThingGroupsFilter } from './thing-groups.js';
export type { MembershipTarget } from './group-members.js';
export type { BillingMembershipTarget } from './billing-groups.js';
/** The storage port and its embedded SQLite implementation (tables `registry_*`). */
export type { RegistryStore } from './store.js';
export { SqliteRegistryStore } from './store-sqlite.js';
/** The AWS IoT handlers of a service, for `createAwsRestRouter` (createRegistry builds them too). */
export { createRegistryHandlers } from './http.js';

export interface RegistryDeps {
  /** The shared database; the registry migrates its `registry_*` tables on it. */
  db: SqliteDatabase;
  bus: EventBus;
  region: string;
  /** 12-digit account id, in ARNs and event payloads. */
  accountId: string;
  /** Where registry events are published (only `publish` is used). */
  messaging: Pick<Messaging, 'publish'>;
  logger: Logger;
  /** Clock in ms since the epoch; tests inject one. */
  now?: () => number;
  /** Overrides of AWS's quotas (config.ts). */
  limits?: Partial<RegistryLimits>;
}

/**
 * Builds the registry on the shared SQLite database: the service (for the CLI and other
 * capabilities, e.g. identity reads `getThing` and `listGroupsForThingSync` synchronously) and
 * the AWS IoT handlers to pass to `createAwsRestRouter` with `iotModel`.
 */
export function createRegistry(deps: RegistryDeps): { service: RegistryService; iotHandlers: AwsHandlers<IotOperations> } {
  const store = new SqliteRegistryStore(deps.db);
  const service = new RegistryService({
    store,
    bus: deps.bus,
    region: deps.region,
    accountId: deps.accountId,
    messaging: deps.messaging,
    logger: deps.logger,
    ...(deps.now !== undefined ? { now: deps.now } : {}),
    ...(deps.limits !== undefined ? { limits: deps.limits } : {}),
  });
  return { service, iotHandlers: createRegistryHandlers(service) };
}
