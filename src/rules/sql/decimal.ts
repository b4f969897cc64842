/**
 * A whole-valued Decimal. AWS IoT SQL types numbers as Int or Decimal by how they are written:
 * `7.0` and `1e3` are Decimals although their values are whole (developer guide, "Data types":
 * with SQL 2015-10-08 whole numbers such as 10.0 stay Decimal; 2016-03-23 reads them as Int).
 * Values are JS numbers: an integral number is an Int, a fractional one a Decimal, and only a
 * Decimal whose value is whole needs this box — so the common case allocates nothing.
 */

/** Valid JSON number text: what may be written raw into an output document. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

export class SqlDecimal {
  /** The JSON text of the value: as written in the payload or SQL when it came from there. */
  readonly text: string;
  constructor(
    readonly value: number,
    text?: string,
  ) {
    this.text = text !== undefined && JSON_NUMBER.test(text) ? text : decimalText(value);
  }

  toString(): string {
    return this.text;
  }

  /** A plain JSON.stringify (stores, HTTP bodies outside the SQL) writes the number. */
  toJSON(): number {
    return this.value;
  }
}

/** A computed whole Decimal's text: the shortest form with a `.0` (`5` → `5.0`, `1e+21` stays). */
export function decimalText(n: number): string {
  const s = String(n);
  return /[.eEIN]/.test(s) ? s : `${s}.0`;
}

/** A Decimal result: a whole value is boxed (so it keeps printing as a Decimal), a fractional one is a plain number. */
export function decimalOf(n: number, text?: string): number | SqlDecimal {
  return Number.isInteger(n) ? new SqlDecimal(n, text) : n;
}
