/**
 * Reading data files safely.
 * @internal
 * @module
 */
import { oneLine, readRegularFile } from '../files.js';
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
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
    (p) =>
      new DataLoadError(
        p.notRegular ? `${oneLine(path)}: expected a regular file, got ${p.reason}` : `${oneLine(path)}: expected a readable file, got ${p.reason}`,
      ),
  );
}

/** True when `bytes` start with gzip's magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Compressed prefixes tried, in turn, to read a header before inflating the whole stream (at most ~1000× as many bytes each). */
const HEAD_PREFIXES = [4096, 65536];

/**
 * Inflates `bytes` if they are gzip-compressed; returns them unchanged otherwise. With `declared`, the inflated size is
 * capped by what the file's header declares: a short prefix is inflated first and handed to `declared`, which returns
 * the total size the header declares (or `undefined` when the prefix does not hold the whole header yet); the
 * stream is then inflated to at most that size plus one byte, so a stream longer than its header says stops there
 * (and the caller's length check reports the trailing bytes) instead of filling memory.
 *
 * @param bytes - a file's contents.
 * @param where - the file name, for error messages.
 * @param declared - the total size the header at the start of the inflated bytes declares.
 * @throws {@link DataLoadError} for a corrupt gzip stream.
 */
export function gunzipIfNeeded(bytes: Uint8Array, where: string, declared?: (head: Uint8Array) => number | undefined): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  let cap: number | undefined;
  if (declared) {
    for (const n of HEAD_PREFIXES) {
      let head: Uint8Array;
      try {
        head = gunzipSync(bytes.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      } catch {
        break; // a corrupt stream: the full inflate below reports it
      }
      cap = declared(head);
      if (cap !== undefined || n >= bytes.length) break;
    }
  }
  const limit = cap === undefined || !Number.isSafeInteger(cap) ? undefined : Math.min(cap + 1, bufferConstants.MAX_LENGTH);
  try {
    return gunzipSync(bytes, limit === undefined ? {} : { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' && limit !== undefined) {
      throw new DataLoadError(`${where}: expected ${cap} bytes as its header declares, got more (trailing bytes after the array)`);
    }
    throw new DataLoadError(`${where}: expected a valid gzip stream, got ${(e as Error).message}`);
  }
}
