/**
 * Writing files so that a crash never leaves a half-written one: {@link writeFileAtomic} writes a temporary file in
 * the same folder, flushes it to disk and renames it over the target, so a reader sees the old file or the new one,
 * never a mix; {@link checkOutputPath} refuses, before any work starts, a path that could not be written.
 * @module
 */
import { constants } from 'node:fs';
import { access, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputError } from './errors.js';

/** Escapes control characters (newlines among them) so that a quoted name keeps an error on one line. */
function quote(path: string): string {
  return JSON.stringify(path);
}

let counter = 0;

/**
 * Writes `data` to `path` atomically: a temporary file beside it (same folder, so the rename stays on one file
 * system), `fsync`, then `rename` over `path`, then a best-effort `fsync` of the folder. Creates missing folders.
 * A crash at any moment leaves either the previous file or the new one.
 *
 * @param path - the file to write.
 * @param data - its whole contents (a string is written as UTF-8).
 * @throws {@link OutputError} when the folder cannot be created or the file cannot be written (one line, naming the path).
 * @example
 * ```ts
 * import { writeFileAtomic } from 'robustest';
 * await writeFileAtomic('out/report.json', JSON.stringify({ ok: true }));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const target = resolve(path);
  const folder = dirname(target);
  const temp = join(folder, `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.${(counter++).toString(36)}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message.replace(/\s+/g, ' ');
    throw new OutputError(`write ${quote(path)}: expected a writable file, got ${code}`);
  }
  try {
    const dir = await open(folder, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename itself is atomic.
  }
}

/**
 * Checks, before any work starts, that `path` could be written by {@link writeFileAtomic}: not empty, not a
 * directory, and its nearest existing ancestor is a writable folder (not a regular file).
 *
 * @param path - the output file.
 * @param option - what names it in the error, e.g. `--json`.
 * @throws {@link OutputError} naming the option and the path when it cannot be written.
 * @example
 * ```ts
 * import { checkOutputPath } from 'robustest';
 * await checkOutputPath('out/report.json', '--json');
 * ```
 */
export async function checkOutputPath(path: string, option: string): Promise<void> {
  if (path.trim() === '') throw new OutputError(`${option}: expected a file path, got an empty string`);
  const target = resolve(path);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new OutputError(`${option}: expected a file, got the directory ${quote(path)}`);
  let folder = dirname(target);
  for (;;) {
    const s = await stat(folder).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : e));
    if (s instanceof Error) throw new OutputError(`${option}: expected a writable folder for ${quote(path)}, got ${s.code ?? s.message}`);
    if (s !== undefined) {
      if (!s.isDirectory()) throw new OutputError(`${option}: expected ${quote(folder)} to be a folder, got a file`);
      break;
    }
    const up = dirname(folder);
    if (up === folder) break;
    folder = up;
  }
  try {
    await access(folder, constants.W_OK);
    if (existing !== undefined) await access(target, constants.W_OK);
  } catch (e) {
    throw new OutputError(`${option}: expected a writable location for ${quote(path)}, got ${(e as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
}
