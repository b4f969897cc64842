/**
 * The shadow storage port. Documents are kept as JSON text written by json.ts (key order and
 * number spelling preserved), so a store never needs to understand them. A deleted shadow keeps
 * its row with `deleted` set and its last version, so a re-created shadow continues the numbering.
 */

/** One shadow's stored row (`shadowName` '' = the classic shadow). */
export interface ShadowRecord {
  thingName: string;
  shadowName: string;
  version: number;
  /** True after DeleteThingShadow: the document is gone, the version stays. */
  deleted: boolean;
  /** JSON texts of the sections and their metadata; null when absent. */
  desired: string | null;
  reported: string | null;
  metadataDesired: string | null;
  metadataReported: string | null;
  /** ms since the epoch. */
  updatedAt: number;
}

/** One accepted change, for shadow history (beyond AWS). */
export interface ShadowHistoryEntry {
  thingName: string;
  shadowName: string;
  /** The version after the change (a delete records the version the shadow had). */
  version: number;
  operation: 'update' | 'delete';
  /** ms since the epoch. */
  at: number;
  /** Who: certificate id, access key name, … ; null for anonymous clients. */
  principal: string | null;
  /** MQTT client id, or null for HTTP and platform requests. */
  clientId: string | null;
  clientToken: string | null;
  /** JSON text of the request's `state` node as sent (null for deletes). */
  request: string | null;
  /** JSON text of `{"desired":…,"reported":…}` after the change (null for deletes). */
  state: string | null;
}

export interface HistoryQuery {
  thingName: string;
  shadowName: string;
  /** Inclusive bounds on `at` (ms); null = unbounded. */
  from: number | null;
  to: number | null;
  /** Entries with version > afterVersion (paging); null = from the oldest. */
  afterVersion: number | null;
  limit: number;
}

export interface ShadowStore {
  get(thingName: string, shadowName: string): ShadowRecord | null;
  /**
   * Writes a shadow's new row and, when given, its history entry, in one transaction that is
   * committed when this returns (the accepted response is published after it).
   */
  commit(record: ShadowRecord, history: ShadowHistoryEntry | null): void;
  /** Names of a thing's named shadows that exist (not deleted), in name order, after `after`. */
  listNamedShadows(thingName: string, after: string | null, limit: number): string[];
  /** History entries in version order (oldest first). */
  history(q: HistoryQuery): ShadowHistoryEntry[];
  /** The newest entry at or before `at` (ms): what the shadow was at that moment. */
  historyAt(thingName: string, shadowName: string, at: number): ShadowHistoryEntry | null;
  /** Drops entries older than `before` (ms) and beyond the newest `keepPerShadow` of one shadow; returns how many. */
  pruneHistory(before: number, keepPerShadow: number, only?: { thingName: string; shadowName: string }): number;
}
