/**
 * Attack runs besides the plan's, for the pitfall checks that need more than the plan's records
 * (`metrics/pitfalls.ts`): always (it is cheap), an unbounded PGD on a slice of the points; with `thorough`, the
 * iterative attacks again with more steps and restarts; with a surrogate model, the plan's gradient attacks on the
 * surrogate's gradients.
 * Each run goes through the evaluation's attack phase on a derived state, so its records are cells like the plan's, stored in
 * {@link EvaluationState.supplementary}; they never count towards robust accuracy.
 * @module
 */
import type { DifferentiableModel, Model } from '../src/model.js';
import type { Attack } from '../src/runner.js';
import { ConfigError, describe } from '../src/errors.js';
import { pgd } from '../attacks/pgd.js';
import { ATTACKS, createAttack } from '../attacks/registry.js';
import { OUTCOME, type AttackCell, type EvaluationPlan, type EvaluationState, type SupplementaryRun } from './records.js';
import { isIterativeAttack, isSingleStepAttack } from './pitfalls.js';

/**
 * The evaluation's attack phase (`attackPhase` of `metrics/evaluate.ts`, which calls {@link supplementaryRuns}: passed
 * in rather than imported, so the two modules do not import each other).
 */
export type AttackPhase<D> = (model: Model, data: D, state: EvaluationState) => Promise<void>;

/** Options of {@link supplementaryRuns}. */
export interface SupplementaryOptions {
  /**
   * Run PGD with ε the whole input range on the clean-correct ones of {@link UNBOUNDED_POINTS} evenly spread samples (check
   * `unbounded-attack-fails`; differentiable models only). Default `true`: it costs about 1.5 s on the bundled MNIST
   * CNN (wasm), where early stop ends it after a few steps, and at most 20 gradient steps on 100 points anywhere.
   */
  unbounded?: boolean;
  /**
   * Run the iterative attacks again with more steps and restarts (check `restarts-matter`), and in a cascade on the
   * points a single step fooled before them (check `iterative-weaker-than-single-step`). Default `false`.
   */
  thorough?: boolean;
  /** A surrogate model whose gradients the plan's gradient attacks also follow (check `transfer-beats-white-box`). */
  surrogate?: DifferentiableModel;
}

/**
 * Samples the unbounded attack runs on (on the clean-correct ones among them): 100 keeps it near one batch's cost.
 * They are spread evenly over the data by global index ({@link isUnboundedSample}), so that every part of a run
 * (checkpointed chunks, shards, queue jobs) picks the same ones and merged records equal a single run's.
 */
export const UNBOUNDED_POINTS = 100;

/**
 * Whether the sample of global index `index` among `count` is one of the {@link UNBOUNDED_POINTS} samples of the
 * unbounded attack: `floor(k · count / K)` for `k = 0 … K − 1`, `K = min(UNBOUNDED_POINTS, count)` (every sample
 * when there are at most 100).
 *
 * @param index - the global index, `0 ≤ index < count`.
 * @param count - the number of samples of the data.
 * @example
 * ```ts
 * isUnboundedSample(10, 1000); // true: samples 0, 10, 20, ... 990
 * ```
 */
export function isUnboundedSample(index: number, count: number): boolean {
  const k = Math.min(UNBOUNDED_POINTS, count);
  const j = Math.ceil((index * k) / count);
  return j < k && Math.floor((j * count) / k) === index;
}

/**
 * The unbounded attack: PGD without random start (a random point of the whole box is itself often misclassified,
 * which would hide masked gradients), 20 steps of 1/8 of the bounds' width: enough to cross the box twice.
 */
function unboundedAttack(): Attack {
  return pgd({ norm: 'linf', steps: 20, relStepSize: 0.125, randomStart: false, earlyStop: true });
}

/**
 * The stronger variant of an iterative attack for `thorough`: the same registered attack with twice the steps,
 * `max(5, 2 × restarts)` restarts and per-sample early stop; `undefined` for attacks that are not iterative
 * gradient attacks of the registry, or whose factory refuses these options.
 */
export function strongerAttack(attack: Attack): Attack | undefined {
  const steps = attack.config['steps'];
  if (attack.kind !== 'fixed-epsilon' || attack.requires !== 'gradients' || typeof steps !== 'number' || steps <= 1) return undefined;
  const entry = Object.prototype.hasOwnProperty.call(ATTACKS, attack.name) ? ATTACKS[attack.name] : undefined;
  if (!entry) return undefined;
  const restarts = typeof attack.config['restarts'] === 'number' ? attack.config['restarts'] : 1;
  const loss = attack.config['loss'];
  const stepSize = attack.config['stepSize'];
  try {
    return createAttack(attack.name, {
      norm: attack.norm,
      steps: 2 * steps,
      restarts: Math.max(5, 2 * restarts),
      earlyStop: true,
      ...(typeof loss === 'string' ? { loss: loss as never } : {}),
      ...(typeof stepSize === 'number' ? { stepSize } : {}),
    });
  } catch (e) {
    // A registry attack that refuses these options (a step budget it caps, say) is left out of the re-run.
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
}

/**
 * Checks that a surrogate fits the model: differentiable, same number of classes, input shape and bounds.
 *
 * @param model - the model under evaluation.
 * @param surrogate - the candidate surrogate.
 * @throws {@link ConfigError} naming what differs.
 * @example
 * ```ts
 * checkSurrogate(model, model); // a model is its own (useless) surrogate
 * ```
 */
export function checkSurrogate(model: Model, surrogate: unknown): asserts surrogate is DifferentiableModel {
  const s = surrogate as DifferentiableModel;
  if (!s || typeof s !== 'object' || s.kind !== 'differentiable' || typeof s.valueAndGrad !== 'function') {
    throw new ConfigError(`evaluate: expected surrogate to be a differentiable model, got ${describe(surrogate)}`);
  }
  if (model.kind !== 'differentiable') {
    throw new ConfigError(`evaluate: expected a differentiable model to compare with the surrogate '${s.name}', got the query-only model '${model.name}'`);
  }
  if (s.numClasses !== model.numClasses || s.inputShape.join(',') !== model.inputShape.join(',') || s.bounds.join(',') !== model.bounds.join(',')) {
    throw new ConfigError(
      `evaluate: expected the surrogate '${s.name}' to take the model's inputs (${model.numClasses} classes, shape [${model.inputShape.join(', ')}], ` +
        `bounds [${model.bounds.join(', ')}]), got ${s.numClasses} classes, shape [${s.inputShape.join(', ')}], bounds [${s.bounds.join(', ')}]`,
    );
  }
}

/**
 * The model as seen by a transfer attack: its logits (success is judged on it) with the surrogate's gradients.
 */
function transferModel(model: DifferentiableModel, surrogate: DifferentiableModel): DifferentiableModel {
  return {
    kind: 'differentiable',
    bounds: model.bounds,
    numClasses: model.numClasses,
    inputShape: model.inputShape,
    layout: model.layout,
    ...(model.preprocessing ? { preprocessing: model.preprocessing } : {}),
    name: `${model.name} (gradients of ${surrogate.name})`,
    engine: model.engine,
    warnings: [],
    fingerprint: () => model.fingerprint(),
    dispose: () => undefined,
    logits: (x) => model.logits(x),
    valueAndGrad: (x, loss) => surrogate.valueAndGrad(x, loss),
  };
}

/**
 * Runs `plan`'s attacks through `phase` on a state derived from `state`, returning only the new cells. The run keeps
 * the evaluation's targets (a targeted evaluation's runs are targeted too) unless `plan.targeted` is `false`.
 */
async function runOn<D>(
  phase: AttackPhase<D>,
  model: Model,
  data: D,
  state: EvaluationState,
  plan: Partial<EvaluationPlan>,
  predictions: Int32Array,
  keepCells: boolean,
): Promise<EvaluationState['cells']> {
  const { targets, supplementary: _supplementary, ...rest } = state;
  const targeted = plan.targeted ?? state.plan.targeted;
  const sub: EvaluationState = {
    ...rest,
    ...(targeted && targets ? { targets } : {}),
    plan: { ...state.plan, ...plan, targeted },
    predictions,
    cells: keepCells ? [...state.cells] : [],
    warnings: [],
  };
  const before = sub.cells.length;
  await phase(model, data, sub);
  return sub.cells.slice(before);
}

/**
 * Runs the supplementary attacks and appends them to `state.supplementary`:
 * - `unbounded` (default): PGD at ε = the bounds' width, without random start, with early stop, on the clean-correct
 *   points among {@link UNBOUNDED_POINTS} samples spread evenly over the data, untargeted (differentiable models only).
 * - `thorough`: every iterative gradient attack of the plan from the
 *   registry again ({@link strongerAttack}: twice the steps, at least 5 restarts) on the points still robust at each
 *   of its epsilons (targeted when the evaluation is); and in a cascade, every iterative attack as configured on the
 *   points a single-step attack of its norm fooled before it at each epsilon (`iterative-check`).
 * - `surrogate`: each fixed-epsilon gradient attack of the plan at each epsilon on every clean-correct point, its
 *   gradients from the surrogate and its success judged on the model (targeted when the evaluation is).
 *
 * Cost, measured on the bundled MNIST CNN (first 200 test images, wasm, 2 shared cores, FGSM + PGD-40 without
 * cascade at L∞ ε = 0.1 and 0.3, 2026-12-03): the attacks took 36 s (PGD 21.5 s at ε = 0.1); the unbounded run
 * 1.5 s (it fooled 100 of 100 points: early stop ends it within a few steps on a model without masking); the
 * thorough re-run of PGD (80 steps, 5 restarts) 88 s on the 84 points still robust at ε = 0.1, where it fooled 9
 * more (robust accuracy 42.0% → 37.5%, inside the 95% interval [35.4%, 48.9%]: silent), and nothing at ε = 0.3
 * (no point left). The `iterative-check` runs cost what the iterative attack costs on the points the single step
 * fooled; the transfer runs as much as the gradient attacks without the cascade.
 *
 * @param model - the model.
 * @param data - the evaluation's data.
 * @param state - after `attackPhase`; `state.supplementary` is appended to.
 * @param options - see {@link SupplementaryOptions}.
 * @param phase - the attack phase (`attackPhase`).
 * @example
 * ```ts
 * await supplementaryRuns(model, data, state, { thorough: true }, attackPhase);
 * const report = buildReport(state, { model: await modelProvenance(model) });
 * ```
 */
export async function supplementaryRuns<D>(model: Model, data: D, state: EvaluationState, options: SupplementaryOptions, phase: AttackPhase<D>): Promise<void> {
  const runs: SupplementaryRun[] = [];
  const cleanCorrect = Array.from(state.predictions, (p, i) => p === state.labels[i]);
  const info = (a: Attack) => ({ name: a.name, norm: a.norm, config: { ...a.config } });
  if ((options.unbounded ?? true) && model.kind === 'differentiable') {
    // Unbounded: only the clean-correct points among the chosen samples keep their prediction; the others read as
    // misclassified. The choice depends on the global index alone, so a part of a run makes the same one.
    const predictions = Int32Array.from(state.predictions);
    const offset = state.offset ?? 0;
    const total = state.total ?? state.count;
    let kept = 0;
    for (let i = 0; i < state.count; i++) {
      if (!cleanCorrect[i]) continue;
      if (isUnboundedSample(offset + i, total)) kept++;
      else predictions[i] = -1;
    }
    if (kept > 0) {
      const attack = unboundedAttack();
      const width = model.bounds[1] - model.bounds[0];
      const cells = await runOn(
        phase,
        model,
        data,
        state,
        { attacks: [attack], norms: ['linf'], epsilons: { linf: [width] }, cascade: false, targeted: false },
        predictions,
        false,
      );
      runs.push({ purpose: 'unbounded', attack: info(attack), chance: 1 / model.numClasses, cells });
    }
  }
  if (options.thorough && model.kind === 'differentiable') {
    for (const [ai, original] of state.plan.attacks.entries()) {
      const attack = strongerAttack(original);
      if (!attack) continue;
      const epsilons = { [attack.norm]: state.plan.epsilons[attack.norm]! };
      // The cascade over the plan's cells: it runs only on the points still robust at each epsilon.
      const cells = await runOn(phase, model, data, state, { attacks: [attack], norms: [attack.norm], epsilons, cascade: true }, state.predictions, true);
      runs.push({ purpose: 'thorough', attack: info(attack), of: ai, cells });
    }
    // In the cascade an iterative attack never sees the points a single step fooled before it: run it there (as
    // configured, per epsilon) so that iterativeWeakerChecks can compare the two.
    if (state.plan.cascade) {
      for (const [ai, attack] of state.plan.attacks.entries()) {
        if (!isIterativeAttack(attack)) continue;
        const cells: AttackCell[] = [];
        for (const epsilon of state.plan.epsilons[attack.norm]!) {
          const own = state.cells.find((c) => c.attack === ai && c.epsilon === epsilon);
          const singles = state.cells.filter((c) => c.norm === attack.norm && c.epsilon === epsilon && isSingleStepAttack(state.plan.attacks[c.attack]!));
          if (!own || singles.length === 0) continue;
          const predictions = Int32Array.from(state.predictions, (p, i) =>
            own.outcome[i] === OUTCOME.notAttacked && singles.some((c) => c.outcome[i] === OUTCOME.fooled) ? p : -1,
          );
          if (!predictions.some((p, i) => p === state.labels[i])) continue;
          const plan = { attacks: [attack], norms: [attack.norm], epsilons: { [attack.norm]: [epsilon] }, cascade: false };
          cells.push(...(await runOn(phase, model, data, state, plan, predictions, false)));
        }
        if (cells.length > 0) runs.push({ purpose: 'iterative-check', attack: info(attack), of: ai, cells });
      }
    }
  }
  if (options.surrogate !== undefined) {
    checkSurrogate(model, options.surrogate);
    const hybrid = transferModel(model as DifferentiableModel, options.surrogate);
    for (const [ai, attack] of state.plan.attacks.entries()) {
      if (attack.kind !== 'fixed-epsilon' || attack.requires !== 'gradients') continue;
      const epsilons = { [attack.norm]: state.plan.epsilons[attack.norm]! };
      const cells = await runOn(phase, hybrid, data, state, { attacks: [attack], norms: [attack.norm], epsilons, cascade: false }, state.predictions, false);
      runs.push({ purpose: 'transfer', attack: info(attack), of: ai, surrogate: options.surrogate.name, cells });
    }
  }
  if (runs.length > 0) state.supplementary = [...(state.supplementary ?? []), ...runs];
}
