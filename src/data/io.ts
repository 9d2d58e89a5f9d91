/**
 * Reading data files safely.
 * @internal
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { DataLoadError } from '../errors.js';

/**
 * Reads a whole regular file, refusing pipes, sockets and devices (a read from them could block forever).
 *
 * @param path - the file.
 * @throws {@link DataLoadError} naming the path and the reason.
 */
export async function readDataFile(path: string): Promise<Uint8Array> {
  try {
    if (!(await stat(path)).isFile()) throw new DataLoadError(`${path}: expected a regular file, got a directory, pipe, socket or device`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof DataLoadError) throw e;
    throw new DataLoadError(`${path}: expected a readable file, got ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
