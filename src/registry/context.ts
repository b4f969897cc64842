/**
 * What every part of the registry service shares: the store, the bus, the event publisher,
 * limits, the clock, and the ARNs of this installation. Built once by createRegistry.
 */
import { arn, type EventBus } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import type { RegistryLimits } from './config.js';
import type { RegistryEvents } from './events.js';
import type { RegistryStore } from './store.js';

/** Called before a thing is deleted; a string refuses the deletion with that reason. */
export type ThingDeleteGuard = (thingName: string) => string | null;

export interface RegistryArns {
  thing(name: string): string;
  thingType(name: string): string;
  thingGroup(name: string): string;
  billingGroup(name: string): string;
}

export interface RegistryContext {
  store: RegistryStore;
  bus: EventBus;
  events: RegistryEvents;
  limits: Readonly<RegistryLimits>;
  region: string;
  accountId: string;
  now: () => number;
  logger: Logger;
  arns: RegistryArns;
  deleteGuards: ThingDeleteGuard[];
}

/** ARNs as AWS IoT forms them: `thing/NAME`, `thingtype/NAME`, `thinggroup/NAME`, `billinggroup/NAME`. */
export function registryArns(region: string, accountId: string): RegistryArns {
  return {
    thing: (name) => arn(region, accountId, `thing/${name}`),
    thingType: (name) => arn(region, accountId, `thingtype/${name}`),
    thingGroup: (name) => arn(region, accountId, `thinggroup/${name}`),
    billingGroup: (name) => arn(region, accountId, `billinggroup/${name}`),
  };
}
