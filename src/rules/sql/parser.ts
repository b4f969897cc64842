/**
 * Recursive-descent parser of AWS IoT SQL: `SELECT [VALUE] items FROM 'filter' [WHERE expr]`, with
 * nested queries `(SELECT ... FROM path [AS name] [WHERE ...])`. Precedence, loosest first:
 * OR, AND, NOT, comparison / IN / CONTAINS, `+ - ||`, `* / %`, unary minus, postfix `.name` `[i]`.
 */
import type { BinaryOp, Expr, Query, SelectItem } from './ast.js';
import { SqlParseException, positionOf } from './errors.js';
import { tokenize, type Token } from './lexer.js';

const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AS', 'AND', 'OR', 'NOT', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'IN', 'CONTAINS', 'VALUE']);
const COMPARISONS: Record<string, BinaryOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

class Parser {
  private i = 0;
  constructor(
    private readonly sql: string,
    private readonly toks: Token[],
  ) {}

  fail(msg: string, tok: Token = this.peek()): never {
    const p = positionOf(this.sql, tok.pos);
    throw new SqlParseException(msg, p.line, p.column);
  }
  peek(): Token {
    return this.toks[this.i]!;
  }
  next(): Token {
    return this.toks[this.i++]!;
  }
  isKw(kw: string, tok: Token = this.peek()): boolean {
    return tok.kind === 'ident' && tok.text.toUpperCase() === kw;
  }
  acceptKw(kw: string): boolean {
    if (!this.isKw(kw)) return false;
    this.i++;
    return true;
  }
  expectKw(kw: string): void {
    if (!this.acceptKw(kw)) this.fail(`expected ${kw} but found ${describe(this.peek())}`);
  }
  isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === op;
  }
  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.i++;
    return true;
  }
  expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(`expected '${op}' but found ${describe(this.peek())}`);
  }

  query(nested: boolean): Query {
    this.expectKw('SELECT');
    const value = this.acceptKw('VALUE');
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.acceptOp(','));
    if (value && (items.length !== 1 || items[0]!.alias !== null)) this.fail('SELECT VALUE takes exactly one expression without an alias');
    this.expectKw('FROM');
    let from: Query['from'];
    if (nested) {
      const expr = this.expr();
      const alias = this.acceptKw('AS') ? this.name() : null;
      from = { expr, alias };
    } else {
      const t = this.next();
      if (t.kind !== 'string') this.fail("FROM needs a topic filter in single quotes, e.g. FROM 'sensors/+/data'", t);
      from = { topic: t.text, pos: t.pos };
    }
    const where = this.acceptKw('WHERE') ? this.expr() : null;
    return { value, items, from, where };
  }

  selectItem(): SelectItem {
    const t = this.peek();
    if (this.acceptOp('*')) return { expr: { type: 'star', pos: t.pos }, star: true, alias: null };
    let expr = this.expr();
    let star = false;
    // `path.*` merges the object at path into the output.
    if (this.isOp('.') && this.toks[this.i + 1]?.kind === 'op' && this.toks[this.i + 1]!.text === '*') {
      this.i += 2;
      star = true;
    }
    let alias: string | null = null;
    if (!star) {
      if (this.acceptKw('AS')) alias = this.name();
      else if ((this.peek().kind === 'ident' && !RESERVED.has(this.peek().text.toUpperCase())) || this.peek().kind === 'qident') alias = this.name();
    }
    if (!star && expr.type === 'star') expr = { type: 'star', pos: t.pos };
    return { expr, star, alias };
  }

  name(): string {
    const t = this.next();
    if (t.kind === 'ident' || t.kind === 'qident') return t.text;
    return this.fail(`expected a name but found ${describe(t)}`, t);
  }

  expr(): Expr {
    return this.or();
  }
  or(): Expr {
    let left = this.and();
    while (this.isKw('OR')) {
      const pos = this.next().pos;
      left = { type: 'binary', op: 'OR', left, right: this.and(), pos };
    }
    return left;
  }
  and(): Expr {
    let left = this.not();
    while (this.isKw('AND')) {
      const pos = this.next().pos;
      left = { type: 'binary', op: 'AND', left, right: this.not(), pos };
    }
    return left;
  }
  not(): Expr {
    if (this.isKw('NOT')) {
      const pos = this.next().pos;
      return { type: 'unary', op: 'NOT', operand: this.not(), pos };
    }
    return this.comparison();
  }
  comparison(): Expr {
    let left = this.additive();
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? COMPARISONS[t.text] : this.isKw('IN') ? 'IN' : this.isKw('CONTAINS') ? 'CONTAINS' : undefined;
      if (op === undefined) return left;
      this.i++;
      left = { type: 'binary', op, left, right: this.additive(), pos: t.pos };
    }
  }
  additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.text !== '+' && t.text !== '-' && t.text !== '||')) return left;
      this.i++;
      left = { type: 'binary', op: t.text, left, right: this.multiplicative(), pos: t.pos };
    }
  }
  multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || (t.text !== '*' && t.text !== '/' && t.text !== '%')) return left;
      this.i++;
      left = { type: 'binary', op: t.text, left, right: this.unary(), pos: t.pos };
    }
  }
  unary(): Expr {
    const t = this.peek();
    if (this.acceptOp('-')) {
      const operand = this.unary();
      if (operand.type === 'literal' && typeof operand.value === 'number')
        return { ...operand, value: -operand.value, ...(operand.text !== undefined ? { text: `-${operand.text}` } : {}), pos: t.pos };
      return { type: 'unary', op: '-', operand, pos: t.pos };
    }
    if (this.acceptOp('+')) return this.unary();
    return this.postfix(this.primary());
  }
  postfix(base: Expr): Expr {
    let e = base;
    for (;;) {
      const t = this.peek();
      if (this.isOp('.')) {
        const n = this.toks[this.i + 1]!;
        if (n.kind === 'op' && n.text === '*') return e; // `path.*`, handled by selectItem
        this.i++;
        e = { type: 'member', object: e, name: this.name(), pos: t.pos };
      } else if (this.acceptOp('[')) {
        const index = this.expr();
        this.expectOp(']');
        e = { type: 'index', object: e, index, pos: t.pos };
      } else return e;
    }
  }
  primary(): Expr {
    const t = this.next();
    const pos = t.pos;
    switch (t.kind) {
      case 'number': {
        const decimal = /[.eE]/.test(t.text);
        return { type: 'literal', value: Number(t.text), decimal, text: t.text, pos };
      }
      case 'string':
        return { type: 'literal', value: t.text, pos };
      case 'qident':
        return { type: 'ident', name: t.text, pos };
      case 'op':
        if (t.text === '*') return { type: 'star', pos };
        if (t.text === '(') {
          if (this.isKw('SELECT')) {
            const query = this.query(true);
            this.expectOp(')');
            return { type: 'subquery', query, pos };
          }
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        if (t.text === '[') {
          const items: Expr[] = [];
          if (!this.acceptOp(']')) {
            do items.push(this.expr());
            while (this.acceptOp(','));
            this.expectOp(']');
          }
          return { type: 'array', items, pos };
        }
        if (t.text === '{') {
          const entries: { key: string; value: Expr }[] = [];
          if (!this.acceptOp('}')) {
            do {
              const k = this.next();
              if (k.kind !== 'string' && k.kind !== 'qident' && k.kind !== 'ident') this.fail('expected an object key', k);
              this.expectOp(':');
              entries.push({ key: k.text, value: this.expr() });
            } while (this.acceptOp(','));
            this.expectOp('}');
          }
          return { type: 'object', entries, pos };
        }
        return this.fail(`unexpected ${describe(t)}`, t);
      case 'ident': {
        const up = t.text.toUpperCase();
        if (up === 'TRUE' || up === 'FALSE') return { type: 'literal', value: up === 'TRUE', pos };
        if (up === 'NULL') return { type: 'literal', value: null, pos };
        if (up === 'CASE') return this.caseExpr(pos);
        if (this.isOp('(')) {
          this.i++;
          if (up === 'CAST') {
            const operand = this.expr();
            this.expectKw('AS');
            const to = this.name();
            this.expectOp(')');
            return { type: 'cast', operand, to, pos };
          }
          const args: Expr[] = [];
          if (!this.acceptOp(')')) {
            do args.push(this.expr());
            while (this.acceptOp(','));
            this.expectOp(')');
          }
          return { type: 'call', name: t.text, args, pos };
        }
        if (RESERVED.has(up)) return this.fail(`unexpected keyword ${t.text}`, t);
        return { type: 'ident', name: t.text, pos };
      }
      default:
        return this.fail(`unexpected ${describe(t)}`, t);
    }
  }
  caseExpr(pos: number): Expr {
    const subject = this.isKw('WHEN') ? null : this.expr();
    const whens: { when: Expr; then: Expr }[] = [];
    while (this.acceptKw('WHEN')) {
      const when = this.expr();
      this.expectKw('THEN');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) this.fail('CASE needs at least one WHEN');
    const otherwise = this.acceptKw('ELSE') ? this.expr() : null;
    this.expectKw('END');
    return { type: 'case', subject, whens, otherwise, pos };
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of statement';
  if (t.kind === 'string') return `'${t.text}'`;
  return `'${t.text}'`;
}

/** Parses a complete statement; throws SqlParseException with line and column. */
export function parseSql(sql: string): Query {
  const p = new Parser(sql, tokenize(sql));
  const q = p.query(false);
  if (p.peek().kind !== 'eof') p.fail(`unexpected ${describe(p.peek())} after the statement`);
  return q;
}
