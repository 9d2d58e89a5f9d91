// Evaluation as data on a real CNN: per-point records do not depend on the batch size or on the cascade, for
// fixed-epsilon (FGSM, PGD with random start) and minimum-norm (DeepFool) attacks, with either gradient engine.
// Measured bit-identical on cpu and wasm with both engines (no kernel here makes a sample's numbers depend on the
// rest of its batch), so the records are compared exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { attackPhase, cleanPass, planEvaluation, robustMask, OUTCOME, type EvaluationState } from '../../metrics/evaluate.js';
import { deepfool, fgsm, pgd } from '../../attacks/index.js';
import type { Model } from '../../src/model.js';
import type { Dataset } from '../../src/data/types.js';

const root = join(import.meta.dirname, '..', '..');
const engines = process.env['ROBUSTEST_TEST_BACKEND'] === 'cpu' ? (['onnxruntime'] as const) : (['onnxruntime', 'tfjs'] as const);

describe.each(engines)('bundled model, engine %s: per-point records', (engine) => {
  let model: Model;
  let data: Dataset;
  beforeAll(async () => {
    model = await loadModel(join(root, 'assets', 'mnist-cnn', 'model.json'), { engine });
    data = await loadIdx(
      join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: 20 },
    );
  });
  afterAll(() => model.dispose());

  const run = async (batchSize: number, cascade: boolean): Promise<EvaluationState> => {
    const plan = planEvaluation(model, {
      attacks: [fgsm(), pgd({ steps: 3 }), deepfool({ steps: 8 })],
      epsilons: { linf: [0.1, 0.2], l2: [1, 2] },
      seed: 7,
      batchSize,
      cascade,
    });
    const state = await cleanPass(model, data, plan);
    await attackPhase(model, data, state);
    return state;
  };
  const records = (s: EvaluationState): unknown =>
    s.cells.map((c) => ({ outcome: Array.from(c.outcome), l2: Array.from(c.l2), linf: Array.from(c.linf), minimal: Array.from(c.minimalNorm ?? []) }));

  it('are identical for batch sizes 1, 7 and 100, and the cascade changes only which points are attacked', async () => {
    const [b1, b7, b100] = [await run(1, true), await run(7, true), await run(100, true)];
    expect(records(b7)).toEqual(records(b1));
    expect(records(b100)).toEqual(records(b1));
    // Not a vacuous comparison: PGD fools points FGSM left at 0.1, and DeepFool fools points at both radii.
    expect(b1.cells[2]!.outcome.some((o) => o === OUTCOME.fooled)).toBe(true);
    expect(b1.cells.slice(4).every((c) => c.outcome.some((o) => o === OUTCOME.fooled))).toBe(true);
    const off = await run(7, false);
    for (const [k, c] of b7.cells.entries()) {
      for (let i = 0; i < 20; i++) if (c.outcome[i] !== OUTCOME.notAttacked) expect(off.cells[k]!.outcome[i]).toBe(c.outcome[i]);
    }
    for (const [norm, eps] of [
      ['linf', 0.1],
      ['linf', 0.2],
      ['l2', 1],
      ['l2', 2],
    ] as const)
      expect(robustMask(off, norm, eps)).toEqual(robustMask(b7, norm, eps));
  });
});
