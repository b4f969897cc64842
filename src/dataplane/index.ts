/**
 * dataplane: the IoT data plane operations that are not shadows — Publish, GetRetainedMessage,
 * ListRetainedMessages, GetConnection, DeleteConnection, ListSubscriptions, SendDirectMessage —
 * over the broker's in-process API. (Shadow operations live in shadow/.)
 */
import type { Messaging } from '../core/index.js';
import type { AwsHandlers, IotDataOperations } from '../http/index.js';
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
}

/**
 * The seven non-shadow handlers of the IoT data plane, for createAwsRestRouter with
 * `iotDataModel` (merge with the shadow capability's `dataHandlers`). Every access key is an
 * administrator here, as for the rest of Thingport's SigV4 API.
 */
export function createDataPlaneHandlers(deps: DataPlaneDeps): AwsHandlers<IotDataOperations> {
  return {
    ...createPublishHandlers({ messaging: deps.messaging, ...(deps.defaultDirectTimeoutSeconds !== undefined ? { defaultTimeoutSeconds: deps.defaultDirectTimeoutSeconds } : {}) }),
    ...createConnectionHandlers(deps.messaging),
    ...createRetainedHandlers(deps.messaging),
  };
}
