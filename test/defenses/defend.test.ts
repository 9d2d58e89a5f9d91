// defend(): BPDA gradients equal the identity's (or the approximation's), exact gradients through differentiable
// transforms, EOT reproducible under a seed and equal to the average of its draws, provenance flags, no leaks.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError } from '../../src/errors.js';
import { crossEntropy } from '../../src/losses.js';
import { deriveSeed } from '../../src/rng.js';
import type { QueryModel } from '../../src/model-types.js';
import { bitDepth, defend, gaussianNoise, jpeg, medianSmoothing, randomResizePad, type InputTransform } from '../../defenses/index.js';
import { expectNoLeak, seededValues, tinyConvModel } from '../helpers/models.js';
import { expectThrows } from '../helpers/errors.js';

const { model, dispose } = tinyConvModel({ size: 8, numClasses: 3, seed: 4 });
afterAll(dispose);
const x = tf.tensor4d(seededValues(4 * 64, 2), [4, 8, 8, 1]);
const y = tf.tensor1d([0, 1, 2, 0], 'int32');
const loss = crossEntropy(y, 3);
const ctx = (seed: number) => ({ bounds: model.bounds, layout: model.layout, seed });
afterAll(() => tf.dispose([x, y]));

async function host(t: tf.Tensor): Promise<Float32Array> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

/** The base model's loss gradient at `z`. */
async function baseGrad(z: tf.Tensor): Promise<Float32Array> {
  const { value, grad } = await model.valueAndGrad(z, loss);
  value.dispose();
  return host(grad);
}

describe('defend', () => {
  it('BPDA: through bit-depth reduction and JPEG the gradient is the identity, i.e. the model gradient at the transformed input', async () => {
    for (const transforms of [[bitDepth(3)], [jpeg(60)], [jpeg(60), bitDepth(3)]]) {
      const d = defend(model, transforms);
      const { value, grad } = await d.valueAndGrad(x, loss);
      const t = tf.tidy(() => transforms.reduce<tf.Tensor>((v, tr, i) => tr.apply(v, ctx(deriveSeed(deriveSeed(0, 0), i))), x));
      expect(await host(grad)).toEqual(await baseGrad(t));
      const { value: v2, grad: g2 } = await model.valueAndGrad(t, loss);
      expect(await host(value)).toEqual(await host(v2));
      tf.dispose([t, g2]);
      expect(d.defense).toMatchObject({ gradient: 'bpda', eotSamples: 1, random: false, nonDifferentiable: true, adaptive: true });
    }
  });

  it("BPDA uses a transform's approximate when it has one; gradient 'exact' gives zero through non-differentiable transforms", async () => {
    const doubled: InputTransform = { ...bitDepth(3), approximate: (v) => tf.mul(v, 2) };
    const d = defend(model, [doubled]);
    const { value, grad } = await d.valueAndGrad(x, loss);
    const t = bitDepth(3).apply(x, ctx(0));
    const expected = (await baseGrad(t)).map((g) => 2 * g);
    expect(await host(grad)).toEqual(expected);
    const exact = defend(model, [jpeg(60)], { gradient: 'exact' });
    const r = await exact.valueAndGrad(x, loss);
    expect(Array.from(await host(r.grad)).every((g) => g === 0)).toBe(true);
    expect(exact.defense.adaptive).toBe(false);
    tf.dispose([value, t, r.value]);
  });

  it('differentiable transforms get their exact gradient (median smoothing, against tf.grad through the composition)', async () => {
    const d = defend(model, [medianSmoothing(3)]);
    const { value, grad } = await d.valueAndGrad(x, loss);
    const direct = tf.grad((v: tf.Tensor) => tf.sum(loss(model.logits(medianSmoothing(3).apply(v, ctx(0))))))(x);
    const [a, b] = [await host(grad), await host(direct)];
    for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i]!, 5);
    expect(a.some((v) => v !== 0)).toBe(true);
    value.dispose();
  });

  it('logits: the model at the transformed input; a random defense draws per call, reproducibly under the seed', async () => {
    const d = defend(model, [jpeg(50)]);
    const t = jpeg(50).apply(x, ctx(0));
    expect(await host(d.logits(x))).toEqual(await host(model.logits(t)));
    t.dispose();
    const calls = async (seed: number) => {
      const r = defend(model, [gaussianNoise(0.2)], { seed });
      return [await host(r.logits(x)), await host(r.logits(x))];
    };
    const [a1, a2] = await calls(5);
    const [b1, b2] = await calls(5);
    expect(b1).toEqual(a1);
    expect(b2).toEqual(a2);
    expect(a2).not.toEqual(a1);
    expect((await calls(6))[0]).not.toEqual(a1);
  });

  it('EOT: the loss and gradient are the average over eotSamples seeded draws, bit-identical across runs', async () => {
    const transforms = [randomResizePad(1.3), gaussianNoise(0.1)];
    const run = async () => {
      const d = defend(model, transforms, { eotSamples: 4, seed: 3 });
      const { value, grad } = await d.valueAndGrad(x, loss);
      return [await host(value), await host(grad)];
    };
    const [v1, g1] = await run();
    const [v2, g2] = await run();
    expect(v2).toEqual(v1);
    expect(g2).toEqual(g1);
    // The average of the four draws, each with the exact gradient of loss(model(t2(t1(x)))).
    const call = deriveSeed(3, 0);
    let sum = new Float32Array(g1!.length);
    let vsum = new Float32Array(4);
    for (let s = 0; s < 4; s++) {
      const seed = deriveSeed(call, s);
      const f = (v: tf.Tensor) => loss(model.logits(transforms[1]!.apply(transforms[0]!.apply(v, ctx(deriveSeed(seed, 0))), ctx(deriveSeed(seed, 1)))));
      const { value, grad } = tf.valueAndGrad((v: tf.Tensor) => tf.sum(f(v)))(x);
      const lv = f(x);
      sum = sum.map((a, i) => a + (grad.dataSync()[i] as number));
      vsum = vsum.map((a, i) => a + (lv.dataSync()[i] as number));
      tf.dispose([value, grad, lv]);
    }
    for (const [i, g] of g1!.entries()) expect(g).toBeCloseTo(sum[i]! / 4, 5);
    for (const [i, v] of v1!.entries()) expect(v).toBeCloseTo(vsum[i]! / 4, 5);
    const d = defend(model, transforms);
    expect(d.defense).toMatchObject({ eotSamples: 10, random: true, nonDifferentiable: false, adaptive: true });
    expect(defend(model, transforms, { eotSamples: 1 }).defense.adaptive).toBe(false);
  });

  it('a query model stays a query model with the transforms in front', async () => {
    const q: QueryModel = {
      ...model,
      kind: 'query',
      logits: (v: tf.Tensor) => Promise.resolve(model.logits(v)),
      fingerprint: () => model.fingerprint(),
      dispose: () => undefined,
    };
    const d = defend(q, [bitDepth(2)]);
    expect(d.kind).toBe('query');
    const t = bitDepth(2).apply(x, ctx(0));
    expect(await host(await d.logits(x))).toEqual(await host(model.logits(t)));
    expect(await d.fingerprint()).toBe(await model.fingerprint());
    t.dispose();
  });

  it('leaves no tensors behind (logits, valueAndGrad with BPDA, exact and EOT)', async () => {
    for (const d of [
      defend(model, [jpeg(70), medianSmoothing(2)]),
      defend(model, [bitDepth(2)], { gradient: 'exact' }),
      defend(model, [gaussianNoise(0.1)], { eotSamples: 3 }),
    ]) {
      await expectNoLeak(async () => {
        d.logits(x).dispose();
        const { value, grad } = await d.valueAndGrad(x, loss);
        tf.dispose([value, grad]);
      });
    }
  });

  it('refuses bad options with typed errors naming the option', () => {
    expectThrows(() => defend(model, []), ConfigError, /defend: expected at least one transform/);
    expectThrows(() => defend(model, [gaussianNoise(0.1)], { eotSamples: 0 }), ConfigError, /eotSamples/);
    expectThrows(() => defend(model, [bitDepth(2)], { gradient: 'bdpa' as 'bpda' }), ConfigError, /gradient/);
    const d = defend(model, [bitDepth(2)]);
    const bad = tf.zeros([1, 4, 4, 1]);
    expectThrows(() => d.logits(bad), Error, /expected input of shape \[N, 8, 8, 1\]/);
    bad.dispose();
  });
});
