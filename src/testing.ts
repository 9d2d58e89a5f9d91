/**
 * Test-suite integration: assert robustness in vitest or jest.
 *
 * ```ts
 * import { expect } from 'vitest';
 * import { robustMatchers } from 'robustest/testing';
 * expect.extend(robustMatchers);
 *
 * await expect(model).toBeRobust({ data, attack: pgd({ steps: 20 }), epsilon: 0.1, minAccuracy: 0.7 });
 * await expect(model).toHaveRobustAccuracy({ data, attack: pgd({ steps: 10 }), epsilon: 0.1, atLeast: 0.3 });
 * ```
 * The failure message shows the measured robust accuracy, its confidence interval and the worst classes.
 * @module
 */
import type { Model } from './model.js';
import type { Attack } from './runner.js';
import type { Report } from './report.js';
import type { DifferentiableModel } from './model.js';
import { ConfigError, describe } from './errors.js';
import { reportVerdict } from './report-markdown.js';
import { evaluate, type EvaluateData } from '../metrics/evaluate.js';

/** What {@link checkRobustness} and `toBeRobust` assert. */
export interface RobustnessExpectation {
  /** Labelled inputs (a loaded Dataset, or `{ x, labels }`). */
  data: EvaluateData;
  /** One attack or several (the worst case over them counts). */
  attack: Attack | readonly Attack[];
  /** One radius or several; every one must meet `minAccuracy`. */
  epsilon: number | readonly number[];
  /** The lowest acceptable robust accuracy, a fraction in [0, 1]. */
  minAccuracy: number;
  /** Seed. Default `0`. */
  seed?: number;
  /** Batch size. Default `100`. */
  batchSize?: number;
  /**
   * Compare the lower end of the 95% confidence interval instead of the point estimate, so that a pass is
   * statistically meaningful on a small sample. Default `false`.
   */
  useLowerBound?: boolean;
  /**
   * Pass even when a severe pitfall check fired (gradient masking signs, attacks that did not converge: see
   * `WARNING_SEVERITY` in `metrics/checks.ts`). By default such a warning fails the assertion, since the measured
   * robust accuracy is then likely an overestimate. Default `false`.
   */
  allowWarnings?: boolean;
  /** Run the costlier checks too (the iterative attacks again with more steps and restarts). Default `false`. */
  thorough?: boolean;
  /** A surrogate model for the transfer check (see `EvaluateOptions.surrogate`). Default: none. */
  surrogate?: DifferentiableModel;
}

/** The outcome of {@link checkRobustness}. */
export interface RobustnessVerdict {
  /** Whether every epsilon met `minAccuracy` and no severe warning fired (or `allowWarnings` was set). */
  pass: boolean;
  /** A readable explanation: measured accuracy, CI, worst classes. */
  message: string;
  /** The full report. */
  report: Report;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/**
 * Evaluates `model` against `expectation` and says whether it holds. The engine behind `toBeRobust`, usable
 * without a test runner.
 *
 * @param model - the model under test.
 * @param expectation - data, attack(s), epsilon(s), minimum accuracy.
 * A severe warning (the report's verdict is UNRELIABLE) fails the check unless `allowWarnings` is set; the
 * message then says so and lists the warnings.
 *
 * @returns pass/fail, a message, and the report.
 * @throws {@link ConfigError} if `minAccuracy` is not in [0, 1]; whatever {@link evaluate} throws for bad inputs.
 * @example
 * ```ts
 * const verdict = await checkRobustness(model, { data, attack: fgsm(), epsilon: 0.1, minAccuracy: 0.5 });
 * if (!verdict.pass) throw new Error(verdict.message);
 * ```
 */
export async function checkRobustness(model: Model, expectation: RobustnessExpectation): Promise<RobustnessVerdict> {
  const min = expectation.minAccuracy;
  if (typeof min !== 'number' || !(min >= 0 && min <= 1)) {
    throw new ConfigError(`checkRobustness: expected minAccuracy to be a fraction in [0, 1], got ${describe(min)}`);
  }
  const attacks = Array.isArray(expectation.attack) ? [...(expectation.attack as readonly Attack[])] : [expectation.attack as Attack];
  const epsilons = typeof expectation.epsilon === 'number' ? [expectation.epsilon] : [...expectation.epsilon];
  const report = await evaluate(model, expectation.data, {
    attacks,
    epsilons,
    seed: expectation.seed ?? 0,
    batchSize: expectation.batchSize ?? 100,
    ...(expectation.thorough !== undefined ? { thorough: expectation.thorough } : {}),
    ...(expectation.surrogate !== undefined ? { surrogate: expectation.surrogate } : {}),
  });
  const verdict = reportVerdict(report);
  const unreliable = !verdict.reliable && expectation.allowWarnings !== true;
  const measure = (p: Report['curve'][number]): number => (expectation.useLowerBound ? p.ci.lower : p.robustAccuracy);
  const failing = report.curve.filter((p) => measure(p) < min);
  // One curve per norm: with attacks of several norms, every radius is labelled with its norm.
  const manyNorms = new Set(report.curve.map((p) => p.norm)).size > 1;
  const radius = (p: { norm: string; epsilon: number }): string => `${manyNorms ? `${p.norm === 'l2' ? 'L2' : 'L∞'} ` : ''}ε=${p.epsilon}`;
  const lines = report.curve.map((p) => {
    const ok = measure(p) >= min ? 'ok  ' : 'FAIL';
    return `  ${ok} ${radius(p)}: robust accuracy ${pct(p.robustAccuracy)} (95% CI ${pct(p.ci.lower)}–${pct(p.ci.upper)}, n=${report.count})`;
  });
  const worstPoint = failing[failing.length - 1] ?? report.curve[report.curve.length - 1] ?? { norm: 'linf', epsilon: epsilons[epsilons.length - 1]! };
  const worst = report.perClass
    .map((c) => ({ c, acc: c.robust.find((r) => r.norm === worstPoint.norm && r.epsilon === worstPoint.epsilon)?.robustAccuracy ?? 0 }))
    .sort((a, b) => a.acc - b.acc)
    .slice(0, 3)
    .map(({ c, acc }) => `${c.name ?? `class ${c.label}`} ${pct(acc)} (n=${c.count})`);
  const pass = failing.length === 0 && !unreliable;
  const under = attacks.map((a) => a.name).join('+');
  const head = pass
    ? `expected ${model.name} not to reach robust accuracy ${pct(min)} under ${under}, but it did`
    : failing.length > 0
      ? `expected ${model.name} to keep robust accuracy >= ${pct(min)}${expectation.useLowerBound ? ' (lower CI bound)' : ''} under ${under}`
      : `expected ${model.name} to keep robust accuracy >= ${pct(min)} under ${under} with a reliable evaluation, but a severe check fired ` +
        `(${verdict.line}): the number is likely an overestimate (pass allowWarnings: true to accept it)`;
  const message = [
    head,
    `  clean accuracy ${pct(report.cleanAccuracy)}`,
    ...lines,
    `  worst classes at ${radius(worstPoint)}: ${worst.join(', ')}`,
    ...report.warnings.map((w) => `  warning (${w.code}${w.severity === 'info' ? '' : ', severe'}): ${w.message}`),
    `  verdict: ${verdict.line}`,
  ].join('\n');
  return { pass, message, report };
}

/**
 * What `toHaveRobustAccuracy` asserts: the robust accuracy under `attack` at every `epsilon` is at least `atLeast`
 * (and, with `atMost`, at most that: an attack that must work, a model that must not be robust).
 */
export interface RobustAccuracyExpectation extends Omit<RobustnessExpectation, 'minAccuracy'> {
  /** The lowest acceptable robust accuracy, a fraction in [0, 1]. Default `0`. */
  atLeast?: number;
  /**
   * The highest acceptable robust accuracy, a fraction in [0, 1]: the attack must bring it down to this. Severe
   * warnings do not fail this side (they mean the number may be too high, which only makes `atMost` harder). Default:
   * none.
   */
  atMost?: number;
}

/**
 * Evaluates `model` and says whether its robust accuracy lies in `[atLeast, atMost]` at every epsilon. The engine
 * behind `toHaveRobustAccuracy`; {@link checkRobustness} with an optional upper bound.
 *
 * @param model - the model under test.
 * @param expectation - data, attack(s), epsilon(s), `atLeast` and/or `atMost`.
 * @returns pass/fail, a message (measured accuracy and 95% interval per epsilon), and the report.
 * @throws {@link ConfigError} if neither bound is given, a bound is not in [0, 1], or `atLeast > atMost`.
 * @example
 * ```ts
 * const v = await checkRobustAccuracy(model, { data, attack: pgd({ steps: 10 }), epsilon: 0.3, atMost: 0.1 });
 * console.log(v.pass, v.report.curve[0]?.robustAccuracy);
 * ```
 */
export async function checkRobustAccuracy(model: Model, expectation: RobustAccuracyExpectation): Promise<RobustnessVerdict> {
  const { atLeast, atMost, ...rest } = expectation;
  for (const [name, v] of [
    ['atLeast', atLeast],
    ['atMost', atMost],
  ] as const) {
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) {
      throw new ConfigError(`toHaveRobustAccuracy: expected ${name} to be a fraction in [0, 1], got ${describe(v)}`);
    }
  }
  if (atLeast === undefined && atMost === undefined) throw new ConfigError('toHaveRobustAccuracy: expected atLeast or atMost, got neither');
  if (atLeast !== undefined && atMost !== undefined && atLeast > atMost) {
    throw new ConfigError(`toHaveRobustAccuracy: expected atLeast <= atMost, got atLeast ${atLeast} and atMost ${atMost}`);
  }
  const lower = await checkRobustness(model, { ...rest, minAccuracy: atLeast ?? 0, ...(atLeast === undefined ? { allowWarnings: true } : {}) });
  if (atMost === undefined) return lower;
  const report = lower.report;
  const measure = (p: Report['curve'][number]): number => (expectation.useLowerBound ? p.ci.upper : p.robustAccuracy);
  const over = report.curve.filter((p) => measure(p) > atMost);
  const attacks = (Array.isArray(expectation.attack) ? (expectation.attack as readonly Attack[]) : [expectation.attack as Attack]).map((a) => a.name).join('+');
  const range = atLeast !== undefined ? `in [${pct(atLeast)}, ${pct(atMost)}]` : `<= ${pct(atMost)}${expectation.useLowerBound ? ' (upper CI bound)' : ''}`;
  const pass = lower.pass && over.length === 0;
  const [first, ...body] = lower.message.split('\n');
  const head = pass
    ? `expected ${model.name} not to have robust accuracy ${range} under ${attacks}, but it did`
    : !lower.pass && atLeast !== undefined
      ? first!
      : `expected ${model.name} to have robust accuracy ${range} under ${attacks}`;
  const overLines = over.map(
    (p) => `  above ${pct(atMost)} at ε=${p.epsilon}: robust accuracy ${pct(p.robustAccuracy)} (95% CI ${pct(p.ci.lower)}–${pct(p.ci.upper)})`,
  );
  return { pass, message: [head, ...body, ...overLines].join('\n'), report };
}

/** What a matcher returns to the test runner. */
export interface MatcherOutcome {
  /** Whether the assertion holds. */
  pass: boolean;
  /** The explanation shown when it fails (or, negated, when it passes). */
  message: () => string;
}

/**
 * Matchers for `expect.extend` (vitest, or jest: same protocol). Both await an evaluation, so always
 * `await expect(model).toBeRobust(...)` / `await expect(model).toHaveRobustAccuracy(...)`.
 *
 * @example
 * ```ts
 * expect.extend(robustMatchers);
 * await expect(model).toBeRobust({ data, attack: pgd(), epsilon: 0.1, minAccuracy: 0.7 });
 * await expect(model).toHaveRobustAccuracy({ data, attack: pgd({ steps: 10 }), epsilon: 0.1, atLeast: 0.3, atMost: 0.6 });
 * ```
 */
export const robustMatchers = {
  /**
   * Passes when the worst-case robust accuracy at every epsilon is at least `minAccuracy` and no severe pitfall
   * check fired (unless `allowWarnings`).
   * @param received - the model under test.
   * @param expectation - see {@link RobustnessExpectation}.
   */
  async toBeRobust(received: Model, expectation: RobustnessExpectation): Promise<MatcherOutcome> {
    const verdict = await checkRobustness(received, expectation);
    return { pass: verdict.pass, message: () => verdict.message };
  },
  /**
   * Passes when the robust accuracy under `attack` at every `epsilon` is at least `atLeast` (with no severe pitfall
   * check, unless `allowWarnings`) and, with `atMost`, at most that.
   * @param received - the model under test.
   * @param expectation - see {@link RobustAccuracyExpectation}.
   */
  async toHaveRobustAccuracy(received: Model, expectation: RobustAccuracyExpectation): Promise<MatcherOutcome> {
    const verdict = await checkRobustAccuracy(received, expectation);
    return { pass: verdict.pass, message: () => verdict.message };
  },
};

/** The matcher's type, for declaring it on a test runner's `expect`. */
export interface RobustMatchers<R = unknown> {
  /** See {@link robustMatchers}. */
  toBeRobust(expectation: RobustnessExpectation): Promise<R>;
  /** See {@link robustMatchers}. */
  toHaveRobustAccuracy(expectation: RobustAccuracyExpectation): Promise<R>;
}
