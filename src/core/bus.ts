/**
 * The in-process event bus capabilities use to tell each other what changed (a thing's attributes,
 * a group membership, a policy version, a certificate status...), so caches are invalidated at once
 * and events are published. Synchronous: a listener runs before `emit` returns; a throwing listener
 * is reported to `onError` and does not stop the others.
 */

/** Every event, by dotted lowercase name (STYLE.md #11), with its payload. */
export interface BusEvents {
  'thing.created': { thingName: string };
  'thing.updated': { thingName: string };
  'thing.deleted': { thingName: string };
  'thinggroup.membership.changed': { thingName: string; groupName: string };
  'thinggroup.changed': { groupName: string };
  'principal.thing.changed': { principal: string; thingName: string };
  'policy.changed': { policyName: string };
  'policy.attachment.changed': { policyName: string; target: string };
  'certificate.status.changed': { certificateId: string; status: string };
  'authorizer.changed': { authorizerName: string };
}

export type BusEventName = keyof BusEvents;
type Listener<E extends BusEventName> = (payload: BusEvents[E]) => void;

export class EventBus {
  private readonly listeners = new Map<BusEventName, Listener<BusEventName>[]>();

  constructor(private readonly onError: (err: unknown, event: BusEventName) => void = () => {}) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends BusEventName>(event: E, listener: Listener<E>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as Listener<BusEventName>);
    this.listeners.set(event, list);
    return () => {
      const l = this.listeners.get(event);
      if (l !== undefined) l.splice(l.indexOf(listener as Listener<BusEventName>) >>> 0, 1);
    };
  }

  emit<E extends BusEventName>(event: E, payload: BusEvents[E]): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    for (const l of [...list]) {
      try {
        l(payload);
      } catch (err) {
        this.onError(err, event);
      }
    }
  }
}
