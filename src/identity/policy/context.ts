/**
 * The request context a policy is evaluated in: who is asking (AuthzSubject), the registry's view
 * of their thing, their certificate's attributes, and the clock. Provides condition-key values and
 * policy-variable values by normalised key name (see normalizeKey).
 *
 * Variables (AWS IoT developer guide):
 *  - basic-policy-variables.html: `iot:ClientId`, `aws:SourceIp`, `iot:DomainName`;
 *  - thing-policy-variables.html: `iot:Connection.Thing.ThingName`, `.ThingTypeName`,
 *    `.Attributes[name]`, `.IsAttached` (true/false);
 *  - cert-policy-variables.html: `iot:Certificate.Subject.*`, `.Issuer.*`,
 *    `.Subject.AlternativeName.*`, `.Issuer.AlternativeName.*`, `.SerialNumber`, `.AvailableKeys`;
 *    multi-valued attributes give their first value, `.N` the value at index N ("`.1` is replaced
 *    by the second"), `.List` all values (conditions only); an attribute holding a wildcard
 *    character (`*`, `$`, `+`, `?`, `#`) or over 1024 characters is not substituted; at most five
 *    values per attribute; `,` `"` `\` `=` `<` `>` `;` are backslash-escaped.
 */
import type { ConditionContext } from './conditions.js';
import { normalizeIp } from './conditions.js';
import type { PolicyDocument } from './document.js';

/** Who asks for an authorization decision. One object per connection; decisions are memoised on it. */
export interface AuthzSubject {
  clientId: string;
  /** Certificate id, a custom authorizer's principalId, a Cognito identity id, or null for anonymous. */
  principal: string | null;
  /** The thing bound to the principal for this connection, or null. */
  thingName: string | null;
  /** The client's IP address ('' when unknown). */
  sourceIp: string;
  /** `iot:DomainName`: the domain name the client connected to, when known. */
  domainName?: string | null;
  /** Policies a custom authorizer returned for this connection (parsePolicyDocument). */
  extraPolicies?: readonly PolicyDocument[];
}

/** The AWS names of X.509 distinguished-name attributes usable as `iot:Certificate.Subject.*` / `.Issuer.*`. */
export const CERTIFICATE_NAME_ATTRIBUTES = [
  'DistinguishedNameQualifier', 'Country', 'Organization', 'OrganizationalUnit', 'State', 'CommonName', 'SerialNumber',
  'Title', 'Surname', 'GivenName', 'Initials', 'Pseudonym', 'GenerationQualifier',
] as const;
export type CertificateNameAttribute = (typeof CERTIFICATE_NAME_ATTRIBUTES)[number];

/** X.520 attribute OIDs -> their AWS variable names, for building CertificateFacts from a parsed certificate. */
export const DN_ATTRIBUTE_OIDS: Readonly<Record<string, CertificateNameAttribute>> = {
  '2.5.4.46': 'DistinguishedNameQualifier', '2.5.4.6': 'Country', '2.5.4.10': 'Organization', '2.5.4.11': 'OrganizationalUnit',
  '2.5.4.8': 'State', '2.5.4.3': 'CommonName', '2.5.4.5': 'SerialNumber', '2.5.4.12': 'Title', '2.5.4.4': 'Surname',
  '2.5.4.42': 'GivenName', '2.5.4.43': 'Initials', '2.5.4.65': 'Pseudonym', '2.5.4.44': 'GenerationQualifier',
};

/** `iot:Certificate.*.AlternativeName.*`: the general names AWS exposes. */
export interface AlternativeNames {
  rfc822Name?: string[];
  dnsName?: string[];
  directoryName?: string[];
  uniformResourceIdentifier?: string[];
  ipAddress?: string[];
}
const ALT_NAMES: Record<keyof AlternativeNames, string> = {
  rfc822Name: 'RFC822Name', dnsName: 'DNSName', directoryName: 'DirectoryName', uniformResourceIdentifier: 'UniformResourceIdentifier', ipAddress: 'IPAddress',
};

/** What the certificate capability tells policies about a certificate. */
export interface CertificateFacts {
  certificateId: string;
  /** Subject attributes by AWS name (CERTIFICATE_NAME_ATTRIBUTES), in certificate order. */
  subject: Partial<Record<CertificateNameAttribute, string | string[]>> & Record<string, string | string[]>;
  issuer: Partial<Record<CertificateNameAttribute, string | string[]>> & Record<string, string | string[]>;
  subjectAlternativeName: AlternativeNames;
  issuerAlternativeName?: AlternativeNames;
  /** `iot:Certificate.SerialNumber`. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** What the registry tells policies about a thing. */
export interface ThingFacts {
  thingName: string;
  thingTypeName?: string | null;
  attributes?: Record<string, string>;
}

const CERT_MAX_VALUES = 5;
const CERT_MAX_CHARS = 1024;

/** A certificate attribute value as AWS substitutes it, or null when AWS would not substitute it. */
function certValue(v: string): string | null {
  if (/[*$+?#]/.test(v) || v.length > CERT_MAX_CHARS) return null;
  return v.replace(/[,"\\=<>;]/g, '\\$&');
}

/** Normalised key -> { AWS-cased name, values (null = not substitutable) }. */
function certificateValues(f: CertificateFacts): Map<string, { name: string; values: (string | null)[] }> {
  const out = new Map<string, { name: string; values: (string | null)[] }>();
  const put = (name: string, raw: string | string[] | undefined): void => {
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (list.length > 0) out.set(name.toLowerCase(), { name, values: list.slice(0, CERT_MAX_VALUES).map(certValue) });
  };
  for (const [part, names, alt] of [['Subject', f.subject, f.subjectAlternativeName], ['Issuer', f.issuer, f.issuerAlternativeName]] as const) {
    for (const [attr, v] of Object.entries(names)) put(`iot:Certificate.${part}.${attr}`, v);
    for (const [field, awsName] of Object.entries(ALT_NAMES)) put(`iot:Certificate.${part}.AlternativeName.${awsName}`, alt?.[field as keyof AlternativeNames]);
  }
  put('iot:Certificate.SerialNumber', f.serialNumber);
  return out;
}

export interface ContextSources {
  thing: () => ThingFacts | null;
  certificate: () => CertificateFacts | null;
  now: () => number;
}

const THING_PREFIX = 'iot:connection.thing.';
const ATTRIBUTES_PREFIX = 'iot:connection.thing.attributes[';

/** The evaluation context of `subject`. Sources are read lazily, at most once each. */
export function createEvalContext(subject: AuthzSubject, sources: ContextSources): ConditionContext {
  let thing: ThingFacts | null | undefined;
  let cert: Map<string, { name: string; values: (string | null)[] }> | null | undefined;
  const getThing = (): ThingFacts | null => (thing === undefined ? (thing = sources.thing()) : thing);
  const getCert = (): Map<string, { name: string; values: (string | null)[] }> | null => {
    if (cert === undefined) {
      const f = sources.certificate();
      cert = f === null ? null : certificateValues(f);
    }
    return cert;
  };
  const one = (v: string | null | undefined): readonly string[] | undefined => (v === undefined || v === null || v === '' ? undefined : [v]);

  const values = (key: string): readonly string[] | undefined => {
    switch (key) {
      case 'iot:clientid': return one(subject.clientId);
      case 'aws:sourceip': return one(subject.sourceIp === '' ? '' : normalizeIp(subject.sourceIp));
      case 'iot:domainname': return one(subject.domainName);
      case 'aws:currenttime': return [new Date(sources.now()).toISOString()];
      case 'aws:epochtime': return [String(Math.floor(sources.now() / 1000))];
      case 'iot:connection.thing.isattached': return [String(getThing() !== null)];
      case 'iot:connection.thing.thingname': return one(getThing()?.thingName);
      case 'iot:connection.thing.thingtypename': return one(getThing()?.thingTypeName);
    }
    if (key.startsWith(ATTRIBUTES_PREFIX) && key.endsWith(']')) return one(getThing()?.attributes?.[key.slice(ATTRIBUTES_PREFIX.length, -1)]);
    if (key.startsWith(THING_PREFIX) || !key.startsWith('iot:certificate.')) return undefined;
    const c = getCert();
    if (c === null) return undefined;
    if (key === 'iot:certificate.availablekeys') return [...c.values()].filter((e) => e.values.some((v) => v !== null)).map((e) => e.name);
    const exact = c.get(key);
    if (exact !== undefined) return one(exact.values[0]);
    if (key.endsWith('.list')) {
      const all = c.get(key.slice(0, -5))?.values.filter((v): v is string => v !== null);
      return all === undefined || all.length === 0 ? undefined : all;
    }
    const indexed = /^(.*)\.(\d+)$/.exec(key);
    if (indexed !== null) return one(c.get(indexed[1]!)?.values[Number(indexed[2])]);
    return undefined;
  };

  return {
    values,
    // A variable substitutes one value: `.List` keys and the clock are for conditions only.
    variable: (key) => (key.endsWith('.list') || key === 'aws:currenttime' || key === 'aws:epochtime' ? undefined : values(key)?.[0]),
  };
}
