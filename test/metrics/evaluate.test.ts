// evaluate(): the clean pass, the cascade, worst case over attacks, per class, warnings, provenance, schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import fc from 'fast-check';
import { attackPhase, buildReport, cleanPass, evaluate, modelProvenance, OUTCOME, planEvaluation, robustMask } from '../../metrics/evaluate.js';
import { bim, defineAttack, fgm, fgsm, pgd } from '../../attacks/index.js';
import { disableFastGradients, enableFastGradients, fastGradientsActive } from '../../src/gradients/index.js';
import { fromFunction } from '../../src/model.js';
import { validateReport } from '../../src/report.js';
import { ConfigError, LabelError, ShapeError, UnsupportedError } from '../../src/errors.js';
import type { Dataset } from '../../src/data/types.js';
import { prototypeProblem } from '../helpers/models.js';

describe('evaluate', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = { images: Float32Array.from(await p.x.data()), shape: [16], labels: p.labels, count: 24, sha256: 'unknown:test', source: 'prototypes' };
  });
  afterAll(() => p.dispose());

  it('reports clean accuracy, a monotone worst-case curve and per-attack entries', async () => {
    const before = tf.memory().numTensors;
    const report = await evaluate(p.model, data, { attacks: [fgsm(), pgd({ steps: 10 })], epsilons: [0, 0.05, 0.3], seed: 1, batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.count).toBe(24);
    expect(report.cleanAccuracy).toBe(1);
    expect(report.cleanCi.upper).toBe(1);
    expect(report.cleanCi.lower).toBeCloseTo(0.862, 3); // Wilson 24/24 at 95%
    expect(report.curve.map((c) => c.epsilon)).toEqual([0, 0.05, 0.3]);
    expect(report.curve[0]!.robustAccuracy).toBe(1);
    expect(report.curve[2]!.robustAccuracy).toBeLessThan(0.1);
    expect(report.curve[1]!.robustAccuracy).toBeGreaterThanOrEqual(report.curve[2]!.robustAccuracy);
    expect(report.attacks).toHaveLength(6);
    const pgdAt03 = report.attacks.find((a) => a.name === 'pgd' && a.epsilon === 0.3)!;
    const fgsmAt03 = report.attacks.find((a) => a.name === 'fgsm' && a.epsilon === 0.3)!;
    // Cascade: PGD only runs on what FGSM left, and its robust accuracy is the cumulative worst case.
    expect(pgdAt03.attacked).toBe(24 - fgsmAt03.succeeded);
    expect(pgdAt03.robustAccuracy).toBe(report.curve[2]!.robustAccuracy);
    expect(fgsmAt03.meanLinf).toBeGreaterThan(0);
    expect(fgsmAt03.meanLinf).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(fgsmAt03.norms.l0.max).toBeLessThanOrEqual(16);
    expect(report.perClass).toHaveLength(4);
    expect(report.perClass.reduce((a, c) => a + c.count, 0)).toBe(24);
    expect(report.provenance.seed).toBe(1);
    expect(report.provenance.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.provenance.data).toEqual({ source: 'prototypes', sha256: 'unknown:test', count: 24 });
    expect(report.provenance.attacks.map((a) => a.name)).toEqual(['fgsm', 'pgd']);
    expect(report.provenance.backend).toBe(tf.getBackend());
    expect(validateReport(JSON.parse(JSON.stringify(report)))).toBeTruthy();
  });

  it('gives the same worst case with and without the cascade, and identical reports for one seed', async () => {
    // A one-step PGD (random start, step ε) and then PGD-5: both random, and the second adds to the first.
    const opts = { attacks: [pgd({ steps: 1, relStepSize: 1 }), pgd({ steps: 5 })], epsilons: [0.15, 0.18], seed: 3, batchSize: 10 };
    const a = await evaluate(p.model, data, opts);
    const b = await evaluate(p.model, data, { ...opts, cascade: false });
    const a2 = await evaluate(p.model, data, opts);
    expect(a.curve.map((c) => c.robustCount)).toEqual(a2.curve.map((c) => c.robustCount));
    expect(a.attacks.map((e) => e.meanL2)).toEqual(a2.attacks.map((e) => e.meanL2));
    // Without the cascade every attack sees every correct point.
    expect(b.attacks.every((e) => e.attacked === 24)).toBe(true);
    // PGD's random start is drawn per sample from its global index, so a point's outcome does not depend on which
    // points FGSM removed: the per-point worst case, hence the curve, is the same with and without the cascade.
    expect(b.curve).toEqual(a.curve);
    expect(b.perClass).toEqual(a.perClass);
    // And the comparison is not trivial: the first attack fools some points, and the second fools others among
    // the fewer points the cascade left it.
    const [first, second] = [a.attacks.filter((_, k) => k < 2), a.attacks.filter((_, k) => k >= 2)];
    expect(first.some((e) => e.succeeded > 0)).toBe(true);
    expect(second.some((e) => e.succeeded > 0 && e.attacked < 24)).toBe(true);
  });

  it('keeps one curve per norm: fgsm and fgm at the same epsilon are never merged', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), fgm()], epsilons: [0.05, 0.3], seed: 0 });
    expect(r.curve.map((c) => [c.norm, c.epsilon])).toEqual([
      ['linf', 0.05],
      ['linf', 0.3],
      ['l2', 0.05],
      ['l2', 0.3],
    ]);
    // L∞ 0.3 is a far larger ball than L2 0.3 in 16 dimensions: the two points must differ.
    const at = (norm: string, eps: number): number => r.curve.find((c) => c.norm === norm && c.epsilon === eps)!.robustCount;
    expect(at('linf', 0.3)).toBeLessThan(at('l2', 0.3));
    const fgsm03 = r.attacks.find((e) => e.name === 'fgsm' && e.epsilon === 0.3)!;
    const fgm03 = r.attacks.find((e) => e.name === 'fgm' && e.epsilon === 0.3)!;
    expect(at('linf', 0.3)).toBe(24 - fgsm03.succeeded);
    expect(at('l2', 0.3)).toBe(24 - fgm03.succeeded);
    // The cascade is per norm: fgm runs on every correct point, not on what fgsm left.
    expect(fgm03.attacked).toBe(24);
    expect(r.perClass[0]!.robust.map((e) => e.norm)).toEqual(['linf', 'linf', 'l2', 'l2']);
    expect(r.provenance.epsilonsByNorm).toEqual({ linf: [0.05, 0.3], l2: [0.05, 0.3] });
    expect(validateReport(JSON.parse(JSON.stringify(r)))).toBeTruthy();
    const perNorm = await evaluate(p.model, data, { attacks: [fgsm(), fgm()], epsilons: { linf: [0.3], l2: [1, 2] } });
    expect(perNorm.curve.map((c) => [c.norm, c.epsilon])).toEqual([
      ['linf', 0.3],
      ['l2', 1],
      ['l2', 2],
    ]);
    await expect(evaluate(p.model, data, { attacks: [fgsm(), fgm()], epsilons: { linf: [0.3] } })).rejects.toThrow(
      'evaluate: expected epsilons for the norm l2 (an attack uses it), got none',
    );
  });

  it('gives identical per-point records for batch sizes 1, 7 and 100, with and without the cascade', async () => {
    const attacks = [fgsm(), pgd({ steps: 4 }), pgd({ norm: 'l2', steps: 3, restarts: 2 })];
    const records = async (batchSize: number, cascade: boolean) => {
      const plan = planEvaluation(p.model, { attacks, epsilons: { linf: [0.1, 0.2], l2: [0.3] }, seed: 5, batchSize, cascade });
      const state = await cleanPass(p.model, data, plan);
      await attackPhase(p.model, data, state);
      return state;
    };
    for (const cascade of [true, false]) {
      const [s1, s7, s100] = [await records(1, cascade), await records(7, cascade), await records(100, cascade)];
      for (const s of [s7, s100]) {
        expect(s.cells.map((c) => Array.from(c.outcome))).toEqual(s1.cells.map((c) => Array.from(c.outcome)));
        for (const [k, c] of s.cells.entries()) {
          const ref = s1.cells[k]!;
          for (let i = 0; i < 24; i++) {
            expect(c.l2[i]).toBeCloseTo(ref.l2[i]!, 5);
            expect(c.linf[i]).toBeCloseTo(ref.linf[i]!, 5);
          }
        }
      }
      if (!cascade) continue;
      // Where a point was attacked in both modes, the outcome is the same; the worst case is the same everywhere.
      const off = await records(7, false);
      for (const [k, c] of s7.cells.entries()) {
        for (let i = 0; i < 24; i++) if (c.outcome[i] !== OUTCOME.notAttacked) expect(off.cells[k]!.outcome[i]).toBe(c.outcome[i]);
      }
      for (const [norm, eps] of [
        ['linf', 0.1],
        ['linf', 0.2],
        ['l2', 0.3],
      ] as const)
        expect(robustMask(off, norm, eps)).toEqual(robustMask(s7, norm, eps));
    }
  });

  it('runs a minimum-norm attack once per batch and thresholds it at every epsilon', async () => {
    let calls = 0;
    // A toy minimum-norm attack: the inverted image (1 − x), whose L2 distance to x is the same for every epsilon.
    const invert = defineAttack({
      name: 'invert',
      kind: 'minimum-norm',
      norm: 'l2',
      config: {},
      loss: 'ce',
      minimize: async (ctx) => {
        calls++;
        return tf.tidy(() => ctx.clip(tf.sub(1, ctx.x)));
      },
    });
    const before = tf.memory().numTensors;
    const eps = [0.5, 1.5, 2, 2.5, 10];
    const plan = planEvaluation(p.model, { attacks: [fgm(), invert], epsilons: eps, batchSize: 10 });
    const state = await cleanPass(p.model, data, plan);
    await attackPhase(p.model, data, state);
    const report = buildReport(state, { model: await modelProvenance(p.model) });
    expect(tf.memory().numTensors).toBe(before);
    // One run per batch of the points still robust at some epsilon (24 clean-correct points, batches of 10).
    const pool = Array.from({ length: 24 }, (_, i) => i).filter((i) => eps.some((e) => robustMask(state, 'l2', e, eps.length)[i]));
    expect(calls).toBe(Math.ceil(pool.length / 10));
    const cells = state.cells.slice(eps.length);
    const x = await p.x.data();
    for (const [ei, cell] of cells.entries()) {
      const robustBefore = robustMask(state, 'l2', eps[ei]!, eps.length);
      for (let i = 0; i < 24; i++) {
        if (!pool.includes(i)) expect(Number.isNaN(cell.minimalNorm![i])).toBe(true);
        if (!robustBefore[i]) {
          expect(cell.outcome[i]).toBe(OUTCOME.notAttacked);
          continue;
        }
        const norm = Math.hypot(...Array.from(x.subarray(i * 16, i * 16 + 16), (v) => 1 - 2 * v));
        const m = cell.minimalNorm![i]!;
        if (Number.isFinite(m)) expect(m).toBeCloseTo(norm, 4);
        expect(cell.outcome[i]).toBe(m <= eps[ei]! ? OUTCOME.fooled : OUTCOME.survived);
      }
    }
    const entries = report.attacks.filter((a) => a.name === 'invert');
    expect(entries.map((e) => e.kind)).toEqual(['minimum-norm', 'minimum-norm', 'minimum-norm', 'minimum-norm', 'minimum-norm']);
    const stats = entries[4]!.minimalNorms!;
    expect(stats.attacked).toBe(entries[4]!.attacked);
    expect(stats.fooled + Math.round(stats.neverFooledRate * stats.attacked)).toBe(stats.attacked);
    if (stats.median !== null) expect(stats.median).toBeGreaterThan(0);
    const l2 = report.curve.filter((c) => c.norm === 'l2').map((c) => c.robustCount);
    expect([...l2].sort((a, b) => b - a)).toEqual(l2);
    expect(validateReport(JSON.parse(JSON.stringify(report)))).toBeTruthy();
  });

  it('returns a report that passes validateReport for any small set-up (no correct point included) and refuses empty data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 0, max: 6 }),
          eps: fc.uniqueArray(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: 1, maxLength: 3 }),
          which: fc.subarray(['fgsm', 'fgm', 'bim'] as const, { minLength: 1 }),
          cascade: fc.boolean(),
          targeted: fc.boolean(),
          batchSize: fc.integer({ min: 1, max: 4 }),
          wrong: fc.boolean(),
        }),
        async ({ n, eps, which, cascade, targeted, batchSize, wrong }) => {
          const per = 16;
          const labels = Int32Array.from(data.labels.subarray(0, n), (l) => (wrong ? (l + 1) % 4 : l));
          const d: Dataset = { images: data.images.slice(0, n * per), shape: [16], labels, count: n, sha256: 'unknown:test', source: 'slice' };
          const made = { fgsm: () => fgsm(), fgm: () => fgm(), bim: () => bim({ steps: 2 }) };
          const run = evaluate(p.model, d, { attacks: which.map((w) => made[w]()), epsilons: eps, cascade, targeted, batchSize });
          if (n === 0) {
            // No samples is an error (no accuracy is defined), never a report of zeros.
            await expect(run).rejects.toThrow("evaluate: expected at least one sample, got 0 (data 'slice')");
            return;
          }
          const r = await run;
          expect(() => validateReport(JSON.parse(JSON.stringify(r)))).not.toThrow();
          if (wrong) expect(r.warnings.map((w) => w.code)).toContain('no-correct-points');
        },
      ),
      { numRuns: 25, seed: 11 },
    );
  });

  it('records whether the fast gradient kernels were on, and takes class names from the dataset', async () => {
    const named: Dataset = { ...data, classNames: ['zero', 'one', 'two', 'three'] };
    const r = await evaluate(p.model, named, { attacks: [fgsm()], epsilons: [0.1] });
    expect(r.provenance.fastGradients).toBe(fastGradientsActive());
    try {
      disableFastGradients();
      expect((await evaluate(p.model, named, { attacks: [fgsm()], epsilons: [0.1] })).provenance.fastGradients).toBe(false);
      enableFastGradients();
      expect((await evaluate(p.model, named, { attacks: [fgsm()], epsilons: [0.1] })).provenance.fastGradients).toBe(true);
    } finally {
      enableFastGradients();
    }
    expect(r.perClass.map((c) => c.name)).toEqual(['zero', 'one', 'two', 'three']);
    const own = await evaluate(p.model, named, { attacks: [fgsm()], epsilons: [0.1], classNames: ['a', 'b', 'c', 'd'] });
    expect(own.perClass.map((c) => c.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('accepts tensors and runs targeted attacks', async () => {
    const report = await evaluate(p.model, { x: p.x, labels: p.labels }, { attacks: [pgd({ steps: 10 })], epsilons: [0.4], targeted: true });
    expect(report.provenance.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.provenance.targeted).toBe(true);
    expect(report.curve[0]!.robustAccuracy).toBeLessThan(0.5);
  });

  it('warns about probability outputs and randomised models', async () => {
    const w = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const probs = fromFunction((x) => tf.softmax(tf.matMul(x as tf.Tensor2D, w)), { numClasses: 2, inputShape: [2], name: 'probs' });
    let calls = 0;
    const noisy = fromFunction((x) => tf.add(tf.matMul(x as tf.Tensor2D, w), tf.scalar(++calls * 0.01)), { numClasses: 2, inputShape: [2], name: 'noisy' });
    const d2 = {
      x: tf.tensor2d([
        [0.9, 0.1],
        [0.2, 0.8],
      ]),
      labels: [0, 1],
    };
    const seen: string[] = [];
    const r1 = await evaluate(probs, d2, { attacks: [fgsm()], epsilons: [0.1], onWarning: (x) => seen.push(x.code) });
    expect(r1.warnings.map((x) => x.code)).toContain('probability-output');
    expect(seen).toContain('probability-output');
    const r2 = await evaluate(noisy, d2, { attacks: [fgsm()], epsilons: [0.1] });
    expect(r2.warnings.map((x) => x.code)).toContain('randomized-model');
    tf.dispose([w, d2.x]);
  });

  it('rejects bad options and data with typed errors', async () => {
    await expect(evaluate(p.model, data, { attacks: [], epsilons: [0.1] })).rejects.toThrow(ConfigError);
    await expect(evaluate(p.model, data, { attacks: [fgsm()], epsilons: [0.1], batchSize: 0 })).rejects.toThrow(
      'evaluate: expected batchSize to be an integer in [1, 65536], got 0',
    );
    await expect(evaluate(p.model, { ...data, shape: [15] }, { attacks: [fgsm()], epsilons: [0.1] })).rejects.toThrow(ShapeError);
    await expect(evaluate(p.model, { ...data, shape: [1, 16] }, { attacks: [fgsm()], epsilons: [0] })).resolves.toBeTruthy();
    await expect(evaluate(p.model, { ...data, shape: [4, 4] }, { attacks: [fgsm()], epsilons: [0.1] })).rejects.toThrow(
      "evaluate: expected data of shape [N, 16] for model 'prototypes', got [24, 4, 4] (load the data with the model's inputShape and layout to convert it)",
    );
    const badLabels = Int32Array.from(data.labels);
    badLabels[3] = 7;
    await expect(evaluate(p.model, { ...data, labels: badLabels }, { attacks: [fgsm()], epsilons: [0.1] })).rejects.toThrow(LabelError);
    const q = { ...p.model, kind: 'query' as const, logits: async (x: tf.Tensor) => p.model.logits(x) };
    await expect(evaluate(q, data, { attacks: [fgsm()], epsilons: [0.1] })).rejects.toThrow(UnsupportedError);
  });
});
