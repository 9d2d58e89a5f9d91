// What every target does with a model that loaded: one forward pass on zeros (when the declared input is small),
// then dispose, so that a model that loads but cannot run is caught too.
import * as tf from '../../../src/tf.js';
import type { Model } from '../../../src/model.js';

/** Runs `model.logits` on one zero input when it holds at most `maxElements` values, then disposes the model. */
export async function exercise(model: Model, maxElements = 1e5): Promise<void> {
  try {
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    if (per <= maxElements) {
      const x = tf.zeros([1, ...model.inputShape]);
      try {
        const y = await model.logits(x);
        y.dispose();
      } finally {
        x.dispose();
      }
    }
  } finally {
    model.dispose();
  }
}
