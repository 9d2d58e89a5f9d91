/**
 * SHA-256 fingerprints of weights and data, for report provenance.
 * @module
 */
import { createHash } from 'node:crypto';
import type * as tf from './tf.js';

/**
 * SHA-256 (hex) over the dtype, shape and bytes of each tensor, in order.
 * Reads every tensor to the host once; meant for provenance, not for hot loops.
 *
 * @param tensors - tensors to hash; not disposed.
 * @returns 64 lowercase hex characters.
 * @example
 * ```ts
 * const h = await sha256Tensors([tf.tensor([1, 2, 3])]);
 * ```
 */
export async function sha256Tensors(tensors: readonly tf.Tensor[]): Promise<string> {
  const h = createHash('sha256');
  for (const t of tensors) {
    h.update(`${t.dtype}[${t.shape.join(',')}]`);
    const data = await t.data();
    h.update(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

/**
 * SHA-256 (hex) of byte arrays, in order.
 *
 * @param parts - buffers or strings to hash.
 * @returns 64 lowercase hex characters.
 * @example
 * ```ts
 * sha256Bytes([await readFile('model.json')]);
 * ```
 */
export function sha256Bytes(parts: readonly (Uint8Array | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}
