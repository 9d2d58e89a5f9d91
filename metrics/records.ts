/**
 * The records of an evaluation: its resolved plan and, per attack and epsilon, one {@link AttackCell} of per-point
 * outcomes, as {@link EvaluationState}. Plain data (typed arrays, no tensors): what a later step saves, resumes,
 * merges or checks. Produced by `cleanPass` and `attackPhase` (`metrics/evaluate.ts`).
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import type { ReportWarning } from '../src/report.js';

/** The resolved configuration of an evaluation: everything its outcome depends on besides the model and data. */
export interface EvaluationPlan {
  /** The attacks, in order. */
  readonly attacks: readonly Attack[];
  /** The norms of the attacks, in the order their first attack runs: one robustness curve each. */
  readonly norms: readonly Norm[];
  /** The radii of each norm in {@link EvaluationPlan.norms}. */
  readonly epsilons: Readonly<Partial<Record<Norm, readonly number[]>>>;
  /** The seed. */
  readonly seed: number;
  /** Inputs per batch. */
  readonly batchSize: number;
  /** Whether attacks cascade. */
  readonly cascade: boolean;
  /** The preset the attacks came from, if any. */
  readonly preset?: string;
  /** Whether the attacks are targeted. */
  readonly targeted: boolean;
  /** Confidence level of the intervals. */
  readonly ciLevel: number;
  /** Class names, if known. */
  readonly classNames?: readonly string[];
}

/** Outcome codes of {@link AttackCell.outcome}. */
export const OUTCOME = Object.freeze({
  /** The attack did not run on the point at this epsilon (clean-misclassified, or already fooled in the cascade). */
  notAttacked: 0,
  /** The attack ran and the point survived. */
  survived: 1,
  /** The attack fooled the point within epsilon. */
  fooled: 2,
} as const);

/** The per-point records of one attack at one epsilon: typed arrays with one entry per sample. */
export interface AttackCell {
  /** Index of the attack in {@link EvaluationPlan.attacks}. */
  readonly attack: number;
  /** The attack's norm. */
  readonly norm: Norm;
  /** The radius. */
  readonly epsilon: number;
  /** Per point: one of {@link OUTCOME}. */
  readonly outcome: Uint8Array;
  /** Per fooled point: the perturbation's L0 count (0 elsewhere). */
  readonly l0: Float32Array;
  /** Per fooled point: its L1 norm (0 elsewhere). */
  readonly l1: Float32Array;
  /** Per fooled point: its L2 norm (0 elsewhere). */
  readonly l2: Float32Array;
  /** Per fooled point: its L∞ norm (0 elsewhere). */
  readonly linf: Float32Array;
  /** Query attacks: per attacked point, the queries spent (0 elsewhere). */
  readonly queries?: Int32Array;
  /** Attacks that trace their loss: per attacked point, `EpsilonResult.lateLossRise` (NaN elsewhere). */
  readonly lateLossRise?: Float32Array;
  /**
   * Minimum-norm attacks: per point it ran on, the smallest successful perturbation's norm (`Infinity` where it
   * never fooled the point); `NaN` where it did not run.
   */
  readonly minimalNorm?: Float32Array;
  /** Wall-clock seconds spent. */
  seconds: number;
}

/**
 * An attack run besides the plan's, for a pitfall check (`metrics/supplementary.ts`): its cells are records like the
 * plan's but never count towards robust accuracy.
 */
export interface SupplementaryRun {
  /**
   * Why it ran: `unbounded` (PGD with ε the whole input range, on up to 100 clean-correct points), `thorough` (an
   * iterative attack again with more steps and restarts, on the points still robust), `iterative-check` (an
   * iterative attack of a cascade, as configured, on the points a single-step attack fooled before it), `transfer`
   * (the plan's gradient attack run on a surrogate's gradients, on every clean-correct point).
   */
  readonly purpose: 'unbounded' | 'thorough' | 'iterative-check' | 'transfer';
  /** The attack that ran: name, norm and full configuration. */
  readonly attack: {
    /** Attack name. */
    readonly name: string;
    /** Its norm. */
    readonly norm: Norm;
    /** Its full configuration. */
    readonly config: Readonly<Record<string, unknown>>;
  };
  /** `thorough`, `iterative-check` and `transfer`: the index in {@link EvaluationPlan.attacks} of the attack it repeats. */
  readonly of?: number;
  /** `transfer`: the surrogate model's name. */
  readonly surrogate?: string;
  /** `unbounded`: chance accuracy, `1 / numClasses`. */
  readonly chance?: number;
  /** Its records, one cell per epsilon (their `attack` field is 0). */
  readonly cells: readonly AttackCell[];
}

/** The state of an evaluation: per-point records and what the report needs besides them. */
export interface EvaluationState {
  /** The configuration. */
  readonly plan: EvaluationPlan;
  /** Number of samples (of the range the state covers; see {@link EvaluationState.offset}). */
  readonly count: number;
  /**
   * Global index of the first sample the records cover: the arrays hold samples `[offset, offset + count)` of the
   * data (a part of a run, `metrics/parts.ts`). Default `0`.
   */
  readonly offset?: number;
  /** Number of samples of the whole data (a part's range is a slice of it). Default: `count`. */
  readonly total?: number;
  /** True labels. */
  readonly labels: Int32Array;
  /** The model's clean predictions. */
  readonly predictions: Int32Array;
  /** Targets of a targeted evaluation (one per sample, seeded from its index). */
  readonly targets?: Int32Array;
  /** One cell per attack and epsilon, in the order they ran. */
  readonly cells: AttackCell[];
  /** Warnings found so far. */
  readonly warnings: ReportWarning[];
  /** Runs besides the plan's, for pitfall checks (`thorough`, a surrogate); absent when none ran. */
  supplementary?: SupplementaryRun[];
  /** The data's source and SHA-256. */
  readonly data: {
    /** Where the data came from. */
    readonly source: string;
    /** SHA-256 of inputs and labels (or `unknown:...`). */
    readonly sha256: string;
  };
  /** When the evaluation started (ISO 8601). */
  readonly startedAt: string;
}

/**
 * Per point, whether it is still robust at `epsilon` in `norm` after the cells recorded so far (or the first
 * `upTo` of them): classified correctly, and fooled by no attack of that norm at that epsilon.
 *
 * @param state - the evaluation state.
 * @param norm - the norm.
 * @param epsilon - the radius.
 * @param upTo - how many cells (in run order) to take into account. Default: all.
 * @example
 * ```ts
 * const robust = robustMask(state, 'linf', 0.3);
 * console.log(robust.filter(Boolean).length / state.count);
 * ```
 */
export function robustMask(state: EvaluationState, norm: Norm, epsilon: number, upTo = state.cells.length): boolean[] {
  const robust = Array.from(state.predictions, (p, i) => p === state.labels[i]);
  for (const cell of state.cells.slice(0, upTo)) {
    if (cell.norm !== norm || cell.epsilon !== epsilon) continue;
    for (let i = 0; i < state.count; i++) if (cell.outcome[i] === OUTCOME.fooled) robust[i] = false;
  }
  return robust;
}
