/**
 * Reading files from hostile folders without hanging or escaping: every file is opened with `O_NONBLOCK` and
 * checked on its open descriptor (so a pipe, socket or device is refused before any read, and cannot be swapped
 * in between a check and the read), and a file named by another file (weight shards, ONNX external data) must
 * resolve, symlinks followed, inside the referencing file's folder.
 * @internal
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/** Why a file could not be read. */
export interface FileProblem {
  /** True for a directory, pipe, socket or device. */
  readonly notRegular: boolean;
  /** True when a referenced file resolves outside its folder (`..`, an absolute path or a symlink leading out). */
  readonly outside?: boolean;
  /** True when the file is larger than the caller's `maxBytes`. */
  readonly tooLarge?: boolean;
  /** The error code (`ENOENT`, `EACCES`, ...) or message, or a short phrase for the cases above; one line. */
  readonly reason: string;
}

/** Options of the readers. */
export interface ReadOptions {
  /** Refuse a file larger than this many bytes before reading it. Default: no limit. */
  readonly maxBytes?: number;
}

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
const NOT_REGULAR = 'a directory, pipe, socket or device';

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code ?? oneLine(e instanceof Error ? e.message : String(e));
}

/** A foreign string (an OS message, a file name) made safe to quote on one line: JSON-escaped when it needs it. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(text) ? JSON.stringify(text) : text;
}

/** A name quoted for a message: `'name'`, or JSON-escaped (`"na\\nme"`) when it holds a quote or a control character. */
export function quote(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f\u2028\u2029'"\\]/.test(text) ? JSON.stringify(text) : `'${text}'`;
}

/**
 * Reads a regular file whole; every failure goes through `fail`, which builds the caller's typed error.
 *
 * @param path - the file.
 * @param fail - turns a {@link FileProblem} into the error to throw.
 * @param options - `maxBytes`, checked on the open file before reading.
 */
export async function readRegularFile(path: string, fail: (problem: FileProblem) => Error, options: ReadOptions = {}): Promise<Uint8Array> {
  return readOpened(path, OPEN_FLAGS, fail, options);
}

async function readOpened(path: string, flags: number, fail: (problem: FileProblem) => Error, options: ReadOptions): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw fail({ notRegular: true, reason: 'a symbolic link that changed while it was read' });
    throw fail({ notRegular: false, reason: errnoReason(e) });
  }
  try {
    let stats;
    try {
      stats = await handle.stat();
    } catch (e) {
      throw fail({ notRegular: false, reason: errnoReason(e) });
    }
    if (!stats.isFile()) throw fail({ notRegular: true, reason: NOT_REGULAR });
    const size = stats.size;
    if (options.maxBytes !== undefined && size > options.maxBytes) {
      throw fail({ notRegular: false, tooLarge: true, reason: `a file larger than ${options.maxBytes} bytes` });
    }
    try {
      const buf = new Uint8Array(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(buf, done, size - done, done);
        if (bytesRead <= 0) break;
        done += bytesRead;
      }
      return done === size ? buf : buf.subarray(0, done);
    } catch (e) {
      throw fail({ notRegular: false, reason: errnoReason(e) });
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** True when `child` is `root` or lies under it (both real, absolute paths). */
function inside(root: string, child: string): boolean {
  if (child === root) return false;
  const rel = relative(root, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** Checks a reference's spelling; returns the problem or undefined. */
function badReference(ref: unknown): FileProblem | undefined {
  if (typeof ref !== 'string' || ref === '' || ref.includes('\u0000')) return { notRegular: false, reason: 'not a file name' };
  if (isAbsolute(ref) || /^[a-zA-Z]:|^[\\/]/.test(ref) || ref.split(/[\\/]/).includes('..')) {
    return { notRegular: false, outside: true, reason: 'a path outside the folder' };
  }
  return undefined;
}

/**
 * Reads the file that `ref` (a relative path written inside another file) names in `dir`, refusing it unless its
 * real path (symlinks followed) lies inside `dir`'s real path and it is a regular file. Errors never carry the
 * target's size or contents.
 *
 * @param dir - the referencing file's folder.
 * @param ref - the reference as written in the file.
 * @param fail - turns a {@link FileProblem} into the error to throw.
 * @param options - `maxBytes`, checked before reading.
 */
export async function readContainedFile(dir: string, ref: string, fail: (problem: FileProblem) => Error, options: ReadOptions = {}): Promise<Uint8Array> {
  const bad = badReference(ref);
  if (bad) throw fail(bad);
  let root: string;
  let target: string;
  try {
    root = await realpath(dir);
    target = await realpath(join(root, ref));
  } catch (e) {
    throw fail({ notRegular: false, reason: errnoReason(e) });
  }
  if (!inside(root, target)) throw fail({ notRegular: false, outside: true, reason: 'a file outside the folder (through a symbolic link)' });
  // The real path has no symlink left; O_NOFOLLOW refuses one swapped in since.
  return readOpened(target, OPEN_FLAGS | (constants.O_NOFOLLOW ?? 0), fail, options);
}

/** An open, checked regular file inside a folder (see {@link openContainedSync}). */
export interface ContainedFile {
  /** Its size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer only if the file shrank). */
  read(offset: number, length: number): Uint8Array;
  /** Closes it. */
  close(): void;
}

/**
 * Opens, synchronously, the regular file that `ref` names inside `dir` under the same rules as
 * {@link readContainedFile}.
 *
 * @param dir - the referencing file's folder.
 * @param ref - the reference as written in the file.
 * @param fail - turns a {@link FileProblem} into the error to throw.
 */
export function openContainedSync(dir: string, ref: string, fail: (problem: FileProblem) => Error): ContainedFile {
  const bad = badReference(ref);
  if (bad) throw fail(bad);
  let root: string;
  let target: string;
  try {
    root = realpathSync(dir);
    target = realpathSync(join(root, ref));
  } catch (e) {
    throw fail({ notRegular: false, reason: errnoReason(e) });
  }
  if (!inside(root, target)) throw fail({ notRegular: false, outside: true, reason: 'a file outside the folder (through a symbolic link)' });
  let fd: number;
  try {
    fd = openSync(target, OPEN_FLAGS | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    throw fail({ notRegular: (e as NodeJS.ErrnoException).code === 'ELOOP', reason: errnoReason(e) });
  }
  let stats;
  try {
    stats = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw fail({ notRegular: false, reason: errnoReason(e) });
  }
  if (!stats.isFile()) {
    closeSync(fd);
    throw fail({ notRegular: true, reason: NOT_REGULAR });
  }
  const size = stats.size;
  return {
    size,
    read(offset, length) {
      const buf = new Uint8Array(length);
      let done = 0;
      try {
        while (done < length) {
          const r = readSync(fd, buf, done, length - done, offset + done);
          if (r <= 0) break;
          done += r;
        }
      } catch (e) {
        throw fail({ notRegular: false, reason: errnoReason(e) });
      }
      return done === length ? buf : buf.subarray(0, done);
    },
    close() {
      closeSync(fd);
    },
  };
}
