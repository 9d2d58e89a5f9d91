/**
 * Pitfall checks over an evaluation's records: findings that make its numbers unreliable, reported as warnings
 * with stable codes by `buildReport`. They read only the per-point records ({@link EvaluationState}), never the
 * model, so they run wherever a report is built (after a resume or a merge too).
 * @module
 */
import type { ReportWarning } from '../src/report.js';
import { OUTCOME, type EvaluationState } from './records.js';
import { warning, WARNING_CODES } from './checks.js';

/**
 * The median late rise above which an attack counts as not converged: over its last quarter of steps the loss of
 * the median surviving point still rose by more than a fifth of its whole rise (a loss climbing linearly gives a
 * quarter). Measured on the bundled MNIST CNN at L∞ ε = 0.1 (first 200 sample images, wasm, 2026-12-03): PGD-40
 * 0.14; PGD-10 0.30, BIM-10 0.35 and PGD-5 0.27 (each fools fewer points than PGD-40: 91, 87 and 110 survivors
 * against 83); PGD-100 with a step of 0.005·ε 0.59 and PGD-20 with 0.002·ε 0.30.
 */
export const NOT_CONVERGED_MEDIAN_RISE = 0.2;

/** Fewest surviving points with a loss trajectory for the convergence check to speak. */
const MIN_TRACED_SURVIVORS = 5;

function median(sorted: readonly number[]): number {
  const m = (sorted.length - 1) / 2;
  return (sorted[Math.floor(m)]! + sorted[Math.ceil(m)]!) / 2;
}

/**
 * Not converged: per attack and epsilon, over the points the attack ran on and did not fool, the median of
 * `lateLossRise` (how much the loss still rose over the attack's last quarter of steps, relative to its whole
 * rise) above {@link NOT_CONVERGED_MEDIAN_RISE}: more steps (or a larger step size, or APGD's schedule) would likely
 * fool more points, so robust accuracy is overestimated.
 *
 * @param state - the evaluation's records.
 * @returns one `not-converged` warning per attack and epsilon that trips it.
 * @example
 * ```ts
 * for (const w of notConvergedChecks(state)) console.log(w.code, w.message);
 * ```
 */
export function notConvergedChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  for (const cell of state.cells) {
    if (!cell.lateLossRise) continue;
    const rises: number[] = [];
    for (let i = 0; i < state.count; i++) {
      const r = cell.lateLossRise[i]!;
      if (cell.outcome[i] === OUTCOME.survived && Number.isFinite(r)) rises.push(r);
    }
    if (rises.length < MIN_TRACED_SURVIVORS) continue;
    rises.sort((a, b) => a - b);
    const m = median(rises);
    if (m <= NOT_CONVERGED_MEDIAN_RISE) continue;
    const attack = state.plan.attacks[cell.attack]!;
    out.push(
      warning(
        WARNING_CODES.notConverged,
        `${attack.name} at ε=${cell.epsilon} (${cell.norm}) has not converged: on the median of the ${rises.length} points it did not fool, ` +
          `its loss still rose by ${(100 * m).toFixed(0)}% of its whole rise over the last quarter of its steps; ` +
          'more steps, a larger step size or APGD would likely fool more, so this robust accuracy is an overestimate',
      ),
    );
  }
  return out;
}

/**
 * Every pitfall check over the records, in a fixed order. `buildReport` adds their warnings to the report.
 *
 * @param state - the evaluation's records.
 * @returns the warnings found (empty when nothing looks unreliable).
 * @example
 * ```ts
 * const codes = evaluationChecks(state).map((w) => w.code);
 * ```
 */
export function evaluationChecks(state: EvaluationState): ReportWarning[] {
  return [...notConvergedChecks(state)];
}
