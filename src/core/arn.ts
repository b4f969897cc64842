/**
 * Amazon Resource Names, as AWS IoT forms them: `arn:aws:iot:{region}:{account}:{resource}`,
 * e.g. `arn:aws:iot:eu-central-1:123456789012:thing/lamp-1`. Thingport has one configurable
 * region and one 12-digit account id per installation.
 */

export interface Arn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  /** Everything after the account id, e.g. `thing/lamp-1` or `cert/0a1b...`. */
  resource: string;
}

/** The ARN of `resource` (`thing/NAME`, `thinggroup/NAME`, `policy/NAME`, `cert/ID`, ...). */
export function arn(region: string, accountId: string, resource: string, service = 'iot', partition = 'aws'): string {
  return `arn:${partition}:${service}:${region}:${accountId}:${resource}`;
}

/** The parts of an ARN, or null when `text` is not one (`arn:partition:service:region:account:resource`). */
export function parseArn(text: string): Arn | null {
  const parts = text.split(':');
  if (parts.length < 6 || parts[0] !== 'arn' || parts[1] === '' || parts[2] === '') return null;
  const [, partition, service, region, accountId] = parts as [string, string, string, string, string];
  return { partition, service, region, accountId, resource: parts.slice(5).join(':') };
}
