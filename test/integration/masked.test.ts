// The gradient-masked fixture (assets/mnist-cnn-masked): fixed-step PGD on cross-entropy overestimates its
// robustness, the fast preset (APGD-CE, then APGD-T's scale-invariant DLR) does not, and the report says the
// evaluation is unreliable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel } from '../../src/load.js';
import { loadIdx } from '../../src/data/idx.js';
import { evaluate } from '../../metrics/evaluate.js';
import { pgd, square } from '../../attacks/index.js';
import { reportVerdict } from '../../src/report-markdown.js';
import type { Model } from '../../src/model.js';
import type { Dataset } from '../../src/data/types.js';

const root = join(import.meta.dirname, '..', '..');
// Gradients are ~10× slower on cpu; the wasm project runs it.
const run = process.env['ROBUSTEST_TEST_BACKEND'] === 'cpu' ? describe.skip : describe;

run('gradient-masked MNIST model', () => {
  let model: Model;
  let data: Dataset;
  beforeAll(async () => {
    model = await loadModel(join(root, 'assets', 'mnist-cnn-masked', 'model.json'));
    data = await loadIdx(
      join(root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: 60 },
    );
  });
  afterAll(() => model.dispose());

  it('PGD-40 reports a robustness the fast preset takes away, and the report is marked unreliable', async () => {
    const plain = await evaluate(model, data, { attacks: [pgd()], epsilons: [0.3], seed: 0 });
    const preset = await evaluate(model, data, { preset: 'fast', epsilons: [0.3], seed: 0 });
    expect(plain.curve[0]!.robustAccuracy).toBeGreaterThan(0.5);
    expect(preset.curve[0]!.robustAccuracy).toBeLessThan(0.05);
    expect(preset.attacks.map((a) => a.name)).toEqual(['apgd-ce', 'apgd-t']);
    expect(preset.provenance.preset).toBe('fast');
    for (const r of [plain, preset]) {
      expect(r.warnings.map((w) => w.code)).toContain('zero-gradients');
      expect(reportVerdict(r).line).toMatch(/^UNRELIABLE: .*zero-gradients/);
    }
  });

  it('PGD then Square: the black-box attack fools what the white-box one could not, and the check says so', async () => {
    const r = await evaluate(model, data, { attacks: [pgd(), square({ queries: 500 })], epsilons: [0.3], seed: 0 });
    const [white, black] = r.attacks;
    expect(white!.robustAccuracy).toBeGreaterThan(0.5);
    expect(black!.succeeded).toBeGreaterThan(0.8 * black!.attacked);
    expect(r.warnings.map((w) => w.code)).toContain('black-box-beats-white-box');
  });
});
