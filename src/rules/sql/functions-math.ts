/** Math and bit functions of AWS IoT SQL (developer guide, "Functions"). Non-numeric input gives Undefined. */
import type { SqlFunction } from './context.js';
import { stableVolatile } from './functions-external.js';
import { toNumber } from './values.js';

/** A function of one number; `returns` tags its result type (context.ts). */
function num1(f: (x: number) => number, returns?: SqlFunction['returns']): SqlFunction {
  return {
    min: 1,
    max: 1,
    ...(returns ? { returns } : {}),
    fn: ([a]) => {
      const x = toNumber(a);
      if (x === undefined) return undefined;
      const r = f(x);
      return Number.isFinite(r) ? r : undefined;
    },
  };
}
function num2(f: (x: number, y: number) => number | undefined, returns?: SqlFunction['returns']): SqlFunction {
  return {
    min: 2,
    max: 2,
    ...(returns ? { returns } : {}),
    fn: ([a, b]) => {
      const x = toNumber(a);
      const y = toNumber(b);
      if (x === undefined || y === undefined) return undefined;
      const r = f(x, y);
      return r !== undefined && Number.isFinite(r) ? r : undefined;
    },
  };
}
/** Bit functions take Int (or Int strings) only. */
function int2(f: (x: number, y: number) => number): SqlFunction {
  return {
    min: 2,
    max: 2,
    fn: ([a, b]) => {
      const x = toNumber(a);
      const y = toNumber(b);
      if (x === undefined || y === undefined || !Number.isInteger(x) || !Number.isInteger(y)) return undefined;
      return Number(f(x, y));
    },
  };
}

/** round(): half away from zero, as Java's Math.round on the absolute value. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

export const MATH_FUNCTIONS: Record<string, SqlFunction> = {
  abs: num1(Math.abs, 'decimalIfArg'),
  acos: num1(Math.acos, 'decimal'),
  asin: num1(Math.asin, 'decimal'),
  atan: num1(Math.atan, 'decimal'),
  atan2: num2((y, x) => Math.atan2(y, x), 'decimal'),
  ceil: num1(Math.ceil),
  cos: num1(Math.cos, 'decimal'),
  cosh: num1(Math.cosh, 'decimal'),
  exp: num1(Math.exp, 'decimal'),
  floor: num1(Math.floor),
  ln: num1(Math.log, 'decimal'),
  log: num1(Math.log10, 'decimal'),
  // mod: result has the sign of the divisor... AWS: mod(-8, 3) = 1 (floor modulus).
  mod: num2((x, y) => (y === 0 ? undefined : ((x % y) + y) % y), 'decimalIfArg'),
  remainder: num2((x, y) => (y === 0 ? undefined : x % y), 'decimalIfArg'),
  power: num2(Math.pow, 'decimal'),
  rand: { min: 0, max: 0, fn: (_a, ctx) => stableVolatile(ctx, Math.random), volatile: true, returns: 'decimal' },
  round: num1(roundHalfAway),
  sign: num1(Math.sign),
  sin: num1(Math.sin, 'decimal'),
  sinh: num1(Math.sinh, 'decimal'),
  sqrt: num1(Math.sqrt, 'decimal'),
  tan: num1(Math.tan, 'decimal'),
  tanh: num1(Math.tanh, 'decimal'),
  trunc: {
    min: 2,
    max: 2,
    fn: ([a, b]) => {
      const x = toNumber(a);
      const d = toNumber(b);
      if (x === undefined || d === undefined || !Number.isInteger(d)) return undefined;
      const f = 10 ** d;
      return Math.trunc(x * f) / f;
    },
  },
  bitand: int2((x, y) => Number(BigInt(x) & BigInt(y))),
  bitor: int2((x, y) => Number(BigInt(x) | BigInt(y))),
  bitxor: int2((x, y) => Number(BigInt(x) ^ BigInt(y))),
  bitnot: {
    min: 1,
    max: 1,
    fn: ([a]) => {
      const x = toNumber(a);
      return x === undefined || !Number.isInteger(x) ? undefined : Number(~BigInt(x));
    },
  },
  nanvl: {
    min: 2,
    max: 2,
    fn: ([a, b]) => (typeof a === 'number' && Number.isNaN(a) ? b : a),
  },
};
