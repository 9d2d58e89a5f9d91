/**
 * Pitfall checks over an evaluation's records: findings that make its numbers unreliable, reported as warnings
 * with stable codes by `buildReport`. They read only the per-point records ({@link EvaluationState}), never the
 * model, so they run wherever a report is built (after a resume or a merge too).
 * @module
 */
import type { ReportWarning } from '../src/report.js';
import type { Attack } from '../src/runner.js';
import { OUTCOME, robustMask, type AttackCell, type EvaluationState } from './records.js';
import { warning, WARNING_CODES } from './checks.js';
import { wilsonInterval } from './accuracy.js';

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
  // Minimum-norm attacks record no loss trajectory, but their budget is unbounded: a point they never fooled is
  // one their steps ran out on.
  const seen = new Set<number>();
  for (const cell of state.cells) {
    if (!cell.minimalNorm || seen.has(cell.attack)) continue;
    seen.add(cell.attack);
    let ran = 0;
    let never = 0;
    for (let i = 0; i < state.count; i++) {
      const m = cell.minimalNorm[i]!;
      if (Number.isNaN(m)) continue;
      ran++;
      if (m === Infinity) never++;
    }
    if (ran < MIN_TRACED_SURVIVORS || never / ran <= NOT_CONVERGED_NEVER_FOOLED) continue;
    const attack = state.plan.attacks[cell.attack]!;
    out.push(
      warning(
        WARNING_CODES.notConverged,
        `${attack.name} (${cell.norm}, minimum-norm) has not converged: it never fooled ${never} of the ${ran} points it ran on ` +
          `(${((100 * never) / ran).toFixed(0)}%), although its perturbation is unbounded; its steps ran out, so its robust ` +
          'accuracy is an overestimate at every epsilon: give it more steps, or add a fixed-epsilon attack (pgd) to the evaluation',
      ),
    );
  }
  return out;
}

/**
 * The share of the points a minimum-norm attack ran on that it never fooled above which it counts as not converged:
 * its perturbation is unbounded, so on a model that is not masking gradients it fools (nearly) every point.
 */
export const NOT_CONVERGED_NEVER_FOOLED = 0.1;

const stepsOf = (a: Pick<Attack, 'config'>): number => (typeof a.config['steps'] === 'number' ? a.config['steps'] : 1);

/**
 * Whether an attack is a single-step gradient attack (FGSM, FGM): fixed-epsilon, gradients, no `steps` above 1 in
 * its config.
 *
 * @param a - an attack.
 * @example
 * ```ts
 * isSingleStepAttack(fgsm()); // true
 * ```
 */
export function isSingleStepAttack(a: Attack): boolean {
  return a.kind === 'fixed-epsilon' && a.requires === 'gradients' && stepsOf(a) <= 1;
}

/**
 * Whether an attack is an iterative gradient attack (PGD, BIM, APGD, MI-FGSM): fixed-epsilon, gradients, `steps`
 * above 1 in its config.
 *
 * @param a - an attack.
 * @example
 * ```ts
 * isIterativeAttack(pgd()); // true
 * ```
 */
export function isIterativeAttack(a: Attack): boolean {
  return a.kind === 'fixed-epsilon' && a.requires === 'gradients' && stepsOf(a) > 1;
}

/**
 * The share of the points a single-step attack fooled (among those the iterative attack ran on) that the iterative
 * attack must have survived for `iterative-weaker-than-single-step` to fire; at least
 * {@link ITERATIVE_WEAKER_MIN_POINTS} points too.
 */
export const ITERATIVE_WEAKER_SHARE = 0.1;
/** Fewest such points for `iterative-weaker-than-single-step`. */
export const ITERATIVE_WEAKER_MIN_POINTS = 2;

/**
 * Iterative attack weaker than single-step: per iterative fixed-epsilon gradient attack (PGD, BIM, APGD: a `steps`
 * above 1 in its config) and single-step one (FGSM, FGM) of the same norm and epsilon, the points the single step
 * fooled and the iterative attack ran on and survived. More than {@link ITERATIVE_WEAKER_SHARE} of the single step's
 * successes there (and at least {@link ITERATIVE_WEAKER_MIN_POINTS}) means the iterative attack is broken for this
 * model (steps too small or too few, a loss that saturates, gradients that mislead locally: gradient masking), so its
 * robust accuracy is an overestimate.
 *
 * When it can speak: the iterative attack must run on points the single step fooled. Without the cascade
 * (`cascade: false`, `--no-cascade`) every attack runs on every clean-correct point; with `thorough`
 * (`--thorough`) a cascade's iterative attacks also run, as configured, on the points a single-step attack fooled
 * before them (the `iterative-check` supplementary runs), and their outcomes there count. Otherwise, in the cascade,
 * only when the iterative attack runs before the single step (FGSM after PGD runs on PGD's survivors); with the
 * usual order (FGSM, then PGD on FGSM's survivors) the cascade never gives PGD a point FGSM fooled, and the check is
 * silent.
 *
 * @param state - the evaluation's records.
 * @returns one warning per iterative attack, single-step attack and epsilon that trips it.
 * @example
 * ```ts
 * const w = iterativeWeakerChecks(state).map((x) => x.message);
 * ```
 */
export function iterativeWeakerChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  const { attacks } = state.plan;
  for (const it of state.cells) {
    if (!isIterativeAttack(attacks[it.attack]!)) continue;
    // The iterative attack's outcome per point: its own cell, else its iterative-check run (thorough, cascade).
    const outcome = Uint8Array.from(it.outcome);
    for (const run of state.supplementary ?? []) {
      if (run.purpose !== 'iterative-check' || run.of !== it.attack) continue;
      for (const c of run.cells) {
        if (c.norm !== it.norm || c.epsilon !== it.epsilon) continue;
        for (let i = 0; i < state.count; i++) if (outcome[i] === OUTCOME.notAttacked) outcome[i] = c.outcome[i]!;
      }
    }
    for (const single of state.cells) {
      if (single.norm !== it.norm || single.epsilon !== it.epsilon || !isSingleStepAttack(attacks[single.attack]!)) continue;
      let both = 0;
      let missed = 0;
      for (let i = 0; i < state.count; i++) {
        if (single.outcome[i] !== OUTCOME.fooled || outcome[i] === OUTCOME.notAttacked) continue;
        both++;
        if (outcome[i] === OUTCOME.survived) missed++;
      }
      if (missed < ITERATIVE_WEAKER_MIN_POINTS || missed <= ITERATIVE_WEAKER_SHARE * both) continue;
      out.push(
        warning(
          WARNING_CODES.iterativeWeakerThanSingleStep,
          `${attacks[it.attack]!.name} at ε=${it.epsilon} (${it.norm}) survived ${missed} of the ${both} points the single-step ` +
            `${attacks[single.attack]!.name} fooled at the same ε: an iterative attack should be at least as strong as one step. ` +
            'Its steps are too small or too few, or the loss surface misleads it locally (gradient masking), so its robust accuracy ' +
            'is an overestimate: check its step size (pgd defaults to 2.5·ε/steps), use more steps, or apgd',
        ),
      );
    }
  }
  return out;
}

/**
 * The share of all samples a query attack must fool beyond the gradient attacks for `black-box-beats-white-box`
 * (AutoAttack's `check_square_sr` uses the same 0.2%): a single point on fewer than 500 samples.
 */
export const BLACK_BOX_BEATS_WHITE_BOX_SHARE = 0.002;

/**
 * Black-box beats white-box: per query attack (`requires === 'queries'`: random search, Square, HopSkipJump) and
 * epsilon, the points it fooled that at least one gradient attack of the same norm and epsilon ran on and every one
 * that ran on them failed. A gradient-free search finding what the gradients missed is the signature of gradient
 * masking: the gradient attacks' numbers are overestimates. Fires when those points are more than
 * {@link BLACK_BOX_BEATS_WHITE_BOX_SHARE} of the samples.
 *
 * When it can speak: the query attack must run on points the gradient attacks failed on, which the cascade gives it
 * when it runs after them (its usual place, as in AutoAttack), and which `cascade: false` always does.
 *
 * @param state - the evaluation's records.
 * @returns one warning per query attack and epsilon that trips it.
 * @example
 * ```ts
 * if (blackBoxBeatsWhiteBoxChecks(state).length > 0) console.log('gradient masking?');
 * ```
 */
export function blackBoxBeatsWhiteBoxChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  const { attacks } = state.plan;
  for (const q of state.cells) {
    if (attacks[q.attack]!.requires !== 'queries') continue;
    const grads = state.cells.filter((c) => c.norm === q.norm && c.epsilon === q.epsilon && attacks[c.attack]!.requires === 'gradients');
    if (grads.length === 0) continue;
    let beaten = 0;
    for (let i = 0; i < state.count; i++) {
      if (q.outcome[i] !== OUTCOME.fooled) continue;
      const ran = grads.filter((g) => g.outcome[i] !== OUTCOME.notAttacked);
      if (ran.length > 0 && ran.every((g) => g.outcome[i] === OUTCOME.survived)) beaten++;
    }
    if (beaten === 0 || beaten <= BLACK_BOX_BEATS_WHITE_BOX_SHARE * state.count) continue;
    const gradNames = [...new Set(grads.map((g) => attacks[g.attack]!.name))].join(', ');
    out.push(
      warning(
        WARNING_CODES.blackBoxBeatsWhiteBox,
        `the black-box ${attacks[q.attack]!.name} at ε=${q.epsilon} (${q.norm}) fooled ${beaten} point${beaten === 1 ? '' : 's'} that the gradient ` +
          `attacks (${gradNames}) ran on and failed: a search without gradients beating the gradients is the signature of gradient masking ` +
          '(non-differentiable or saturating layers, shattered or obfuscated gradients), so the gradient attacks overstate robustness. ' +
          'Trust the worst case over all attacks (the curve), attack through the masking (BPDA for non-differentiable steps, EOT for ' +
          'randomness) and give the black-box attack more queries',
      ),
    );
  }
  return out;
}

function tally(cell: AttackCell, n: number): { attacked: number; survived: number } {
  let attacked = 0;
  let survived = 0;
  for (let i = 0; i < n; i++) {
    const o = cell.outcome[i];
    if (o === OUTCOME.notAttacked) continue;
    attacked++;
    if (o === OUTCOME.survived) survived++;
  }
  return { attacked, survived };
}

/**
 * Unbounded attack: on every evaluation of a differentiable model, PGD without random start at ε = the bounds' width
 * (L∞: every input in the box is reachable) ran on up to 100 clean-correct points (`metrics/supplementary.ts`); on a model that does not mask its gradients it fools
 * (nearly) all of them. Fires when the share it left classified correctly is above chance (`1 / numClasses`): the
 * gradients do not lead anywhere, so every gradient attack's number is an overestimate.
 *
 * @param state - the evaluation's records, with the `unbounded` supplementary run.
 * @returns zero or one warning.
 * @example
 * ```ts
 * const w = unboundedAttackChecks(state);
 * ```
 */
export function unboundedAttackChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  for (const run of state.supplementary ?? []) {
    if (run.purpose !== 'unbounded') continue;
    for (const cell of run.cells) {
      const { attacked, survived } = tally(cell, state.count);
      const chance = run.chance ?? 0;
      if (attacked === 0 || survived / attacked <= chance) continue;
      out.push(
        warning(
          WARNING_CODES.unboundedAttackFails,
          `${run.attack.name} with ε=${cell.epsilon} (${cell.norm}), the whole input range, left ${survived} of ${attacked} clean-correct points ` +
            `(${((100 * survived) / attacked).toFixed(1)}%) classified correctly, above chance (${(100 * chance).toFixed(1)}%): with an unbounded ` +
            "budget any input can be turned into another class's, so the gradients are not leading the attacks (gradient masking), and every " +
            "gradient attack's robust accuracy is an overestimate. Cross-check with random-search and attack through the masking (BPDA, EOT)",
        ),
      );
    }
  }
  return out;
}

/**
 * Restarts matter: with `thorough`, every iterative gradient attack ran again with twice the steps and more
 * restarts on the points still robust at each norm and epsilon. Fires where the robust accuracy after that run is
 * below the lower end of the reported confidence interval: the reported number is not the worst case the attacks
 * can reach.
 *
 * @param state - the evaluation's records, with the `thorough` supplementary runs.
 * @returns one warning per norm and epsilon that trips it.
 * @example
 * ```ts
 * const w = restartsMatterChecks(state);
 * ```
 */
export function restartsMatterChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  const runs = (state.supplementary ?? []).filter((r) => r.purpose === 'thorough');
  if (runs.length === 0) return out;
  const pct = (k: number): string => `${((100 * k) / state.count).toFixed(1)}%`;
  for (const norm of state.plan.norms) {
    for (const epsilon of state.plan.epsilons[norm] ?? []) {
      const robust = robustMask(state, norm, epsilon);
      const before = robust.filter(Boolean).length;
      const names = new Set<string>();
      for (const run of runs) {
        for (const cell of run.cells) {
          if (cell.norm !== norm || cell.epsilon !== epsilon) continue;
          for (let i = 0; i < state.count; i++) {
            if (robust[i] && cell.outcome[i] === OUTCOME.fooled) {
              robust[i] = false;
              names.add(run.attack.name);
            }
          }
        }
      }
      const after = robust.filter(Boolean).length;
      const ci = wilsonInterval(before, state.count, state.plan.ciLevel);
      if (after / state.count >= ci.lower) continue;
      out.push(
        warning(
          WARNING_CODES.restartsMatter,
          `at ε=${epsilon} (${norm}), re-running ${[...names].join(', ')} with more steps and restarts took robust accuracy from ${pct(before)} ` +
            `to ${pct(after)}, below its ${Math.round(100 * state.plan.ciLevel)}% confidence interval [${pct(ci.lower * state.count)}, ` +
            `${pct(ci.upper * state.count)}]: the attacks had not found the worst case, so the reported number is an overestimate. Use more ` +
            'steps and restarts (--steps, --restarts), or apgd',
        ),
      );
    }
  }
  return out;
}

/**
 * Transfer beats white-box: with a surrogate model (`evaluate(..., { surrogate })`, `--surrogate`), each gradient
 * attack of the plan also ran on every clean-correct point with the surrogate's gradients (its candidates judged on
 * the model). Fires, per attack and epsilon, when those transferred examples fooled more of the points the
 * white-box attack ran on than the white-box attack itself did: the model's own gradients are worse guides than
 * another model's, a sign of gradient masking.
 *
 * @param state - the evaluation's records, with the `transfer` supplementary runs.
 * @returns one warning per attack and epsilon that trips it.
 * @example
 * ```ts
 * const w = transferChecks(state);
 * ```
 */
export function transferChecks(state: EvaluationState): ReportWarning[] {
  const out: ReportWarning[] = [];
  for (const run of state.supplementary ?? []) {
    if (run.purpose !== 'transfer' || run.of === undefined) continue;
    for (const t of run.cells) {
      const white = state.cells.find((c) => c.attack === run.of && c.norm === t.norm && c.epsilon === t.epsilon);
      if (!white) continue;
      let attacked = 0;
      let whiteFooled = 0;
      let transferFooled = 0;
      for (let i = 0; i < state.count; i++) {
        if (white.outcome[i] === OUTCOME.notAttacked) continue;
        attacked++;
        if (white.outcome[i] === OUTCOME.fooled) whiteFooled++;
        if (t.outcome[i] === OUTCOME.fooled) transferFooled++;
      }
      if (transferFooled <= whiteFooled) continue;
      out.push(
        warning(
          WARNING_CODES.transferBeatsWhiteBox,
          `${run.attack.name} at ε=${t.epsilon} (${t.norm}) on the surrogate ${run.surrogate ?? 'model'}'s gradients fooled ${transferFooled} of the ` +
            `${attacked} points the white-box ${run.attack.name} ran on, which fooled only ${whiteFooled}: another model's gradients guide the ` +
            "attack better than the model's own, a sign of gradient masking, so the white-box robust accuracy is an overestimate. " +
            'Attack through the masking (BPDA for non-differentiable steps, EOT for randomness) and trust the worst case',
        ),
      );
    }
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
  return [
    ...notConvergedChecks(state),
    ...iterativeWeakerChecks(state),
    ...blackBoxBeatsWhiteBoxChecks(state),
    ...unboundedAttackChecks(state),
    ...restartsMatterChecks(state),
    ...transferChecks(state),
  ];
}
