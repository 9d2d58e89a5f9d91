// evaluate(): the clean pass, the cascade, worst case over attacks, per class, warnings, provenance, schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { evaluate } from '../../metrics/index.js';
import { fgsm, pgd } from '../../attacks/index.js';
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
    const opts = { attacks: [fgsm(), pgd({ steps: 5 })], epsilons: [0.1, 0.2], seed: 3, batchSize: 10 };
    const a = await evaluate(p.model, data, opts);
    const b = await evaluate(p.model, data, { ...opts, cascade: false });
    const a2 = await evaluate(p.model, data, opts);
    expect(a.curve.map((c) => c.robustCount)).toEqual(a2.curve.map((c) => c.robustCount));
    expect(a.attacks.map((e) => e.meanL2)).toEqual(a2.attacks.map((e) => e.meanL2));
    // Without the cascade every attack sees every correct point.
    expect(b.attacks.every((e) => e.attacked === 24)).toBe(true);
    // The per-point worst case can differ only through PGD's randomness on different batches; FGSM is deterministic.
    const fgsmA = a.attacks.filter((e) => e.name === 'fgsm').map((e) => e.succeeded);
    const fgsmB = b.attacks.filter((e) => e.name === 'fgsm').map((e) => e.succeeded);
    expect(fgsmA).toEqual(fgsmB);
    for (const [i, c] of b.curve.entries()) expect(c.robustCount).toBeLessThanOrEqual(24 - fgsmB[i]!);
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
      'evaluate: expected batchSize to be an integer >= 1, got 0',
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
