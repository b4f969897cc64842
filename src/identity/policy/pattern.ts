/**
 * The strings of a policy document: IAM-style wildcard patterns (`*` any run of characters, `?`
 * exactly one; MQTT's `+` and `#` are ordinary characters) and templates with policy variables
 * (`${iot:ClientId}`) and the special-character escapes.
 *
 * AWS IoT: "In a policy document, the * represents any combination of characters and a question
 * mark ? represents any single character ... the MQTT wildcard characters, + and # are treated as
 * those characters with no special meaning" (developerguide/pub-sub-policy.html). The escapes:
 * "predefined policy variables with fixed values ... $(*), $(?), and $($)"
 * (developerguide/iot-policy-variables.html); IAM spells them `${*}`, `${?}`, `${$}`
 * (IAM reference_policies_variables.html). Both spellings are accepted.
 */

/** A compiled wildcard pattern: 0 = matches everything, 1 = exact text, 2 = regular expression. */
export interface Glob {
  readonly kind: 0 | 1 | 2;
  readonly text: string;
  readonly re: RegExp | null;
}

const ANY: Glob = { kind: 0, text: '*', re: null };
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Regular-expression source for `pattern` with `*` and `?` as wildcards. */
function globSource(pattern: string): string {
  let out = '';
  for (const ch of pattern) out += ch === '*' ? '.*' : ch === '?' ? '.' : escapeRegex(ch);
  return out;
}

/** Compiles a wildcard pattern; `ignoreCase` for action names, which IAM compares case-insensitively. */
export function compileGlob(pattern: string, ignoreCase = false): Glob {
  if (pattern === '*') return ANY;
  if (!pattern.includes('*') && !pattern.includes('?')) return { kind: 1, text: ignoreCase ? pattern.toLowerCase() : pattern, re: null };
  return { kind: 2, text: pattern, re: new RegExp(`^${globSource(pattern)}$`, ignoreCase ? 'si' : 's') };
}

/** Does `s` match? (For case-insensitive globs the caller passes `s` lowercased.) */
export function globMatches(g: Glob, s: string): boolean {
  return g.kind === 0 ? true : g.kind === 1 ? g.text === s : g.re!.test(s);
}

/** One piece of a template: wildcard text, literal text (from an escape), or a policy variable. */
export type TemplatePart = { k: 'glob'; s: string } | { k: 'lit'; s: string } | { k: 'var'; name: string; key: string };

export interface Template {
  /** As written in the document. */
  readonly text: string;
  /** Null when the template has no variables: then `glob` is precompiled. */
  readonly parts: readonly TemplatePart[] | null;
  readonly glob: Glob | null;
  /** Variable names as written, e.g. `iot:Connection.Thing.ThingName`. */
  readonly variables: readonly string[];
}

/**
 * The normalised form of a condition key or variable name: IAM key names are case-insensitive
 * (IAM reference_policies_elements_condition.html), but the attribute name inside
 * `iot:Connection.Thing.Attributes[name]` is the thing's own, case-sensitive, attribute name.
 */
export function normalizeKey(name: string): string {
  const open = name.indexOf('[');
  if (open === -1) return name.trim().toLowerCase();
  const close = name.lastIndexOf(']');
  if (close < open) return name.trim().toLowerCase();
  return name.slice(0, open).trim().toLowerCase() + name.slice(open, close + 1) + name.slice(close + 1).trim().toLowerCase();
}

const ESCAPES: Record<string, string> = { '${*}': '*', '${?}': '?', '${$}': '$', '$(*)': '*', '$(?)': '?', '$($)': '$' };

/**
 * Parses `text`. With `variables` false (policy Version 2008-10-17, which predates policy
 * variables in IAM) `${...}` is ordinary text. Returns an error message for an unterminated or
 * empty variable.
 */
export function parseTemplate(text: string, variables: boolean): Template | string {
  if (!variables || (!text.includes('${') && !text.includes('$('))) return { text, parts: null, glob: compileGlob(text), variables: [] };
  const parts: TemplatePart[] = [];
  const names: string[] = [];
  let buf = '';
  let i = 0;
  while (i < text.length) {
    const esc = text.slice(i, i + 4);
    if (ESCAPES[esc] !== undefined) {
      if (buf !== '') parts.push({ k: 'glob', s: buf });
      buf = '';
      parts.push({ k: 'lit', s: ESCAPES[esc]! });
      i += 4;
      continue;
    }
    if (text.startsWith('${', i)) {
      const end = text.indexOf('}', i + 2);
      if (end === -1) return `unterminated policy variable in '${text}'`;
      const name = text.slice(i + 2, end).trim();
      if (name === '') return `empty policy variable in '${text}'`;
      if (buf !== '') parts.push({ k: 'glob', s: buf });
      buf = '';
      parts.push({ k: 'var', name, key: normalizeKey(name) });
      names.push(name);
      i = end + 1;
      continue;
    }
    buf += text[i];
    i++;
  }
  if (buf !== '') parts.push({ k: 'glob', s: buf });
  if (names.length === 0) {
    // Only escapes: fixed at parse time.
    const g = resolveTemplateGlob({ text, parts, glob: null, variables: [] }, () => undefined);
    return { text, parts: null, glob: g!, variables: [] };
  }
  return { text, parts, glob: null, variables: names };
}

/** Looks a variable up; undefined when it cannot be resolved. */
export type VariableLookup = (key: string, name: string) => string | undefined;

/**
 * The template as a wildcard pattern with variables substituted. Substituted values and escapes
 * are literal (a client id containing `*` is not a wildcard). Null when a variable is unresolved;
 * `onMissing` hears its name.
 */
export function resolveTemplateGlob(t: Template, lookup: VariableLookup, onMissing?: (name: string) => void): Glob | null {
  if (t.parts === null) return t.glob;
  let src = '';
  let wild = false;
  let literal = '';
  for (const p of t.parts) {
    let lit: string;
    if (p.k === 'glob') {
      if (p.s.includes('*') || p.s.includes('?')) {
        wild = true;
        src += globSource(p.s);
        literal += p.s;
        continue;
      }
      lit = p.s;
    } else if (p.k === 'lit') lit = p.s;
    else {
      const v = lookup(p.key, p.name);
      if (v === undefined) {
        onMissing?.(p.name);
        return null;
      }
      lit = v;
    }
    src += escapeRegex(lit);
    literal += lit;
  }
  if (!wild) return { kind: 1, text: literal, re: null };
  return { kind: 2, text: literal, re: new RegExp(`^${src}$`, 's') };
}

/** The template as plain text with variables substituted (wildcards stay as characters); null when unresolved. */
export function resolveTemplateText(t: Template, lookup: VariableLookup, onMissing?: (name: string) => void): string | null {
  if (t.parts === null) return t.glob!.kind === 0 ? '*' : t.glob!.text;
  let out = '';
  for (const p of t.parts) {
    if (p.k !== 'var') out += p.s;
    else {
      const v = lookup(p.key, p.name);
      if (v === undefined) {
        onMissing?.(p.name);
        return null;
      }
      out += v;
    }
  }
  return out;
}
