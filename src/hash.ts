/**
 * SHA-256 fingerprints of weights and data, for report provenance.
 * @module
 */
import { createHash } from 'node:crypto';

// Tensors are hashed in digest.ts, which needs no Node built-ins (the core runs in browsers too).
export { sha256Tensors } from './digest.js';

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
