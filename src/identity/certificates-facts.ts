/**
 * What policies may read from a client certificate (`${iot:Certificate.*}` policy variables): the
 * subject and issuer attributes, the subject alternative names, the serial number and validity.
 *
 * Attribute names are AWS's (cert-policy-variables.html): iot:Certificate.Subject.CommonName,
 * .Organization, .OrganizationalUnit, .Country, .State, .DistinguishedNameQualifier, .SerialNumber,
 * .Title, .Surname, .GivenName, .Initials, .Pseudonym, .GenerationQualifier; the same under Issuer;
 * alternative names RFC822Name, DNSName, DirectoryName, UniformResourceIdentifier, IPAddress.
 * Every attribute may have several values (policies read the first, `.N`, or `.List`), so each
 * maps to a list.
 */
import * as x509 from '@peculiar/x509';

/**
 * The certificate facts handed to the policy engine; structurally the policy engine's
 * `CertificateFacts` (policy/context.ts).
 */
export interface CertificateFactsOf {
  certificateId: string;
  subject: Record<string, string[]>;
  issuer: Record<string, string[]>;
  subjectAlternativeName: AlternativeNamesOf;
  issuerAlternativeName?: AlternativeNamesOf;
  /** Hexadecimal, lowercase, without separators. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface AlternativeNamesOf {
  rfc822Name?: string[];
  dnsName?: string[];
  directoryName?: string[];
  uniformResourceIdentifier?: string[];
  ipAddress?: string[];
}

/** Distinguished-name attribute OIDs by the names AWS policy variables use. */
const DN_ATTRIBUTES: ReadonlyArray<readonly [string, string]> = [
  ['DistinguishedNameQualifier', '2.5.4.46'],
  ['Country', '2.5.4.6'],
  ['Organization', '2.5.4.10'],
  ['OrganizationalUnit', '2.5.4.11'],
  ['State', '2.5.4.8'],
  ['CommonName', '2.5.4.3'],
  ['SerialNumber', '2.5.4.5'],
  ['Title', '2.5.4.12'],
  ['Surname', '2.5.4.4'],
  ['GivenName', '2.5.4.42'],
  ['Initials', '2.5.4.43'],
  ['Pseudonym', '2.5.4.65'],
  ['GenerationQualifier', '2.5.4.44'],
];

/** @peculiar/x509 general-name types -> fields of AlternativeNamesOf. */
const ALT_NAME_TYPES: Readonly<Record<string, keyof AlternativeNamesOf>> = {
  email: 'rfc822Name',
  dns: 'dnsName',
  dn: 'directoryName',
  url: 'uniformResourceIdentifier',
  ip: 'ipAddress',
};

function nameFacts(name: x509.Name): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [attr, oid] of DN_ATTRIBUTES) {
    const values = name.getField(oid);
    if (values.length > 0) out[attr] = values;
  }
  return out;
}

function altNames(ext: x509.SubjectAlternativeNameExtension | x509.IssuerAlternativeNameExtension | null): AlternativeNamesOf {
  const out: AlternativeNamesOf = {};
  for (const item of ext?.names.items ?? []) {
    const key = ALT_NAME_TYPES[item.type];
    if (key !== undefined) (out[key] ??= []).push(item.value);
  }
  return out;
}

/** The facts of a parsed certificate whose id is `certificateId`. */
export function certificateFacts(certificate: x509.X509Certificate, certificateId: string): CertificateFactsOf {
  return {
    certificateId,
    subject: nameFacts(certificate.subjectName),
    issuer: nameFacts(certificate.issuerName),
    subjectAlternativeName: altNames(certificate.getExtension(x509.SubjectAlternativeNameExtension)),
    issuerAlternativeName: altNames(certificate.getExtension(x509.IssuerAlternativeNameExtension)),
    serialNumber: certificate.serialNumber.toLowerCase(),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}
