/** rules/sql: AWS IoT SQL — lexer, parser, compiler to closures, type rules, functions, templates. */
export { compileSql, compileExpression, parsePayload, parsePayloadText, statementKey, leaderIndexes, keepsWholeDecimals, SQL_VERSIONS, DEFAULT_SQL_VERSION } from './compile.js';
export type { CompiledSql, CompileOptions } from './compile.js';
export { compileTemplate } from './template.js';
export type { Template } from './template.js';
export { SqlParseException } from './errors.js';
export type { SqlContext, SqlLookups, SqlFunctionsPort, SecretValue } from './context.js';
export { topicMatches, topicFilterProblem } from './topic-filter.js';
export { parseSql } from './parser.js';
export { typeOf } from './values.js';
export { parseJsonText, toJsonText, toPlainJson } from './json.js';
export { SqlDecimal } from './decimal.js';
export { ProtoDescriptors } from './proto.js';
export { resolveSecret, MAX_LAMBDA_CALLS } from './functions-external.js';
export type { SqlType } from './values.js';
