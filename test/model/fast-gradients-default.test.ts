// The tfjs adapters turn robustest's gradient overrides on at their first gradient, unless the user chose.
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { fromFunction } from '../../src/model.js';
import { crossEntropy } from '../../src/losses.js';
import { disableFastGradients, enableFastGradients, fastGradientsActive, fastGradientsEnabled } from '../../src/gradients/index.js';

describe('fast gradients by default', () => {
  const model = fromFunction((x) => tf.relu(x), { numClasses: 3, inputShape: [3] });
  const x = tf.tensor2d([[0.2, 0.5, 0.1]]);
  const labels = tf.tensor1d([1], 'int32');

  it('are enabled by the first valueAndGrad', async () => {
    expect(fastGradientsEnabled()).toBe(false);
    expect(fastGradientsActive()).toBe(false);
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 3));
    tf.dispose([value, grad]);
    expect(fastGradientsEnabled()).toBe(true);
    expect(fastGradientsActive()).toBe(true);
  });

  it('stay off once the user disabled them, and on once the user enabled them', async () => {
    disableFastGradients();
    const a = await model.valueAndGrad(x, crossEntropy(labels, 3));
    tf.dispose([a.value, a.grad]);
    expect(fastGradientsEnabled()).toBe(false);
    enableFastGradients();
    expect(fastGradientsEnabled()).toBe(true);
    disableFastGradients();
  });
});
