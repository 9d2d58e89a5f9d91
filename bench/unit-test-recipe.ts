// The README's unit-test recipe, measured: toHaveRobustAccuracy's engine (checkRobustAccuracy) on the bundled model,
// PGD-10 and PGD-20 at ε = 0.1 on 100 and 200 images, with onnxruntime's and tfjs's gradients: seconds, robust
// accuracy and the 95% interval's width.   npx tsx bench/unit-test-recipe.ts [backend]
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadModel, loadData, packageAssets, pgd, checkRobustAccuracy, type GradientEngine } from '../src/index.js';
tf.env().set('PROD', true);
const backend = await initBackend((process.argv[2] ?? 'auto') as 'auto');
const assets = packageAssets();
for (const engine of ['auto', 'tfjs'] as GradientEngine[]) {
  const model = await loadModel(join(assets, 'mnist-cnn', 'model.json'), { engine });
  for (const n of [100, 200]) {
    const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
      labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      inputShape: model.inputShape,
      limit: n,
    });
    for (const steps of [10, 20]) {
      const t0 = performance.now();
      const v = await checkRobustAccuracy(model, { data, attack: pgd({ steps }), epsilon: 0.1, atLeast: 0.2 });
      const s = (performance.now() - t0) / 1000;
      const p = v.report.curve[0]!;
      console.log(
        `${backend.name} ${model.engine} n=${n} pgd-${steps}: ${s.toFixed(2)} s, clean ${(100 * v.report.cleanAccuracy).toFixed(1)}%, robust ${(100 * p.robustAccuracy).toFixed(1)}% CI [${(100 * p.ci.lower).toFixed(1)}, ${(100 * p.ci.upper).toFixed(1)}] width ${(100 * (p.ci.upper - p.ci.lower)).toFixed(1)} pts`,
      );
    }
  }
  model.dispose();
}
