/** Small file helpers for secrets kept in the data directory. */
import { rename, stat, writeFile, chmod, unlink } from 'node:fs/promises';

/** True when `path` exists (as anything). */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a file through a temporary name and a rename, so a crash never leaves half a key
 * or certificate behind. The mode is set on the temporary file before any byte is written
 * (and again after, because the umask may have narrowed or the file may have pre-existed).
 */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, content, { mode, flag: 'w' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
