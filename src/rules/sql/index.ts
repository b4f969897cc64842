/** rules/sql: AWS IoT SQL — lexer, parser, compiler to closures, type rules, functions, templates. */
export { compileSql, compileExpression, parsePayload, SQL_VERSIONS, DEFAULT_SQL_VERSION } from './compile.js';
export type { CompiledSql, CompileOptions } from './compile.js';
export { compileTemplate } from './template.js';
export type { Template } from './template.js';
export { SqlParseException } from './errors.js';
export type { SqlContext, SqlLookups } from './context.js';
export { topicMatches, topicFilterProblem } from './topic-filter.js';
export { parseSql } from './parser.js';
export { typeOf } from './values.js';
export type { SqlType } from './values.js';
