// The test helpers must be able to fail: expectNoLeak fails a test that leaves tensors behind.
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { expectNoLeak } from './models.js';

describe('expectNoLeak', () => {
  it('passes when fn disposes what it creates', async () => {
    expect(await expectNoLeak(() => tf.tidy(() => tf.add(tf.ones([2]), 1).dispose()))).toBe(0);
  });

  it('fails when fn leaves a tensor behind', async () => {
    let kept: tf.Tensor | undefined;
    await expect(expectNoLeak(() => (kept = tf.zeros([3])))).rejects.toThrow(/expectNoLeak: expected no tensors left behind, got 1/);
    kept?.dispose();
  });
});
