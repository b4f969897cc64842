/** The syntax tree of an AWS IoT SQL statement, as the parser builds it and the compiler reads it. */

export type Expr =
  /** `decimal`: a number written with a point or an exponent; `text`: a number as written. */
  | { type: 'literal'; value: unknown; decimal?: boolean; text?: string; pos: number }
  | { type: 'ident'; name: string; pos: number }
  | { type: 'star'; pos: number }
  | { type: 'member'; object: Expr; name: string; pos: number }
  | { type: 'index'; object: Expr; index: Expr; pos: number }
  | { type: 'unary'; op: '-' | 'NOT'; operand: Expr; pos: number }
  | { type: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: number }
  | { type: 'call'; name: string; args: Expr[]; pos: number }
  | { type: 'cast'; operand: Expr; to: string; pos: number }
  | { type: 'case'; subject: Expr | null; whens: { when: Expr; then: Expr }[]; otherwise: Expr | null; pos: number }
  | { type: 'array'; items: Expr[]; pos: number }
  | { type: 'object'; entries: { key: string; value: Expr }[]; pos: number }
  | { type: 'subquery'; query: Query; pos: number };

export type BinaryOp = 'AND' | 'OR' | '=' | '<>' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%' | '||' | 'IN' | 'CONTAINS';

export interface SelectItem {
  /** `*` (whole input) or `path.*` (merge an object) when `star` is set. */
  expr: Expr;
  star: boolean;
  alias: string | null;
}

export interface Query {
  value: boolean;
  items: SelectItem[];
  /** Top level: the topic filter string. Nested: an expression over the outer document. */
  from: { topic: string; pos: number } | { expr: Expr; alias: string | null };
  where: Expr | null;
}
