// Property tests: each gradient override equals tfjs's own gradient on the cpu backend (the reference: tfjs's
// wasm backend lacks Conv2DBackpropFilter and the depthwise backprop kernels, and its MaxPoolGrad is wrong for
// 2×2 windows), on the cpu and the wasm backend: max |override − reference| ≤ 1e-5 × the reference's scale, the
// scale being the largest |gradient| or, for sums, the largest Σ|terms| (tfjs's own float32 sums are only that exact).
// Runs on both backends itself (the folder is in the cpu vitest project only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '../../src/tf.js';
import { initBackend, type BackendName } from '../../src/backend.js';
import { disableFastGradients } from '../../src/gradients/index.js';
import { dilateFilter, gradsOn, input, relErr, values, type Input } from './helpers.js';

const TOL = 1e-5;
const RUNS = Number(process.env['ROBUSTEST_FC_RUNS'] ?? 25);

type Pad = 'valid' | 'same' | [[0, 0], [number, number], [number, number], [0, 0]];

const padArb: fc.Arbitrary<Pad> = fc.oneof(
  fc.constant('valid' as const),
  fc.constant('same' as const),
  fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)).map(
    ([t, b, l, r]) =>
      [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ] as Pad,
  ),
);

/** Strides and dilations, at most one of them above 1 (tfjs's rule for convolutions). */
const stridesDilationsArb = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
    .map((s) => ({ strides: s as [number, number], dilations: [1, 1] as [number, number] })),
  fc
    .tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }))
    .map((d) => ({ strides: [1, 1] as [number, number], dilations: d as [number, number] })),
);

function outputFits(xShape: number[], kh: number, kw: number, strides: [number, number], dilations: [number, number], pad: Pad, depthwise: boolean): boolean {
  try {
    const info = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      [kh, kw, xShape[3]!, 1],
      strides,
      dilations,
      pad,
      undefined,
      depthwise,
    );
    return info.outHeight > 0 && info.outWidth > 0;
  } catch {
    return false;
  }
}

async function expectClose(backend: string, f: (...xs: tf.Tensor[]) => tf.Tensor, ref: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Input[]): Promise<void> {
  const expected = await gradsOn('cpu', 'tfjs', ref, inputs);
  const bound = await gradsOn('cpu', 'tfjs', ref, inputs, 99, true);
  const actual = await gradsOn(backend, 'fast', f, inputs);
  expected.forEach((e, i) => {
    const err = relErr(actual[i]!, e, bound[i]);
    if (!(err <= TOL)) throw new Error(`gradient ${i}: relative error ${err} > ${TOL}`);
  });
}

describe.each(['cpu', 'wasm'] as const)('gradient overrides on %s', (backend) => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await initBackend(backend);
  });
  afterAll(async () => {
    disableFastGradients();
    await initBackend(previous as BackendName);
  });

  it('Conv2D: input and filter gradients, any strides/dilations/padding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          ci: fc.integer({ min: 1, max: 6 }),
          co: fc.integer({ min: 1, max: 4 }),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          sd: stridesDilationsArb,
          pad: padArb,
          seed: fc.nat(),
        }),
        async ({ n, h, w, ci, co, kh, kw, sd, pad, seed }) => {
          fc.pre(outputFits([n, h, w, ci], kh, kw, sd.strides, sd.dilations, pad, false));
          const f = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, sd.strides, pad, 'NHWC', sd.dilations);
          // tfjs's own gradient rejects dilations > 1: the reference uses the equivalent zero-dilated filter.
          const ref = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.conv2d(x as tf.Tensor4D, dilateFilter(k, ...sd.dilations), sd.strides, pad, 'NHWC', 1);
          await expectClose(backend, f, ref, [input([n, h, w, ci], seed), input([kh, kw, ci, co], seed + 1)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("Conv2D: the bundled model's layer shapes (few-channel path and the general path)", async () => {
    const f = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid');
    await expectClose(backend, f, f, [input([4, 28, 28, 1], 1), input([3, 3, 1, 16], 2)]);
    await expectClose(backend, f, f, [input([4, 13, 13, 16], 3), input([3, 3, 16, 32], 4)]);
  });

  it('DepthwiseConv2dNative: input and filter gradients, channel multipliers, strides/dilations/padding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 8 }),
          w: fc.integer({ min: 1, max: 8 }),
          c: fc.integer({ min: 1, max: 4 }),
          m: fc.integer({ min: 1, max: 3 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          sd: stridesDilationsArb,
          pad: fc.oneof(fc.constant('valid' as const), fc.constant('same' as const)),
          seed: fc.nat(),
        }),
        async ({ n, h, w, c, m, kh, kw, sd, pad, seed }) => {
          fc.pre(outputFits([n, h, w, c], kh, kw, sd.strides, sd.dilations, pad, true));
          const f = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, sd.strides, pad, 'NHWC', sd.dilations);
          const ref = (x: tf.Tensor, k: tf.Tensor): tf.Tensor =>
            tf.depthwiseConv2d(x as tf.Tensor4D, dilateFilter(k, ...sd.dilations), sd.strides, pad, 'NHWC', 1);
          await expectClose(backend, f, ref, [input([n, h, w, c], seed), input([kh, kw, c, m], seed + 1)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('MaxPool: tiling windows (stride = window) route dy to the first maximum exactly as tfjs-cpu, ties included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 10 }),
          w: fc.integer({ min: 1, max: 10 }),
          c: fc.integer({ min: 1, max: 4 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          pad: fc.oneof(fc.constant('valid' as const), fc.constant('same' as const)),
          kind: fc.constantFrom('uniform' as const, 'ties' as const),
          seed: fc.nat(),
        }),
        async ({ n, h, w, c, kh, kw, pad, kind, seed }) => {
          fc.pre(pad === 'same' || (h >= kh && w >= kw));
          const f = (x: tf.Tensor): tf.Tensor => tf.maxPool(x as tf.Tensor4D, [kh, kw], [kh, kw], pad);
          await expectClose(backend, f, f, [input([n, h, w, c], seed, kind)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  // Overlapping windows use the loop kernel of src/gradients/kernels.ts on both backends (tfjs's own wasm
  // MaxPoolGrad is wrong with `same` padding), with `valid`, `same` and numeric padding (`floor` rounding).
  it('MaxPool: overlapping windows, ties included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 3, max: 10 }),
          w: fc.integer({ min: 3, max: 10 }),
          c: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 2, max: 3 }),
          s: fc.integer({ min: 1, max: 2 }),
          pad: fc.oneof(fc.constant('valid' as const), fc.constant('same' as const), fc.integer({ min: 0, max: 1 })),
          ties: fc.boolean(),
          seed: fc.nat(),
        }),
        async ({ n, h, w, c, k, s, pad, ties, seed }) => {
          fc.pre(k !== s);
          // 'floor' rounding: with 'ceil', tfjs-cpu's MaxPoolGrad drops the windows the rounding adds past the
          // input (not the derivative of its forward pass); the override does not.
          const f = (x: tf.Tensor): tf.Tensor => tf.maxPool(x as tf.Tensor4D, k, s, pad, typeof pad === 'number' ? 'floor' : undefined);
          const kind = ties ? 'ties' : 'distinct';
          await expectClose(backend, f, f, [input([n, h, w, c], seed, kind)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('MaxPool with ceil rounding: windows past the input get their gradient (the derivative of the forward pass)', async () => {
    // 6×3 input, 3×3 windows, stride 2, ceil: the third window covers rows 4–5 only; its maximum (0.83 at
    // [5, 0]) gets dy. tfjs-cpu's own MaxPoolGrad drops that window.
    const data = Float32Array.from({ length: 18 }, (_, i) => ((i * 7) % 18) / 18);
    const f = (x: tf.Tensor): tf.Tensor => tf.maxPool(x as tf.Tensor4D, 3, 2, 0, 'ceil');
    const [g] = await gradsOn(backend, 'fast', f, [{ data, shape: [1, 6, 3, 1] }]);
    const r = values(3, 99);
    const expected = new Float32Array(18);
    expected[5] = r[0]!;
    expected[10] = r[1]!;
    expected[15] = r[2]!;
    expect(Array.from(g!)).toEqual(Array.from(expected));
  });

  it('backprop kernels: fused linear conv/depthwise (tfjs-layers convolutions without activation) and conv2dTranspose', async () => {
    const pad: [[0, 0], [number, number], [number, number], [0, 0]] = [
      [0, 0],
      [1, 0],
      [0, 1],
      [0, 0],
    ];
    // tf.fused.* with a linear activation is a customGrad inside tfjs calling Conv2DBackpropInput/Filter (and the
    // depthwise ones) directly: on wasm those failed or were slow before the kernels were replaced.
    const fused = (x: tf.Tensor, k: tf.Tensor, b: tf.Tensor): tf.Tensor =>
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: k as tf.Tensor4D, strides: 2, pad: 'same', bias: b });
    const plain = (x: tf.Tensor, k: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'), b);
    await expectClose(backend, fused, plain, [input([2, 7, 6, 3], 1), input([3, 3, 3, 4], 2), input([4], 3)]);
    const fusedDw = (x: tf.Tensor, k: tf.Tensor): tf.Tensor =>
      tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: k as tf.Tensor4D, strides: 1, pad: 'same' });
    const plainDw = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same');
    await expectClose(backend, fusedDw, plainDw, [input([2, 6, 5, 3], 4), input([3, 3, 3, 2], 5)]);
    // conv2dTranspose's forward pass is Conv2DBackpropInput.
    const ct = (x: tf.Tensor, k: tf.Tensor): tf.Tensor => tf.conv2dTranspose(x as tf.Tensor4D, k as tf.Tensor4D, [2, 8, 8, 3], 2, pad);
    await expectClose(backend, ct, ct, [input([2, 4, 4, 4], 6), input([3, 3, 3, 4], 7)]);
  });

  it('AvgPool: equals tfjs without padding, and the derivative of the forward pass with padding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          c: fc.integer({ min: 1, max: 3 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          pad: fc.oneof(fc.constant('valid' as const), fc.constant('same' as const)),
          seed: fc.nat(),
        }),
        async ({ n, h, w, c, kh, kw, sh, sw, pad, seed }) => {
          fc.pre(pad === 'same' || (h >= kh && w >= kw));
          const f = (x: tf.Tensor): tf.Tensor => tf.avgPool(x as tf.Tensor4D, [kh, kw], [sh, sw], pad);
          // The reference: a depthwise sum over the window divided by the number of in-bounds pixels, which is
          // what tfjs's forward avgPool computes (for valid padding also exactly tfjs's own gradient).
          const ref = (x: tf.Tensor): tf.Tensor => {
            const ones = tf.ones([kh, kw, c, 1]) as tf.Tensor4D;
            const sum = tf.depthwiseConv2d(x as tf.Tensor4D, ones, [sh, sw], pad);
            const count = tf.depthwiseConv2d(tf.onesLike(x) as tf.Tensor4D, ones, [sh, sw], pad);
            return tf.div(sum, count);
          };
          await expectClose(backend, f, ref, [input([n, h, w, c], seed)]);
          if (pad === 'valid') await expectClose(backend, f, f, [input([n, h, w, c], seed)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('BatchMatMul: both gradients for every pair of transpose flags, rank 2 and 3', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          m: fc.integer({ min: 1, max: 7 }),
          k: fc.integer({ min: 1, max: 7 }),
          p: fc.integer({ min: 1, max: 7 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          seed: fc.nat(),
        }),
        async ({ batch, m, k, p, ta, tb, seed }) => {
          const lead = batch === undefined ? [] : [batch];
          const aShape = [...lead, ...(ta ? [k, m] : [m, k])];
          const bShape = [...lead, ...(tb ? [p, k] : [k, p])];
          const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.matMul(a, b, ta, tb);
          await expectClose(backend, f, f, [input(aShape, seed), input(bShape, seed + 1)]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('Relu, Relu6, LeakyRelu (any alpha), Elu, zeros and the Relu6 cap included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
          alpha: fc.float({ min: Math.fround(-2), max: Math.fround(2), noNaN: true }),
          seed: fc.nat(),
        }),
        async ({ shape, alpha, seed }) => {
          const x = input(shape, seed);
          // Exact 0 and 6 (the kinks) and values beyond 6.
          x.data.forEach((v, i) => (x.data[i] = i % 5 === 0 ? 0 : i % 7 === 0 ? 6 : v * 8));
          await expectClose(
            backend,
            (t) => tf.relu(t),
            (t) => tf.relu(t),
            [x],
          );
          await expectClose(
            backend,
            (t) => tf.relu6(t),
            (t) => tf.relu6(t),
            [x],
          );
          await expectClose(
            backend,
            (t) => tf.leakyRelu(t, alpha),
            (t) => tf.leakyRelu(t, alpha),
            [x],
          );
          await expectClose(
            backend,
            (t) => tf.elu(t),
            (t) => tf.elu(t),
            [x],
          );
        },
      ),
      { numRuns: Math.max(5, Math.floor(RUNS / 2)) },
    );
  });
});
