/** Host names and IP addresses in server certificates (subject alternative names). */
import { isIP } from 'node:net';
import type { SubjectAlternativeNameExtension } from '@peculiar/x509';

/** Names the server certificate always covers, so local clients work with no configuration. */
const ALWAYS = ['localhost', '127.0.0.1', '::1'];

/**
 * One spelling per name, so comparisons are exact: lower case, no trailing dot, no IPv6
 * brackets, IPv6 compressed (`0:0:0:0:0:0:0:1` and `::1` are the same address).
 */
export function canonicalName(name: string): string {
  const n = name.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (isIP(n) === 6) return new URL(`http://[${n}]/`).hostname.slice(1, -1);
  return n.replace(/\.$/, '');
}

/** The names a server certificate must cover: the fixed local ones plus `extra`, canonical and without duplicates. */
export function serverNames(extra: readonly string[]): string[] {
  return [...new Set([...ALWAYS, ...extra].map(canonicalName).filter((n) => n.length > 0))];
}

/** SAN entries for `names`: IP addresses as iPAddress, everything else as dNSName. */
export function toGeneralNames(names: readonly string[]): { type: 'ip' | 'dns'; value: string }[] {
  return names.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value }));
}

/** True when the SAN extension lists every one of `names` (already canonical). */
export function coversNames(san: SubjectAlternativeNameExtension | null, names: readonly string[]): boolean {
  if (!san) return false;
  const present = new Set(
    san.names.items.filter((g) => g.type === 'dns' || g.type === 'ip').map((g) => canonicalName(g.value)),
  );
  return names.every((n) => present.has(n));
}
