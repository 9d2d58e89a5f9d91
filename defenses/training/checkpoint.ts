/**
 * The training checkpoint file of {@link adversarialTrain}: one file, so that one atomic write (temp file, fsync,
 * rename) replaces the whole state at once and an interruption at any moment leaves the previous epoch's
 * checkpoint intact. Layout: the 4 bytes `RBTC`, a little-endian uint32 header length, the UTF-8 JSON header,
 * zero padding to a multiple of 4, then the float32 payload (little-endian) of the tensors the header lists, in
 * order.
 * @internal
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/write.js';

const MAGIC = 'RBTC';

/** One tensor of the payload. @internal */
export interface StoredTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Encodes a header and float32 arrays (one per `header.tensors` entry). @internal */
export function encodeCheckpoint(header: { tensors: readonly StoredTensor[] }, arrays: readonly Float32Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = 8 + json.byteLength;
  const start = Math.ceil(headerEnd / 4) * 4;
  const floats = arrays.reduce((s, a) => s + a.length, 0);
  const bytes = new Uint8Array(start + 4 * floats);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, json.byteLength, true);
  bytes.set(json, 8);
  let offset = start;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) view.setFloat32(offset + 4 * i, a[i]!, true);
    offset += 4 * a.length;
  }
  return bytes;
}

/** Decodes {@link encodeCheckpoint}'s bytes; `where` names the file in errors. @internal */
export function decodeCheckpoint<H extends { tensors: readonly StoredTensor[] }>(bytes: Uint8Array, where: string): { header: H; arrays: Float32Array[] } {
  const bad = (got: string): ConfigError => new ConfigError(`resume: expected ${where} to be a robustest training checkpoint, got ${got}`);
  if (bytes.byteLength < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw bad('no RBTC header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(4, true);
  if (8 + length > bytes.byteLength) throw bad(`a header of ${length} bytes in a ${bytes.byteLength}-byte file`);
  let header: H;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as H;
  } catch {
    throw bad('a header that is not JSON');
  }
  if (!Array.isArray(header.tensors)) throw bad('a header without a tensor list');
  let offset = Math.ceil((8 + length) / 4) * 4;
  const arrays: Float32Array[] = [];
  for (const t of header.tensors) {
    const size = t.shape.reduce((a: number, b: number) => a * b, 1);
    if (!Number.isInteger(size) || size < 0 || offset + 4 * size > bytes.byteLength) throw bad(`a truncated payload at tensor ${JSON.stringify(t.name)}`);
    const a = new Float32Array(size);
    for (let i = 0; i < size; i++) a[i] = view.getFloat32(offset + 4 * i, true);
    arrays.push(a);
    offset += 4 * size;
  }
  if (offset !== bytes.byteLength) throw bad(`${bytes.byteLength - offset} trailing bytes`);
  return { header, arrays };
}

/** Writes a checkpoint atomically. @internal */
export async function writeCheckpoint(path: string, header: { tensors: readonly StoredTensor[] }, arrays: readonly Float32Array[]): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(header, arrays));
}

/** Reads a checkpoint, or `undefined` when the file does not exist. @internal */
export async function readCheckpoint<H extends { tensors: readonly StoredTensor[] }>(path: string): Promise<{ header: H; arrays: Float32Array[] } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`resume: expected a readable checkpoint at ${JSON.stringify(path)}, got ${(e as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  return decodeCheckpoint<H>(bytes, JSON.stringify(path));
}
