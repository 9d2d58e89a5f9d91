/**
 * Reading whole files without hanging: pipes, sockets and devices are refused before any read, since a read
 * from them can block forever.
 * @internal
 * @module
 */
import { readFile, stat } from 'node:fs/promises';

/** Why a file could not be read: not a regular file, or the OS error code (or message). */
export interface FileProblem {
  /** True for a directory, pipe, socket or device. */
  readonly notRegular: boolean;
  /** The error code (`ENOENT`, `EACCES`, ...) or message, when `notRegular` is false. */
  readonly reason: string;
}

/**
 * Reads a regular file whole; every failure goes through `fail`, which builds the caller's typed error.
 *
 * @param path - the file.
 * @param fail - turns a {@link FileProblem} into the error to throw.
 */
export async function readRegularFile(path: string, fail: (problem: FileProblem) => Error): Promise<Uint8Array> {
  let regular: boolean;
  try {
    regular = (await stat(path)).isFile();
  } catch (e) {
    throw fail({ notRegular: false, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
  }
  if (!regular) throw fail({ notRegular: true, reason: 'a directory, pipe, socket or device' });
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw fail({ notRegular: false, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
  }
}
