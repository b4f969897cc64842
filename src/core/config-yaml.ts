/**
 * Reads settings from a thingport.yaml document. Walks the YAML syntax tree rather than the
 * plain object so that each problem can name its line, and so that a string setting written
 * without quotes keeps its exact text (YAML reads `accountId: 000000000000` as the number 0).
 */
import { LineCounter, isAlias, isMap, isScalar, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import type { Assignment, SourceReading } from './config-args.js';
import {
  coerceTyped,
  findSetting,
  listFields,
  showValue,
  suggest,
  type SettingField,
  type SettingGroup,
} from './config-fields.js';

/**
 * Parses YAML text into settings. `label` names the file in problem messages
 * (e.g. `thingport.yaml`), followed by `:<line>`.
 */
export function readYaml(text: string, label: string, root: SettingGroup): SourceReading {
  const out: SourceReading = { assignments: [], problems: [], configFile: null };
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (offset: number | undefined): string => `${label}:${lines.linePos(offset ?? 0).line}`;

  if (doc.errors.length > 0) {
    for (const e of doc.errors) out.problems.push(`${lineOf(e.pos[0])}: YAML syntax error: ${e.message.split('\n')[0]}`);
    return out;
  }
  const contents = doc.contents;
  // An empty file (or one holding only comments) sets nothing.
  if (contents === null || (isScalar(contents) && contents.value === null)) return out;
  if (!isMap(contents)) {
    out.problems.push(`${label}: must be a mapping of settings (key: value), not a ${describeNode(contents)}`);
    return out;
  }
  const known = listFields(root).map((f) => f.key);
  walk(contents, root, []);
  return out;

  function walk(map: YAMLMap, group: SettingGroup, prefix: readonly string[]): void {
    for (const pair of map.items) {
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const at = lineOf(keyNode?.range?.[0]);
      const dotted = [...prefix, name].join('.');
      const node = findSetting(group, [name]);
      if (!node) {
        const hint = suggest(dotted, known);
        out.problems.push(`${dotted}: unknown setting (from ${at})${hint ? `; did you mean ${hint}?` : ''}`);
        continue;
      }
      let valueNode = pair.value as Node | null;
      if (isAlias(valueNode)) valueNode = valueNode.resolve(doc as Document) ?? null;
      if (node.type === 'group') {
        if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue;
        if (isMap(valueNode)) walk(valueNode, node, [...prefix, name]);
        else out.problems.push(`${node.key}: must be a mapping of settings, not a ${describeNode(valueNode)} (from ${at})`);
        continue;
      }
      const value = readValue(valueNode, node);
      out.assignments.push({ field: node, value, origin: `${at} ${showValue(value)}` } satisfies Assignment);
    }
  }

  function readValue(node: Node | null, field: SettingField): unknown {
    if (node === null) return null;
    if (isScalar(node)) {
      // Unquoted digits or true/false where text is wanted: keep the text as written.
      if ((field.kind === 'string' || field.kind === 'enum') && typeof node.value !== 'string' && node.value !== null) {
        return node.source ?? String(node.value);
      }
      return coerceTyped(field, node.value);
    }
    return coerceTyped(field, node.toJS(doc as Document));
  }
}

function describeNode(node: unknown): string {
  if (isScalar(node)) return node.value === null ? 'null' : typeof node.value;
  if (isMap(node)) return 'mapping';
  return 'list';
}
