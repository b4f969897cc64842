/**
 * The error of a rule's SQL that cannot be compiled: AWS answers CreateTopicRule / ReplaceTopicRule
 * with `SqlParseException`. Line and column (1-based) point at the offending token.
 */
export class SqlParseException extends Error {
  override readonly name = 'SqlParseException';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}, column ${column})`);
  }
}

/** Line and column (1-based) of a character offset in `text`. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return { line, column: col };
}
