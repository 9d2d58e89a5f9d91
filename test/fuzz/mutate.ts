// Structured mutations shared by the fuzz targets: byte edits (truncation, bit flips, overwritten and inserted
// bytes, lying big-endian integers), hostile values for JSON and protobuf fields, and hostile file-system
// entries (symlinks out of the folder, FIFOs, directories, loops, sparse giants) in place of a referenced file.
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Numbers that break naive size arithmetic. */
export const HOSTILE_NUMBERS = [0, -1, 1, 2, 3, 255, 65535, 3e4, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 9e8, 2 ** 53, 1e308, -(2 ** 31)] as const;

/** One byte-level edit; positions are fractions of the length so that one recipe fits every file. */
export type ByteEdit =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  | { op: 'be32'; at: number; value: number }
  | { op: 'head'; index: number; value: number };

const frac = fc.double({ min: 0, max: 1, noNaN: true });

/** Byte edits biased towards the start of a file, where the headers are. */
export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: frac }),
  fc.record({ op: fc.constant('flip' as const), at: frac, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: frac, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: frac, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: frac, length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('be32' as const), at: fc.double({ min: 0, max: 0.05, noNaN: true }), value: fc.constantFrom(...HOSTILE_NUMBERS) }),
  fc.record({ op: fc.constant('head' as const), index: fc.integer({ min: 0, max: 40 }), value: fc.integer({ min: 0, max: 255 }) }),
);

/** Applies edits in order. */
export function applyBytes(input: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b = Uint8Array.from(input);
  for (const e of edits) {
    const pos = (at: number): number => Math.min(b.length, Math.floor(at * b.length));
    switch (e.op) {
      case 'truncate':
        b = b.slice(0, pos(e.at));
        break;
      case 'flip':
        if (b.length > 0) b[Math.min(b.length - 1, pos(e.at))]! ^= 1 << e.bit;
        break;
      case 'set':
        if (b.length > 0) b[Math.min(b.length - 1, pos(e.at))] = e.value;
        break;
      case 'head':
        if (e.index < b.length) b[e.index] = e.value;
        break;
      case 'insert': {
        const p = pos(e.at);
        b = Uint8Array.from([...b.subarray(0, p), ...e.bytes, ...b.subarray(p)]);
        break;
      }
      case 'delete': {
        const p = pos(e.at);
        b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + e.length)]);
        break;
      }
      case 'be32': {
        const p = Math.floor((e.at * b.length) / 4) * 4;
        if (p + 4 <= b.length) new DataView(b.buffer).setUint32(p, e.value >>> 0, false);
        break;
      }
    }
  }
  return b;
}

/** What replaces a file that another file references (or the file a loader is pointed at). */
export type FsHostility = 'symlink-out' | 'symlink-dir-out' | 'fifo' | 'directory' | 'loop' | 'missing' | 'sparse-giant' | 'symlink-in';

export const fsHostility: fc.Arbitrary<FsHostility> = fc.constantFrom(
  'symlink-out',
  'symlink-dir-out',
  'fifo',
  'directory',
  'loop',
  'missing',
  'sparse-giant',
  'symlink-in',
);

/**
 * Puts a hostile entry at `path` instead of `bytes` (written as a regular file when `h` is undefined).
 * `symlink-in` keeps the bytes in a sibling file and links to it (legal); `sparse-giant` is 3 GiB of holes.
 */
export function writeHostile(path: string, bytes: Uint8Array, h: FsHostility | undefined, canary: string): void {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { recursive: true, force: true });
  switch (h) {
    case undefined:
      writeFileSync(path, bytes);
      return;
    case 'symlink-out':
      symlinkSync(canary, path);
      return;
    case 'symlink-dir-out':
      // a link to the folder holding the canary, named as the file: reading it must not list or read there
      symlinkSync(dirname(canary), path);
      return;
    case 'fifo':
      execFileSync('mkfifo', [path]);
      return;
    case 'directory':
      mkdirSync(path);
      return;
    case 'loop':
      symlinkSync(`${path}.loop`, path);
      symlinkSync(path, `${path}.loop`);
      return;
    case 'missing':
      return;
    case 'sparse-giant':
      writeFileSync(path, bytes);
      execFileSync('truncate', ['-s', String(3 * 2 ** 30), path]);
      return;
    case 'symlink-in':
      writeFileSync(`${path}.real`, bytes);
      symlinkSync(`${path}.real`, path);
      return;
  }
}

/** Hostile references (file names written inside another file); `$CANARY` stands for the canary's absolute path. */
export const HOSTILE_REFS = [
  '../canary.bin',
  '$CANARY',
  'sub/../../canary.bin',
  '',
  'a\nb.bin',
  '..',
  '.',
  'weights.bin/..',
  '/dev/zero',
  'nul\u0000.bin',
] as const;

/** Hostile JSON values. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, '', 'a\nb', [], {}, [null], [-1, 3], [1], ['x'], { dtype: 'int4' }, [2 ** 31, 2 ** 31], 'float16', 'uint8', 'int64'),
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.constantFrom(...HOSTILE_REFS),
);

/** Replaces `$CANARY` in a value (deeply). */
export function withCanary(v: unknown, canary: string): unknown {
  if (v === '$CANARY') return canary;
  if (Array.isArray(v)) return v.map((x) => withCanary(x, canary));
  return v;
}

/** A JSON edit: walk by `path` (each index taken modulo the children), then delete or replace. */
export interface JsonEdit {
  readonly path: readonly number[];
  readonly action: 'delete' | 'replace';
  readonly value: unknown;
}

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  path: fc.array(fc.nat(1000), { minLength: 1, maxLength: 8 }),
  action: fc.constantFrom('delete' as const, 'replace' as const, 'replace' as const),
  value: hostileJson,
});

/** Applies a JSON edit in place to a parsed document (its root is never replaced). */
export function applyJson(doc: unknown, e: JsonEdit, canary: string): void {
  let parent: Record<string, unknown> | unknown[] | undefined;
  let key: string | number | undefined;
  let node: unknown = doc;
  for (const step of e.path) {
    if (node === null || typeof node !== 'object') break;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    parent = node as Record<string, unknown> | unknown[];
    key = keys[step % keys.length]!;
    node = (parent as Record<string | number, unknown>)[key];
  }
  if (parent === undefined || key === undefined) return;
  if (e.action === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else {
    // A copy: the generated value is shared between cases, and later edits may write inside it.
    (parent as Record<string | number, unknown>)[key] = structuredClone(withCanary(e.value, canary));
  }
}
