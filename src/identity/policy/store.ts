/**
 * The storage port of IoT policies: named policies with numbered versions (one default) and
 * attachments of policies to targets (certificate ARNs, thing group ARNs, Cognito identity ids).
 * Synchronous, like better-sqlite3: the engine keeps decisions in memory and only writes go here.
 * Every implementation runs `policyStoreConformance` (store-conformance.ts).
 */

export interface PolicyTag {
  Key: string;
  Value?: string;
}

export interface StoredPolicy {
  name: string;
  defaultVersionId: number;
  /** Changes whenever the default version changes (GetPolicy `generationId`). */
  generationId: string;
  tags: PolicyTag[];
  /** Epoch milliseconds. */
  createdAt: number;
  updatedAt: number;
}

export interface StoredVersion {
  policyName: string;
  versionId: number;
  document: string;
  createdAt: number;
}

export interface PolicyAttachment {
  policyName: string;
  target: string;
}

export interface PolicyStore {
  getPolicy(name: string): StoredPolicy | null;
  /** Every policy, in creation order. */
  listPolicies(): StoredPolicy[];
  /** Creates `name` with version 1 (= `document`) as its default. The caller has checked that it does not exist. */
  insertPolicy(p: { name: string; document: string; generationId: string; tags: PolicyTag[]; now: number }): void;
  /** Deletes the policy, its versions and attachments; false when there was none. */
  deletePolicy(name: string): boolean;
  /** Versions in ascending id order. */
  listVersions(name: string): StoredVersion[];
  getVersion(name: string, versionId: number): StoredVersion | null;
  /** Adds a version; ids increase and are never reused, even after deletions. Returns the new id. */
  insertVersion(name: string, document: string, now: number): number;
  deleteVersion(name: string, versionId: number): boolean;
  setDefaultVersion(name: string, versionId: number, generationId: string, now: number): void;
  /** Attaches; false when it already was. */
  attach(name: string, target: string, now: number): boolean;
  /** Detaches; false when it was not attached. */
  detach(name: string, target: string): boolean;
  /** Targets of a policy, in attachment order. */
  targetsOf(name: string): string[];
  /** Policies attached to a target, in attachment order. */
  policiesOf(target: string): string[];
  /** Every attachment (to build the in-memory index at start-up). */
  attachments(): PolicyAttachment[];
}
