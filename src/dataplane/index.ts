/**
 * dataplane: the IoT data plane operations that are not shadows — Publish, GetRetainedMessage,
 * ListRetainedMessages, GetConnection, DeleteConnection, ListSubscriptions, SendDirectMessage —
 * over the broker's in-process API. (Shadow operations live in shadow/.)
 */
import type { Messaging } from '../core/index.js';
import type { AwsHandlers, IotDataOperations } from '../http/index.js';
import { resourceNames } from './authorize.js';
import { createConnectionHandlers, connectionOf } from './connections.js';
import { createPublishHandlers } from './publish.js';
import { createRetainedHandlers } from './retained.js';

export { connectionOf };
export { checkTopicName, parseUserProperties, propertiesOf } from './publish.js';
export { userPropertiesJson } from './retained.js';

export interface DataPlaneDeps {
  messaging: Pick<Messaging, 'publish' | 'deliverDirect' | 'describeClient' | 'disconnectClient' | 'getRetained' | 'listRetained'>;
  /** SendDirectMessage confirmation timeout when the request names none, seconds (AWS: 5). */
  defaultDirectTimeoutSeconds?: number;
  /** For the resource ARNs of policy checks (certificate-authenticated callers). */
  region: string;
  accountId: string;
}

/**
 * The seven non-shadow handlers of the IoT data plane, for createAwsRestRouter with
 * `iotDataModel` (merge with the shadow capability's `dataHandlers`). Every access key is an
 * administrator here, as for the rest of Thingport's SigV4 API; callers authenticated by a client
 * certificate are decided by its IoT policies (`ctx.authorize`, actions in authorize.ts).
 */
export function createDataPlaneHandlers(deps: DataPlaneDeps): AwsHandlers<IotDataOperations> {
  const resources = resourceNames(deps.region, deps.accountId);
  return {
    ...createPublishHandlers({ messaging: deps.messaging, resources, ...(deps.defaultDirectTimeoutSeconds !== undefined ? { defaultTimeoutSeconds: deps.defaultDirectTimeoutSeconds } : {}) }),
    ...createConnectionHandlers(deps.messaging, resources),
    ...createRetainedHandlers(deps.messaging, resources),
  };
}
