// Pitfall checks over the records: they fire on a setting built to trip them and stay silent on a normal one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { attackPhase, cleanPass, evaluate, planEvaluation } from '../../metrics/evaluate.js';
import { ITERATIVE_WEAKER_MIN_POINTS, NOT_CONVERGED_MEDIAN_RISE, NOT_CONVERGED_NEVER_FOOLED } from '../../metrics/pitfalls.js';
import { strongerAttack, supplementaryRuns, UNBOUNDED_POINTS } from '../../metrics/supplementary.js';
import { bim, deepfool, fgsm, pgd, randomSearch } from '../../attacks/index.js';
import { fromFunction, type DifferentiableModel } from '../../src/model.js';
import { ConfigError } from '../../src/errors.js';
import { reportVerdict } from '../../src/report-markdown.js';
import type { Attack } from '../../src/runner.js';
import type { Report } from '../../src/report.js';
import type { Dataset } from '../../src/data/types.js';
import { prototypeProblem } from '../helpers/models.js';

describe('not-converged check', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = { images: Float32Array.from(await p.x.data()), shape: [16], labels: p.labels, count: 24, sha256: 'unknown:test', source: 'prototypes' };
  });
  afterAll(() => p.dispose());

  it('fires for PGD whose steps are far too small to reach the edge of the ball', async () => {
    // 20 steps of 0.002·ε each cover 4% of the ball: the loss is still climbing linearly when PGD stops.
    const r = await evaluate(p.model, data, { attacks: [pgd({ steps: 20, relStepSize: 0.002, randomStart: false })], epsilons: [0.1] });
    const w = r.warnings.filter((x) => x.code === 'not-converged');
    expect(w).toHaveLength(1);
    expect(w[0]!.message).toMatch(/^pgd at ε=0\.1 \(linf\) has not converged: on the median of the 24 points it did not fool, its loss still rose by \d+% /);
    expect(Number(/rose by (\d+)%/.exec(w[0]!.message)![1]) / 100).toBeGreaterThan(NOT_CONVERGED_MEDIAN_RISE);
  });

  it('gets its trajectory from the runner: lateLossRise per sample, 0.25 for a linear climb, NaN without 4 traced steps', async () => {
    const linear = await pgd({ steps: 20, relStepSize: 0.002, randomStart: false }).run(p.model, p.x, p.labels, { epsilons: [0.1] });
    const rise = linear.results[0]!.lateLossRise!;
    linear.dispose();
    expect(rise).toHaveLength(24);
    // On a linear model every step adds the same CE gain: (L_19 − L_14) / (L_19 − L_0) = 5/19 for most points.
    expect(rise.filter((r) => Math.abs(r - 5 / 19) < 0.02).length).toBeGreaterThan(12);
    const one = await fgsm().run(p.model, p.x, p.labels, { epsilons: [0.1] });
    expect(Array.from(one.results[0]!.lateLossRise!).every(Number.isNaN)).toBe(true);
    one.dispose();
  });

  it('stays silent for PGD-40 with its default step, and for single-step attacks (no trajectory)', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), pgd()], epsilons: [0.05, 0.1], cascade: false });
    // Nothing is fooled at these radii, so every point is a survivor the check looks at.
    expect(r.attacks.every((a) => a.succeeded === 0)).toBe(true);
    expect(r.warnings.map((x) => x.code)).not.toContain('not-converged');
  });
});

/** The prototype problem's data as a Dataset. */
async function asDataset(p: ReturnType<typeof prototypeProblem>, d: number): Promise<Dataset> {
  return { images: Float32Array.from(await p.x.data()), shape: [d], labels: p.labels, count: p.labels.length, sha256: 'unknown:test', source: 'prototypes' };
}

/**
 * The prototype classifier behind a hard quantiser (inputs rounded to multiples of 1/4): the same decisions on clean
 * data, but an input gradient that is zero everywhere, the textbook gradient masking. Gradient attacks cannot move;
 * a random search, or the same classifier's own gradients (a surrogate), still find adversarial inputs.
 */
function maskedProblem(p: ReturnType<typeof prototypeProblem>): DifferentiableModel {
  return fromFunction((x) => p.model.logits(tf.div(tf.round(tf.mul(x, 4)), 4)), {
    numClasses: p.model.numClasses,
    inputShape: p.model.inputShape,
    name: 'quantised-prototypes',
  });
}

const codes = (r: Report): string[] => r.warnings.map((w) => w.code);

describe('iterative-weaker-than-single-step', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = await asDataset(p, 16);
  });
  afterAll(() => p.dispose());
  // PGD whose 20 steps cover 4% of the ball cannot reach what one FGSM step of size ε reaches.
  const weak = (): Attack => pgd({ steps: 20, relStepSize: 0.002, randomStart: false });

  it('fires without the cascade when PGD survives points FGSM fooled, and when PGD runs first in the cascade', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), weak()], epsilons: [0.3], cascade: false });
    const fgsmFooled = r.attacks.find((a) => a.name === 'fgsm')!.succeeded;
    expect(fgsmFooled).toBeGreaterThanOrEqual(ITERATIVE_WEAKER_MIN_POINTS);
    const w = r.warnings.filter((x) => x.code === 'iterative-weaker-than-single-step');
    expect(w).toHaveLength(1);
    expect(w[0]!.message).toMatch(new RegExp(`^pgd at ε=0\\.3 \\(linf\\) survived \\d+ of the ${fgsmFooled} points the single-step fgsm fooled at the same ε`));
    expect(w[0]!.severity).toBe('severe');
    const first = await evaluate(p.model, data, { attacks: [weak(), fgsm()], epsilons: [0.3] });
    expect(codes(first)).toContain('iterative-weaker-than-single-step');
  });

  it('is silent for PGD with its default step, and in the cascade where PGD only sees what FGSM left', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], cascade: false });
    expect(r.attacks.find((a) => a.name === 'fgsm' && a.epsilon === 0.3)!.succeeded).toBeGreaterThan(0);
    expect(codes(r)).not.toContain('iterative-weaker-than-single-step');
    const cascade = await evaluate(p.model, data, { attacks: [fgsm(), weak()], epsilons: [0.3] });
    expect(codes(cascade)).not.toContain('iterative-weaker-than-single-step');
  });

  it('speaks in the cascade with thorough: the iterative attack also runs on the points FGSM fooled', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), weak()], epsilons: [0.3], thorough: true });
    expect(r.attacks.find((a) => a.name === 'pgd')!.attacked).toBeLessThan(24 - ITERATIVE_WEAKER_MIN_POINTS); // the cascade's own run
    expect(codes(r)).toContain('iterative-weaker-than-single-step');
    const fine = await evaluate(p.model, data, { attacks: [fgsm(), pgd()], epsilons: [0.3], thorough: true });
    expect(codes(fine)).not.toContain('iterative-weaker-than-single-step');
  });
});

describe('black-box-beats-white-box and the gradient checks', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  let masked: DifferentiableModel;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = await asDataset(p, 16);
    masked = maskedProblem(p);
  });
  afterAll(() => p.dispose());

  it('fires when random search fools points FGSM and BIM attacked and failed on (a quantised model), with zero-gradients', async () => {
    const r = await evaluate(masked, data, { attacks: [fgsm(), bim(), randomSearch({ samples: 200 })], epsilons: [0.3] });
    expect(r.cleanAccuracy).toBe(1);
    expect(r.attacks.filter((a) => a.name !== 'random-search').every((a) => a.succeeded === 0)).toBe(true);
    const rs = r.attacks.find((a) => a.name === 'random-search')!;
    expect(rs.succeeded).toBeGreaterThan(0);
    const w = r.warnings.find((x) => x.code === 'black-box-beats-white-box');
    expect(w?.message).toMatch(
      new RegExp(
        `^the black-box random-search at ε=0\\.3 \\(linf\\) fooled ${rs.succeeded} points? that the gradient attacks \\(fgsm, bim\\) ran on and failed`,
      ),
    );
    expect(codes(r)).toContain('zero-gradients');
    expect(reportVerdict(r).line).toMatch(/^UNRELIABLE: .*zero-gradients.*black-box-beats-white-box/);
  });

  it('is silent on the plain model, where the gradient attacks find what random search finds', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), pgd(), randomSearch({ samples: 200 })], epsilons: [0.1, 0.3], cascade: false });
    expect(r.attacks.find((a) => a.name === 'random-search' && a.epsilon === 0.3)!.succeeded).toBeGreaterThan(0);
    expect(codes(r)).toEqual([]);
    expect(reportVerdict(r).line).toBe('reliable');
  });

  it('needs the query attack to run on points the gradient attacks failed on: silent when it runs first in the cascade', async () => {
    const r = await evaluate(masked, data, { attacks: [randomSearch({ samples: 200 }), fgsm()], epsilons: [0.3] });
    expect(codes(r)).not.toContain('black-box-beats-white-box');
  });

  it('reports NaN or infinite input gradients (a square root at 0)', async () => {
    const x = Float32Array.from(data.images);
    for (let i = 0; i < data.count; i++) x[i * 16] = 0; // one pixel at 0 in every input
    const sqrtModel = fromFunction((t) => p.model.logits(tf.sqrt(t)), { numClasses: 4, inputShape: [16], name: 'sqrt-prototypes' });
    const r = await evaluate(sqrtModel, { ...data, images: x }, { attacks: [fgsm()], epsilons: [0.01] });
    const w = r.warnings.find((v) => v.code === 'non-finite-gradients');
    expect(w?.message).toMatch(/^sqrt-prototypes: 100\.0% of samples have a NaN or infinite input gradient/);
    expect(codes(await evaluate(p.model, data, { attacks: [fgsm()], epsilons: [0.01] }))).not.toContain('non-finite-gradients');
  });
});

describe('data-range-mismatch', () => {
  it('fires for 0–1 data given to a model whose bounds are [0, 255], silent with bounds [0, 1]', async () => {
    const p = prototypeProblem({ n: 8, d: 16, numClasses: 4 });
    const data = await asDataset(p, 16);
    const wide = fromFunction((t) => p.model.logits(t), { numClasses: 4, inputShape: [16], bounds: [0, 255], name: 'wide' });
    const r = await evaluate(wide, data, { attacks: [fgsm()], epsilons: [1] });
    expect(r.warnings.find((w) => w.code === 'data-range-mismatch')?.message).toMatch(
      /^wide: the data spans \[[\d.]+, [\d.]+\], only 0\.\d% of the model's bounds \[0, 255\]/,
    );
    expect(codes(await evaluate(p.model, data, { attacks: [fgsm()], epsilons: [0.1] }))).not.toContain('data-range-mismatch');
    p.dispose();
  });
});

describe('class count (planEvaluation)', () => {
  it('refuses an attack whose loss needs more classes than the model has, naming the attack', () => {
    const two = prototypeProblem({ n: 4, d: 4, numClasses: 2 });
    const three = prototypeProblem({ n: 4, d: 4, numClasses: 3 });
    expect(() => planEvaluation(two.model, { attacks: [pgd({ loss: 'dlr' })], epsilons: [0.1] })).toThrow(ConfigError);
    expect(() => planEvaluation(two.model, { attacks: [fgsm(), pgd({ loss: 'dlr' })], epsilons: [0.1] })).toThrow(
      /^evaluate: expected at least 3 classes for the attack 'pgd' \(its loss 'dlr' needs them\), got 2 in model 'prototypes'$/,
    );
    expect(() => planEvaluation(three.model, { attacks: [pgd({ loss: 'dlr' })], epsilons: [0.1], targeted: true })).toThrow(
      /^evaluate: expected at least 4 classes for the attack 'pgd' \(its targeted loss 'dlr' needs them\), got 3 in model 'prototypes'$/,
    );
    expect(planEvaluation(three.model, { attacks: [pgd({ loss: 'dlr' })], epsilons: [0.1] }).attacks).toHaveLength(1);
    two.dispose();
    three.dispose();
  });
});

describe('not-converged for minimum-norm attacks', () => {
  it('fires when DeepFool never fools most points (zero gradients), silent on the plain model', async () => {
    const p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    const data = await asDataset(p, 16);
    const r = await evaluate(maskedProblem(p), data, { attacks: [deepfool()], epsilons: [1] });
    const w = r.warnings.find((x) => x.code === 'not-converged');
    expect(w?.message).toMatch(/^deepfool \(l2, minimum-norm\) has not converged: it never fooled 24 of the 24 points it ran on \(100%\)/);
    const plain = await evaluate(p.model, data, { attacks: [deepfool()], epsilons: [1] });
    expect(codes(plain)).not.toContain('not-converged');
    expect(NOT_CONVERGED_NEVER_FOOLED).toBe(0.1);
    p.dispose();
  });
});

describe('unbounded-attack-fails (always) and restarts-matter (thorough)', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = await asDataset(p, 16);
  });
  afterAll(() => p.dispose());

  it('fires on the quantised model: PGD with ε the whole range moves nothing; silent on the plain model', async () => {
    const r = await evaluate(maskedProblem(p), data, { attacks: [fgsm()], epsilons: [0.1] });
    expect(r.warnings.find((w) => w.code === 'unbounded-attack-fails')?.message).toMatch(
      /^pgd with ε=1 \(linf\), the whole input range, left 24 of 24 clean-correct points \(100\.0%\) classified correctly, above chance \(25\.0%\)/,
    );
    const plain = await evaluate(p.model, data, { attacks: [fgsm()], epsilons: [0.1] });
    expect(codes(plain)).not.toContain('unbounded-attack-fails');
    // The run is recorded on the state (cheap: early stop ends it once every point is fooled), never in the curve.
    const state = await cleanPass(p.model, data, planEvaluation(p.model, { attacks: [fgsm()], epsilons: [0.1] }));
    await attackPhase(p.model, data, state);
    await supplementaryRuns(p.model, data, state, {}, attackPhase);
    expect(state.supplementary!.map((r) => [r.purpose, r.attack.name, r.cells[0]!.epsilon])).toEqual([['unbounded', 'pgd', 1]]);
    expect(Array.from(state.supplementary![0]!.cells[0]!.outcome).every((o) => o === 2)).toBe(true);
    expect(UNBOUNDED_POINTS).toBe(100);
    await supplementaryRuns(p.model, data, state, { unbounded: false }, attackPhase);
    expect(state.supplementary).toHaveLength(1);
  });

  it('fires when PGD with too small a step is re-run with more steps and restarts, and is silent for PGD-40 and without thorough', async () => {
    const weak = pgd({ steps: 10, relStepSize: 0.01, randomStart: false });
    const r = await evaluate(p.model, data, { attacks: [weak], epsilons: [0.3], thorough: true });
    const w = r.warnings.find((x) => x.code === 'restarts-matter');
    expect(w?.message).toMatch(
      /^at ε=0\.3 \(linf\), re-running pgd with more steps and restarts took robust accuracy from 100\.0% to \d+\.\d%, below its 95% confidence interval/,
    );
    expect(codes(r)).not.toContain('unbounded-attack-fails');
    expect(codes(await evaluate(p.model, data, { attacks: [weak], epsilons: [0.3] }))).not.toContain('restarts-matter');
    const fine = await evaluate(p.model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], thorough: true });
    expect(codes(fine)).toEqual([]);
  });

  it('builds the stronger variant from the registry: twice the steps, at least 5 restarts; none for single-step or unregistered attacks', () => {
    const s = strongerAttack(pgd({ steps: 10, restarts: 1, loss: 'margin' }))!;
    expect(s.config).toMatchObject({ steps: 20, restarts: 5, loss: 'margin', earlyStop: true });
    expect(strongerAttack(fgsm())).toBeUndefined();
    expect(strongerAttack(deepfool())).toBeUndefined();
  });
});

describe('transfer-beats-white-box', () => {
  it("fires when the plain model's gradients fool the quantised model where its own cannot; silent with itself as surrogate", async () => {
    const p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    const data = await asDataset(p, 16);
    const masked = maskedProblem(p);
    const r = await evaluate(masked, data, { attacks: [fgsm()], epsilons: [0.3], surrogate: p.model });
    expect(r.attacks[0]!.succeeded).toBe(0);
    expect(r.warnings.find((w) => w.code === 'transfer-beats-white-box')?.message).toMatch(
      /^fgsm at ε=0\.3 \(linf\) on the surrogate prototypes's gradients fooled [1-9]\d* of the 24 points the white-box fgsm ran on, which fooled only 0/,
    );
    const same = await evaluate(p.model, data, { attacks: [fgsm()], epsilons: [0.3], surrogate: p.model });
    expect(codes(same)).not.toContain('transfer-beats-white-box');
    const other = prototypeProblem({ n: 4, d: 8, numClasses: 4 });
    expect(() => planEvaluation(p.model, { attacks: [fgsm()], epsilons: [0.3], surrogate: other.model })).toThrow(
      /^evaluate: expected the surrogate 'prototypes' to take the model's inputs \(4 classes, shape \[16\], bounds \[0, 1\]\), got 4 classes, shape \[8\]/,
    );
    other.dispose();
    p.dispose();
  });
});
