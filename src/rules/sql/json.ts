/**
 * JSON in and out of AWS IoT SQL, keeping Decimals that are written whole (`7.0`, `1e3`, `1.50E2`).
 * JS's JSON.parse reads `7.0` as the number 7, which the SQL would type as Int. Payloads rarely
 * contain such numbers, so reading stays JSON.parse (native, and it validates); only when a cheap
 * scan of the text finds one (outside strings: a digit, `.`, only zeros; or an exponent) is the
 * payload read again by a small reader that boxes those numbers as SqlDecimal.
 */
import { SqlDecimal } from './decimal.js';

/**
 * Parses JSON text; throws SyntaxError as JSON.parse does. With `decimals` (SQL 2015-10-08), numbers
 * written as Decimals whose value is whole are SqlDecimal; every other number is a plain number.
 */
export function parseJsonText(text: string, decimals: boolean): unknown {
  const plain = JSON.parse(text) as unknown;
  if (!decimals || !mayHaveWholeDecimal(text) || !hasWholeDecimal(text)) return plain;
  return new DecimalReader(text).read();
}

/**
 * Whether the text contains what any whole Decimal's text does — `.0`, or a digit before `e`/`E` —
 * found with the engine's native string search: most payloads have neither, and the scan below
 * (which skips strings) is then not needed. A match inside a string only costs the scan. (A
 * regexp for the same was slower than the scan on short payloads.)
 */
function mayHaveWholeDecimal(s: string): boolean {
  return s.includes('.0') || digitBefore(s, 'e') || digitBefore(s, 'E');
}

function digitBefore(s: string, c: string): boolean {
  for (let i = s.indexOf(c, 1); i !== -1; i = s.indexOf(c, i + 1)) {
    const p = s.charCodeAt(i - 1);
    if (p >= 0x30 && p <= 0x39) return true;
  }
  return false;
}

/**
 * Whether JSON text (already accepted by JSON.parse) has a number written with a fraction of only
 * zeros (`7.0`, `-3.000`) or with an exponent (`1e3`, `2.5E-1`). Strings are skipped: device ids
 * and hashes in hex ("00001e40") looked like exponents to a plain pattern and cost a second read
 * of most such payloads.
 */
export function hasWholeDecimal(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      // A string: to its closing quote, past escapes.
      for (i++; i < n; i++) {
        const d = s.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2e) {
      // A fraction: only zeros, then no digit.
      let j = i + 1;
      while (s.charCodeAt(j) === 0x30) j++;
      const d = s.charCodeAt(j);
      if (j > i + 1 && !(d >= 0x30 && d <= 0x39)) return true;
      i = j - 1;
    } else if ((c === 0x65 || c === 0x45) && i > 0) {
      // An exponent follows a digit (the e of true and false does not).
      const p = s.charCodeAt(i - 1);
      if (p >= 0x30 && p <= 0x39) return true;
    }
  }
  return false;
}

/** Reads JSON text that JSON.parse has already accepted (so it checks nothing itself). */
class DecimalReader {
  private i = 0;
  constructor(private readonly s: string) {}

  read(): unknown {
    this.skipSpace();
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: // {
        return this.object();
      case 0x5b: // [
        return this.array();
      case 0x22: // "
        return this.string();
      case 0x74: // true
        this.i += 4;
        return true;
      case 0x66: // false
        this.i += 5;
        return false;
      case 0x6e: // null
        this.i += 4;
        return null;
      default:
        return this.number();
    }
  }

  private skipSpace(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else return;
    }
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.skipSpace();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      const key = this.string();
      this.skipSpace();
      this.i++; // :
      const value = this.read();
      // JSON.parse makes "__proto__" an own property; an assignment would set the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.skipSpace();
      if (this.s.charCodeAt(this.i++) !== 0x2c) return out; // , or }
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.skipSpace();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.read());
      this.skipSpace();
      if (this.s.charCodeAt(this.i++) !== 0x2c) return out; // , or ]
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    let escaped = false;
    let j = start + 1;
    for (;;) {
      const c = s.charCodeAt(j);
      if (c === 0x5c) {
        escaped = true;
        j += 2;
      } else if (c === 0x22) break;
      else j++;
    }
    this.i = j + 1;
    return escaped ? (JSON.parse(s.slice(start, j + 1)) as string) : s.slice(start + 1, j);
  }

  private number(): number | SqlDecimal {
    const s = this.s;
    const start = this.i;
    let j = start;
    let decimalForm = false;
    for (;;) {
      const c = s.charCodeAt(j);
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b) j++;
      else if (c === 0x2e || c === 0x65 || c === 0x45) {
        decimalForm = true;
        j++;
      } else break;
    }
    this.i = j;
    const text = s.slice(start, j);
    const n = Number(text);
    return decimalForm && Number.isInteger(n) ? new SqlDecimal(n, text) : n;
  }
}

/** Whether a value holds a SqlDecimal anywhere (output documents are small; this is a short walk). */
function holdsDecimal(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (v instanceof SqlDecimal) return true;
  if (Array.isArray(v)) return v.some(holdsDecimal);
  if (Buffer.isBuffer(v)) return false;
  for (const k in v) if (holdsDecimal((v as Record<string, unknown>)[k])) return true;
  return false;
}

function write(v: unknown): string | undefined {
  if (v instanceof SqlDecimal) return v.text;
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    if (Array.isArray(v)) return `[${v.map((x) => write(x) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const k of Object.keys(v)) {
      const x = write((v as Record<string, unknown>)[k]);
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${x}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * JSON text of a SQL value: JSON.stringify, except that Decimals keep their Decimal form
 * (`{"x": 7.0}` in, `{"x":7.0}` out — developer guide, "Data types": a Decimal serializes as a
 * Decimal; a computed whole Decimal such as 2.5 * 2 is written `5.0`).
 */
export function toJsonText(v: unknown): string {
  return (holdsDecimal(v) ? write(v) : JSON.stringify(v)) as string;
}

/** A SQL value as plain JSON data (Decimals become numbers): what a function or worker receives. */
export function toPlainJson(v: unknown): unknown {
  return v === undefined ? undefined : holdsDecimal(v) ? (JSON.parse(JSON.stringify(v)) as unknown) : v;
}
