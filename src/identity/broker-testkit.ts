/**
 * Test kit: a real Broker with identity's hooks, over an in-memory database, as main.ts composes
 * them (minus the listeners, which each test opens as it needs). Used by the mTLS, SigV4 and
 * custom-authorizer tests beside this file.
 */
import { Broker } from '../broker/index.js';
import { EventBus, mqttConfigSchema, openDatabase, type AuthorizersConfig, type BrokerHooks } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { createRegistry } from '../registry/index.js';
import { createIdentity, type Identity } from './index.js';

export const TEST_REGION = 'us-east-1';
export const TEST_ACCOUNT = '123456789012';

export interface IdentityBroker {
  broker: Broker;
  identity: Identity;
  registry: ReturnType<typeof createRegistry>;
}

/** Certificates or authorizers are mandatory: tests run on loopback, where anonymity is otherwise allowed. */
export async function createIdentityBroker(dataDir: string, opts: { region?: string; accountId?: string; authorizers?: AuthorizersConfig } = {}): Promise<IdentityBroker> {
  const region = opts.region ?? TEST_REGION;
  const accountId = opts.accountId ?? TEST_ACCOUNT;
  const db = openDatabase(':memory:');
  const bus = new EventBus();
  const logger = createLogger('silent');
  const hooks: BrokerHooks = {};
  const broker = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks });
  const registry = createRegistry({ db, bus, region, accountId, messaging: broker, logger });
  const identity = await createIdentity({
    db,
    bus,
    dataDir,
    region,
    accountId,
    registry: registry.service,
    messaging: broker,
    logger,
    allowAnonymous: false,
    anonymousLoopback: false,
    endpoints: () => ({ mqtts: null, https: null, mqtt: null }),
    ...(opts.authorizers !== undefined ? { authorizers: opts.authorizers } : {}),
  });
  Object.assign(hooks, identity.hooks); // the broker reads its hooks at call time
  return { broker, identity, registry };
}
