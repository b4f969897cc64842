/** Tokenizer of AWS IoT SQL. Keywords are case-insensitive; identifiers keep their case. */
import { SqlParseException, positionOf } from './errors.js';

export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Identifier / operator text, string contents (unescaped), or number text. */
  text: string;
  /** Offset in the SQL text, for error positions. */
  pos: number;
}

const OPS = ['<>', '!=', '<=', '>=', '||', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', '{', '}', ',', '.', ':'];
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0' };

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** Splits SQL text into tokens; throws SqlParseException on an unterminated string or a stray character. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const fail = (msg: string, at: number): never => {
    const p = positionOf(sql, at);
    throw new SqlParseException(msg, p.line, p.column);
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"' || c === '`') {
      // Single quotes: string literal. Double quotes / backticks: quoted identifier (a field name
      // with characters an identifier cannot have); in an object literal key either works.
      let s = '';
      i++;
      for (;;) {
        if (i >= sql.length) fail('unterminated quoted text', start);
        const d = sql[i]!;
        if (d === '\\' && i + 1 < sql.length) {
          const e = sql[i + 1]!;
          s += ESCAPES[e] ?? e;
          i += 2;
          continue;
        }
        if (d === c) {
          if (sql[i + 1] === c) {
            s += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += d;
        i++;
      }
      out.push({ kind: c === "'" ? 'string' : 'qident', text: s, pos: start });
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(sql[i + 1] ?? ''))) {
      while (isDigit(sql[i] ?? '')) i++;
      if (sql[i] === '.' && isDigit(sql[i + 1] ?? '')) {
        i++;
        while (isDigit(sql[i] ?? '')) i++;
      }
      if ((sql[i] === 'e' || sql[i] === 'E') && (isDigit(sql[i + 1] ?? '') || ((sql[i + 1] === '-' || sql[i + 1] === '+') && isDigit(sql[i + 2] ?? '')))) {
        i += 2;
        while (isDigit(sql[i] ?? '')) i++;
      }
      out.push({ kind: 'number', text: sql.slice(start, i), pos: start });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < sql.length && isIdentPart(sql[i]!)) i++;
      out.push({ kind: 'ident', text: sql.slice(start, i), pos: start });
      continue;
    }
    const op = OPS.find((o) => sql.startsWith(o, i));
    if (op === undefined) fail(`unexpected character '${c}'`, i);
    out.push({ kind: 'op', text: op!, pos: start });
    i += op!.length;
  }
  out.push({ kind: 'eof', text: '', pos: sql.length });
  return out;
}
