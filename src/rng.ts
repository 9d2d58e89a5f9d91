/**
 * Seeded randomness. Every random choice in robustest flows from one user seed: JS-side choices use a
 * seedrandom generator, tfjs random ops get explicit integer seeds derived from it.
 * @module
 */
import seedrandom from 'seedrandom';
import { ConfigError, describe } from './errors.js';

/** A seeded pseudo-random generator. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** A fresh 31-bit integer seed for a tfjs random op (`tf.randomUniform(..., seed)`). */
  seed(): number;
}

/**
 * Creates a seeded generator (seedrandom's `alea`, fast and reproducible across platforms).
 *
 * @param seed - any finite number or string; the same seed gives the same sequence.
 * @throws {@link ConfigError} for a non-finite number.
 * @example
 * ```ts
 * const rng = createRng(42);
 * rng.int(10); // always the same first value for seed 42
 * ```
 */
export function createRng(seed: number | string): Rng {
  if (typeof seed === 'number' && !Number.isFinite(seed)) {
    throw new ConfigError(`seed: expected a finite number or a string, got ${describe(seed)}`);
  }
  const prng = seedrandom.alea(String(seed));
  return {
    next: () => prng(),
    int: (n: number) => Math.floor(prng() * n),
    seed: () => Math.floor(prng() * 0x7fffffff),
  };
}

/**
 * Derives a sub-seed from a seed and a path of indices (epsilon index, restart, batch...), so that each part of a
 * run has its own independent stream and the result does not depend on the order parts run in.
 *
 * @param seed - the user's seed.
 * @param path - indices naming the part.
 * @returns a 31-bit integer seed.
 * @example
 * ```ts
 * const s = deriveSeed(0, 2, 1); // epsilon #2, restart #1
 * ```
 */
export function deriveSeed(seed: number | string, ...path: number[]): number {
  return createRng(`${seed}/${path.join('/')}`).seed();
}

/**
 * Draws one random target class per sample, different from its label (for targeted attacks).
 *
 * @param labels - true labels.
 * @param numClasses - number of classes (>= 2).
 * @param seed - seed of the draw.
 * @returns targets in `[0, numClasses)`, never equal to the label.
 * @example
 * ```ts
 * const targets = randomTargets(labels, 10, 0);
 * ```
 */
export function randomTargets(labels: ArrayLike<number>, numClasses: number, seed: number | string): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new ConfigError(`randomTargets: expected numClasses to be an integer >= 2, got ${describe(numClasses)}`);
  }
  const rng = createRng(`targets/${seed}`);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const t = rng.int(numClasses - 1);
    out[i] = t >= labels[i]! ? t + 1 : t;
  }
  return out;
}
