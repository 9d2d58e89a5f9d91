/**
 * Small exact tests for comparing proportions. Pure functions, no dependencies (they run in a browser too).
 * @module
 */
import { ConfigError } from './errors.js';

/** `log(exp(a) + exp(b))` without overflow. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/**
 * The exact two-sided McNemar test for two paired proportions measured on the same points: of the points whose
 * outcome differs between the two measurements, `onlyA` are positive (robust) only in the first and `onlyB` only in
 * the second. Under the null hypothesis (equal proportions) each such discordant point is equally likely either
 * way, so `onlyA ~ Binomial(onlyA + onlyB, 1/2)`; the p-value is twice the smaller tail, capped at 1. Points with the
 * same outcome in both carry no information and are not needed.
 *
 * Reference: Q. McNemar, "Note on the sampling error of the difference between correlated proportions or
 * percentages", Psychometrika 12 (1947); the exact (binomial) form as in Fagerland, Lydersen and Laake, BMC Medical
 * Research Methodology 13:91 (2013).
 *
 * @param onlyA - discordant points positive only in the first measurement; a non-negative integer.
 * @param onlyB - discordant points positive only in the second; a non-negative integer.
 * @returns the two-sided p-value in `(0, 1]`; `1` when there is no discordant point.
 * @throws {@link ConfigError} when a count is not a non-negative integer.
 * @example
 * ```ts
 * import { mcnemarExact } from 'robustest';
 * mcnemarExact(10, 0); // 0.001953125: ten points lost robustness, none gained it
 * mcnemarExact(3, 2); // 1
 * ```
 */
export function mcnemarExact(onlyA: number, onlyB: number): number {
  for (const [name, v] of [
    ['onlyA', onlyA],
    ['onlyB', onlyB],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`mcnemarExact: expected ${name} to be a non-negative integer, got ${String(v)}`);
  }
  const d = onlyA + onlyB;
  if (d === 0) return 1;
  const m = Math.min(onlyA, onlyB);
  // log P(X = k) = log C(d, k) − d log 2, with C(d, k + 1) = C(d, k) (d − k) / (k + 1).
  let logC = 0;
  let tail = -Infinity;
  for (let k = 0; k <= m; k++) {
    tail = logAdd(tail, logC);
    logC += Math.log(d - k) - Math.log(k + 1);
  }
  const p = 2 * Math.exp(tail - d * Math.LN2);
  return p > 1 - 1e-12 ? 1 : p; // the two tails overlap at the centre; rounding can leave 1 − ε
}
