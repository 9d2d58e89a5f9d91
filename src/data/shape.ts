/**
 * Shape and scaling helpers shared by the data loaders.
 * @internal
 * @module
 */
import type { Bounds, Layout } from '../model.js';

/** Maps uint8 values 0..255 linearly onto `[lo, hi]` (0 → lo, 255 → hi exactly). */
export function scaleUint8(raw: Uint8Array, bounds: Bounds): Float32Array {
  const [lo, hi] = bounds;
  const out = new Float32Array(raw.length);
  const k = (hi - lo) / 255;
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] === 255 ? hi : lo + raw[i]! * k;
  return out;
}

/**
 * Decides the per-sample shape of stored data for a target shape: returns the target when the two hold the
 * same values in the same order (equal shapes, or only unit axes differ, e.g. `[28, 28]` → `[28, 28, 1]` or
 * `[1, 28, 28]`); the stored shape when no target is given; `undefined` when they are incompatible.
 */
export function fitShape(stored: readonly number[], target: readonly number[] | undefined, _layout: Layout | undefined, _where: string): number[] | undefined {
  if (!target) return [...stored];
  const squeeze = (s: readonly number[]): number[] => s.filter((d) => d !== 1);
  const a = squeeze(stored);
  const b = squeeze(target);
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) return undefined;
  return [...target];
}
