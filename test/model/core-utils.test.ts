// Small public helpers of the core: seeds, hashes, format detection, package info.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { createRng, deriveSeed, randomTargets } from '../../src/rng.js';
import { sha256Bytes, sha256Tensors } from '../../src/hash.js';
import { detectTfjsFormat } from '../../src/load.js';
import { fromFunction, isDifferentiable, type QueryModel } from '../../src/model.js';
import { libraryVersion, packageAssets } from '../../src/package-info.js';
import { ConfigError, ModelLoadError } from '../../src/errors.js';

describe('seeds', () => {
  it('createRng repeats its sequence per seed and rejects non-finite seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = [a.next(), a.int(10), a.seed()];
    expect([b.next(), b.int(10), b.seed()]).toEqual(xs);
    expect(createRng(43).next()).not.toBe(xs[0]);
    expect(() => createRng(NaN)).toThrow(ConfigError);
  });

  it('deriveSeed gives independent, stable 31-bit sub-seeds per path', () => {
    expect(deriveSeed(0, 1, 2)).toBe(deriveSeed(0, 1, 2));
    expect(deriveSeed(0, 1, 2)).not.toBe(deriveSeed(0, 2, 1));
    expect(deriveSeed(1, 1, 2)).not.toBe(deriveSeed(0, 1, 2));
    const s = deriveSeed('x', 3);
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
  });

  it('randomTargets never equals the label and covers the other classes', () => {
    const labels = Int32Array.from({ length: 300 }, (_, i) => i % 3);
    const t = randomTargets(labels, 3, 9);
    t.forEach((v, i) => {
      expect(v).not.toBe(labels[i]);
      expect(v >= 0 && v < 3).toBe(true);
    });
    expect(new Set(t).size).toBe(3);
    expect(Array.from(randomTargets(labels, 3, 9))).toEqual(Array.from(t));
    expect(() => randomTargets(labels, 1, 0)).toThrow(ConfigError);
  });
});

describe('hashes', () => {
  it('sha256Bytes is plain SHA-256 of the concatenated parts', () => {
    const expected = createHash('sha256')
      .update('ab')
      .update(new Uint8Array([1, 2]))
      .digest('hex');
    expect(sha256Bytes(['ab', new Uint8Array([1, 2])])).toBe(expected);
  });

  it('sha256Tensors depends on dtype, shape and values', async () => {
    const a = tf.tensor1d([1, 2, 3, 4]);
    const b = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const c = tf.tensor1d([1, 2, 3, 4], 'int32');
    const hashes = await Promise.all([sha256Tensors([a]), sha256Tensors([b]), sha256Tensors([c]), sha256Tensors([a])]);
    expect(new Set(hashes).size).toBe(3);
    expect(hashes[0]).toBe(hashes[3]);
    tf.dispose([a, b, c]);
  });
});

describe('model helpers', () => {
  it('detectTfjsFormat reads the declared format or the topology', () => {
    expect(detectTfjsFormat({ format: 'graph-model', modelTopology: {} } as never)).toBe('graph-model');
    expect(detectTfjsFormat({ modelTopology: { node: [] } } as never)).toBe('graph-model');
    expect(detectTfjsFormat({ modelTopology: { class_name: 'Sequential' } } as never)).toBe('layers-model');
    expect(() => detectTfjsFormat({ modelTopology: { foo: 1 } } as never, 'm.json')).toThrow(ModelLoadError);
  });

  it('isDifferentiable tells the kinds apart', () => {
    const d = fromFunction((x) => x, { numClasses: 2, inputShape: [2] });
    const q = { ...d, kind: 'query' } as unknown as QueryModel;
    expect(isDifferentiable(d)).toBe(true);
    expect(isDifferentiable(q)).toBe(false);
  });

  it('package info points at this package', () => {
    expect(libraryVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(existsSync(join(packageAssets(), 'mnist-cnn', 'model.json'))).toBe(true);
  });
});
