/**
 * Seeded randomness. Every random choice in robustest flows from one user seed: JS-side choices use a
 * seedrandom generator, tfjs random ops get explicit integer seeds derived from it.
 * @module
 */
import seedrandom from 'seedrandom';
import * as tf from './tf.js';
import { ConfigError, describe } from './errors.js';

/** A seeded pseudo-random generator. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** A fresh 31-bit integer seed for a tfjs random op (`tf.randomUniform(..., seed)`). */
  seed(): number;
  /** A standard normal draw (Box–Muller over two uniform draws). */
  normal(): number;
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
    normal: () => {
      // 1 - u lies in (0, 1], so the logarithm is finite.
      const u = 1 - prng();
      const v = prng();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
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
 * One generator per sample, each seeded from the seed, a path naming the part of the run (epsilon index,
 * restart, ...) and the sample's global index, so that a sample's random draws do not depend on which other
 * samples share its batch, on the batch size, or on where a run is cut into shards.
 *
 * @param seed - the run's seed.
 * @param indices - global indices of the samples, one generator each.
 * @param path - indices naming the part of the run.
 * @example
 * ```ts
 * const rngs = sampleRngs(0, [10, 11, 12], 0, 1); // epsilon #0, restart #1, samples 10..12
 * ```
 */
export function sampleRngs(seed: number | string, indices: readonly number[], ...path: number[]): Rng[] {
  const prefix = `${seed}/${path.join('/')}/sample`;
  return indices.map((i) => createRng(`${prefix}/${i}`));
}

function perSampleTensor(rngs: readonly Rng[], sampleShape: readonly number[], draw: (rng: Rng) => number): tf.Tensor {
  const d = sampleShape.reduce((a, b) => a * b, 1);
  const buf = new Float32Array(rngs.length * d);
  rngs.forEach((rng, i) => {
    for (let j = 0; j < d; j++) buf[i * d + j] = draw(rng);
  });
  return tf.tensor(buf, [rngs.length, ...sampleShape], 'float32');
}

/**
 * A batch `[N, ...sampleShape]` of uniform draws in `[lo, hi)`, row `i` drawn from `rngs[i]` (host-side, so the
 * values are the same on every backend).
 *
 * @param rngs - one generator per sample (see {@link sampleRngs}); each advances by one draw per element.
 * @param sampleShape - shape of one sample.
 * @param lo - lower end.
 * @param hi - upper end.
 * @returns a float32 tensor owned by the caller.
 * @example
 * ```ts
 * const noise = uniformPerSample(sampleRngs(0, [0, 1]), [28, 28, 1], -0.3, 0.3);
 * ```
 */
export function uniformPerSample(rngs: readonly Rng[], sampleShape: readonly number[], lo: number, hi: number): tf.Tensor {
  return perSampleTensor(rngs, sampleShape, (rng) => lo + (hi - lo) * rng.next());
}

/**
 * A batch `[N, ...sampleShape]` of standard normal draws, row `i` drawn from `rngs[i]` (host-side).
 *
 * @param rngs - one generator per sample; each advances by two draws per element.
 * @param sampleShape - shape of one sample.
 * @returns a float32 tensor owned by the caller.
 * @example
 * ```ts
 * const dir = normalPerSample(sampleRngs(0, [0, 1]), [784]);
 * ```
 */
export function normalPerSample(rngs: readonly Rng[], sampleShape: readonly number[]): tf.Tensor {
  return perSampleTensor(rngs, sampleShape, (rng) => rng.normal());
}

/**
 * Draws one random target class per sample, different from its label (for targeted attacks). The target of
 * sample `i` depends only on the seed, `i` and its label (not on the other samples), so shards and subsets of a
 * dataset get the same targets as the whole.
 *
 * @param labels - true labels.
 * @param numClasses - number of classes (>= 2).
 * @param seed - seed of the draw.
 * @param indices - global index of each sample. Default `0, 1, 2, ...`.
 * @returns targets in `[0, numClasses)`, never equal to the label.
 * @example
 * ```ts
 * const targets = randomTargets([3, 1, 4, 1, 5], 10, 0); // one target per label, never equal to it
 * ```
 */
export function randomTargets(labels: ArrayLike<number>, numClasses: number, seed: number | string, indices?: readonly number[]): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new ConfigError(`randomTargets: expected numClasses to be an integer >= 2, got ${describe(numClasses)}`);
  }
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const t = createRng(`targets/${seed}/${indices?.[i] ?? i}`).int(numClasses - 1);
    out[i] = t >= labels[i]! ? t + 1 : t;
  }
  return out;
}
