/**
 * Substitution templates: `${expression}` inside action fields (republish topic, http url and
 * headers, table names...). Each expression is compiled once; Undefined renders as the empty string.
 */
import { compileExpression, type CompileOptions } from './compile.js';
import type { SqlContext } from './context.js';
import { SqlParseException } from './errors.js';
import { stringify } from './values.js';

export type Template = (doc: unknown, ctx: SqlContext) => string;

/** Compiles a template string; throws SqlParseException for a bad expression or an unclosed `${`. */
export function compileTemplate(text: string, opts: CompileOptions = {}): Template {
  const parts: (string | ((doc: unknown, ctx: SqlContext) => unknown))[] = [];
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('${', i);
    if (start < 0) {
      parts.push(text.slice(i));
      break;
    }
    if (start > i) parts.push(text.slice(i, start));
    // Find the matching brace, skipping quoted text and nested braces (object literals).
    let depth = 1;
    let j = start + 2;
    let quote: string | null = null;
    for (; j < text.length && depth > 0; j++) {
      const c = text[j]!;
      if (quote !== null) {
        if (c === quote) quote = null;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '{') depth++;
      else if (c === '}') depth--;
    }
    if (depth !== 0) throw new SqlParseException(`unclosed substitution template in '${text}'`, 1, start + 1);
    parts.push(compileExpression(text.slice(start + 2, j - 1), opts));
    i = j;
  }
  if (parts.every((p) => typeof p === 'string')) {
    const s = parts.join('');
    return () => s;
  }
  return (doc, ctx) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = p(doc, ctx);
        out += v === undefined ? '' : stringify(v) ?? '';
      }
    }
    return out;
  };
}
