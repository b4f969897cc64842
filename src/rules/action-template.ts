/**
 * Substitution templates in action fields, compiled the way the rule's statement is: with the
 * engine's lookup functions and the rule's `awsIotSqlVersion` (so `${x * 1.0}` follows the same
 * number rules as the SELECT). A bad expression is a SqlParseException naming the field.
 */
import { rulesErrors } from './errors.js';
import { compileTemplate, SqlParseException, type SqlLookups, type Template } from './sql/index.js';

/** What every template of one rule's actions compiles with. */
export interface TemplateOptions {
  lookups: SqlLookups;
  sqlVersion: string;
}

export function actionTemplate(text: string, field: string, opts: TemplateOptions): Template {
  try {
    return compileTemplate(text, opts);
  } catch (err) {
    if (err instanceof SqlParseException) throw rulesErrors.sql(`${field}: ${err.message}`, err);
    throw err;
  }
}
