// Test helpers of the ONNX suites: a tiny .npy reader (float32/int32/int64, little-endian, C order) and paths.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

/** Repository root (two levels above this file). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared ONNX models, beside the clone (ROBUSTEST_SHARED_MODELS overrides it). */
export const sharedModels = process.env['ROBUSTEST_SHARED_MODELS'] ?? join(repoRoot, '..', 'shared', 'models', 'onnx');
export const haveSharedModels = existsSync(join(sharedModels, 'manifest.json'));

/** True in CI (`CI=true`): a missing fixture fails the run there instead of skipping suites. */
export const inCI = process.env['CI'] === 'true';

/**
 * Says whether a fixture the calling test file needs is present. When it is absent, outside CI the caller skips its
 * suites (and says why in their titles); in CI (`CI=true`) this also registers a failing test in the calling file
 * that names what is missing and how to get it, so an absent fixture cannot pass CI silently. Call it at the top
 * level of a test file, once per fixture.
 */
export function requireFixture(what: string, present: boolean, howToGet: string): boolean {
  if (!present && inCI) {
    it(`has ${what} (required in CI)`, () => {
      throw new Error(`${what} is missing: ${howToGet}. CI=true, so the suites that need it fail instead of skipping.`);
    });
  }
  return present;
}

/** {@link requireFixture} for the shared ONNX models beside the clone. */
export function requireSharedModels(): boolean {
  return requireFixture(
    `the shared ONNX models (${sharedModels})`,
    haveSharedModels,
    `expected ${join(sharedModels, 'manifest.json')}; check out the shared folder beside the repository`,
  );
}
export const SHARED_MODELS = ['mnist_cnn_trained', 'tiny_resnet_cifar', 'tiny_mobilenet_cifar', 'mlp_logsoftmax_mnist'] as const;

export interface Npy {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Reads a .npy file (version 1/2/3 header; <f4, <i4 and <i8 data). */
export function readNpy(path: string): Npy {
  const b = readFileSync(path);
  if (b.readUInt8(0) !== 0x93 || b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = b.readUInt8(6);
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order not supported`);
  const count = shape.reduce((a, c) => a * c, 1);
  const body = new Uint8Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  const view = new DataView(body.buffer);
  if (descr === '<f4') return { shape, data: Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true)) };
  if (descr === '<i4') return { shape, data: Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true)) };
  if (descr === '<i8') return { shape, data: Int32Array.from({ length: count }, (_, i) => Number(view.getBigInt64(8 * i, true))) };
  throw new Error(`${path}: unsupported dtype ${descr}`);
}

/** Largest absolute difference and the largest magnitude of the reference. */
export function maxErr(got: ArrayLike<number>, want: ArrayLike<number>): { abs: number; scale: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    abs = Math.max(abs, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { abs, scale };
}
