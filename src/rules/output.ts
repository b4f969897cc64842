/** How every action turns a rule's output into bytes or JSON text (one place, so Decimals such as 7.0 stay as written). */
import { toJsonText } from './sql/index.js';

export { toJsonText };

/** The bytes an action sends: the payload bytes for binary output, else JSON (Decimals such as 7.0 kept). */
export function outputBytes(output: unknown): Buffer {
  return Buffer.isBuffer(output) ? output : Buffer.from(toJsonText(output));
}
