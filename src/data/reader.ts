/**
 * Reading data files a range at a time without hanging: a plain file by offset, a gzip file by inflating it
 * sequentially behind a cursor (re-inflating from the start when a read goes backwards). Nothing is allocated
 * beyond the bytes that actually arrive, so a header that lies about its size cannot make a read allocate more
 * than the file holds.
 * @internal
 * @module
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataLoadError } from '../errors.js';

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** Compressed bytes read from a gzip file at a time, and the inflater's output chunk size. */
const GZIP_CHUNK = 1 << 16;

/** A file name safe to quote on one line: as it is, or JSON-escaped when it holds control characters. */
export function quoteName(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(text) ? JSON.stringify(text) : text;
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code ?? quoteName(e instanceof Error ? e.message : String(e));
}

/** A file's (inflated) bytes, read a range at a time. */
export interface ByteSource {
  /** The path, for error messages (one line). */
  readonly where: string;
  /** Whether the file is gzip-compressed (its bytes are inflated on the fly). */
  readonly gzip: boolean;
  /** The size of a plain file; `undefined` for a gzip file, whose inflated size is known only by inflating it. */
  readonly size: number | undefined;
  /** Bytes `[offset, offset + length)`; fewer when the (inflated) content ends first. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Whether the (inflated) content holds a byte at `offset` (so `offset` is not its end). */
  hasByteAt(offset: number): Promise<boolean>;
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * Opens a regular file for reading ranges of it, refusing pipes, sockets, devices and directories: the file is
 * opened with `O_NONBLOCK` and checked with `fstat` on the open descriptor before any read.
 *
 * @param path - the file.
 * @throws {@link DataLoadError} when it cannot be opened or is not a regular file.
 */
export async function openBytes(path: string): Promise<ByteSource> {
  const where = quoteName(String(path));
  if (typeof path !== 'string' || path === '') throw new DataLoadError(`data file: expected a path, got ${JSON.stringify(path) ?? String(path)}`);
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    throw new DataLoadError(`${where}: expected a readable file, got ${reason(e)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DataLoadError(`${where}: expected a regular file, got a directory, pipe, socket or device`);
    const magic = new Uint8Array(2);
    const { bytesRead } = await fh.read(magic, 0, 2, 0);
    if (bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) return new GzipSource(fh, where);
    return new PlainSource(fh, where, st.size);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof DataLoadError) throw e;
    throw new DataLoadError(`${where}: expected a readable file, got ${reason(e)}`);
  }
}

class PlainSource implements ByteSource {
  readonly gzip = false;
  private closed = false;
  constructor(
    private readonly fh: FileHandle,
    readonly where: string,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new DataLoadError(`${this.where}: expected an open file, got one already closed`);
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = new Uint8Array(n);
    let done = 0;
    try {
      while (done < n) {
        const { bytesRead } = await this.fh.read(buf, done, n - done, offset + done);
        if (bytesRead <= 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw new DataLoadError(`${this.where}: expected a readable file, got ${reason(e)}`);
    }
    return done === n ? buf : buf.subarray(0, done);
  }

  async hasByteAt(offset: number): Promise<boolean> {
    return (await this.read(offset, 1)).length === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

class GzipSource implements ByteSource {
  readonly gzip = true;
  readonly size = undefined;
  private closed = false;
  /** Inflated offset of `chunk[0]`. */
  private pos = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private stream: Readable | undefined;
  private iter: AsyncIterator<Buffer> | undefined;
  private ended = false;

  constructor(
    private readonly fh: FileHandle,
    readonly where: string,
  ) {}

  private restart(): void {
    this.stream?.destroy();
    const fh = this.fh;
    // compressed bytes read at explicit positions: nothing is shared with an earlier (destroyed) pass
    async function* compressed(): AsyncGenerator<Uint8Array> {
      for (let at = 0; ;) {
        const buf = new Uint8Array(GZIP_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, GZIP_CHUNK, at);
        if (bytesRead <= 0) return;
        at += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    }
    const file = Readable.from(compressed(), { objectMode: false });
    const gunzip = createGunzip({ chunkSize: GZIP_CHUNK });
    // pipeline forwards a read error of the file into the inflater, where the iterator sees it
    pipeline(file, gunzip, () => undefined);
    this.stream = gunzip;
    this.iter = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.pos = 0;
    this.chunk = new Uint8Array(0);
    this.ended = false;
  }

  /** Moves the cursor to the next inflated chunk; false at the end of the stream. */
  private async advance(): Promise<boolean> {
    if (this.ended) return false;
    if (!this.iter) this.restart();
    let r: IteratorResult<Buffer>;
    try {
      r = await this.iter!.next();
    } catch (e) {
      this.ended = true;
      throw new DataLoadError(`${this.where}: expected a valid gzip stream, got ${reason(e)}`);
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.pos += this.chunk.length;
    this.chunk = new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    return true;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new DataLoadError(`${this.where}: expected an open file, got one already closed`);
    if (offset < this.pos || !this.iter) this.restart();
    const parts: Uint8Array[] = [];
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const chunkEnd = this.pos + this.chunk.length;
      if (at < chunkEnd) {
        const from = at - this.pos;
        const n = Math.min(end - at, this.chunk.length - from);
        parts.push(this.chunk.subarray(from, from + n));
        at += n;
        continue;
      }
      if (!(await this.advance())) break;
    }
    if (parts.length === 1) return parts[0]!.slice();
    const out = new Uint8Array(at - offset);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  async hasByteAt(offset: number): Promise<boolean> {
    return (await this.read(offset, 1)).length === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream?.destroy();
    await this.fh.close();
  }
}
