/**
 * The `s3` action (AWS's S3Action): the rule output — the payload bytes for binary output, else
 * JSON — becomes the object `key` (templates) in `bucketName` (templates), with `cannedAcl` as
 * the object's ACL. Where a bucket goes (data directory or an S3-compatible endpoint) is
 * configuration (s3-targets.ts). `roleArn` is accepted and ignored: there is no IAM to assume.
 */
import type { CompiledAction } from './actions.js';
import { outputBytes } from './output.js';
import { rulesErrors } from './errors.js';
import type { RuleAction } from './model.js';
import { BUCKET, CANNED_ACLS, type S3Targets } from './s3-targets.js';
import { actionTemplate as template, type TemplateOptions } from './action-template.js';

export function compileS3Action(c: NonNullable<RuleAction['s3']>, targets: S3Targets, lookups: TemplateOptions, where: string): CompiledAction {
  if (typeof c.bucketName !== 'string' || c.bucketName === '') throw rulesErrors.invalid(`${where}.s3.bucketName is required`);
  if (typeof c.key !== 'string' || c.key === '') throw rulesErrors.invalid(`${where}.s3.key is required`);
  if (c.cannedAcl !== undefined && !CANNED_ACLS.has(c.cannedAcl)) throw rulesErrors.invalid(`${where}.s3.cannedAcl must be one of ${[...CANNED_ACLS].join(', ')}`);
  if (!c.bucketName.includes('${')) {
    // A fixed bucket is checked now; a templated one when a message names it.
    if (!BUCKET.test(c.bucketName)) throw rulesErrors.invalid(`${where}.s3.bucketName ${c.bucketName} is not a valid bucket name`);
    if (targets.target(c.bucketName).kind === 'none')
      throw rulesErrors.invalid(`${where}: the s3 action needs an object store: configure rules.s3 (an S3-compatible endpoint) for bucket ${c.bucketName}, or a data directory`);
  } else if (!targets.available()) {
    throw rulesErrors.invalid(`${where}: the s3 action needs an object store: configure rules.s3 (an S3-compatible endpoint) or a data directory`);
  }
  const bucket = template(c.bucketName, `${where}.s3.bucketName`, lookups);
  const key = template(c.key, `${where}.s3.key`, lookups);
  const acl = c.cannedAcl;
  return {
    kind: 's3',
    failedAction: 'S3Action',
    failedResource: c.bucketName,
    run: async ({ output, doc, ctx }) => {
      const body = outputBytes(output);
      await targets.put({ bucket: bucket(doc, ctx), key: key(doc, ctx), body, ...(acl !== undefined ? { cannedAcl: acl } : {}) });
    },
  };
}
