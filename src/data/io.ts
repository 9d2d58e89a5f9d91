/**
 * Reading data files safely.
 * @internal
 * @module
 */
import { readRegularFile } from '../files.js';
import { gunzipSync } from 'node:zlib';
import { DataLoadError } from '../errors.js';

/**
 * Reads a whole regular file, refusing pipes, sockets and devices (a read from them could block forever).
 *
 * @param path - the file.
 * @throws {@link DataLoadError} naming the path and the reason.
 */
export async function readDataFile(path: string): Promise<Uint8Array> {
  return readRegularFile(
    path,
    (p) => new DataLoadError(p.notRegular ? `${path}: expected a regular file, got ${p.reason}` : `${path}: expected a readable file, got ${p.reason}`),
  );
}

/** True when `bytes` start with gzip's magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates `bytes` if they are gzip-compressed; returns them unchanged otherwise.
 *
 * @param bytes - a file's contents.
 * @param where - the file name, for error messages.
 * @throws {@link DataLoadError} for a corrupt gzip stream.
 */
export function gunzipIfNeeded(bytes: Uint8Array, where: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new DataLoadError(`${where}: expected a valid gzip stream, got ${(e as Error).message}`);
  }
}
