// Numeric audit of the kernels the ONNX importer relies on, on every backend (run with --project cpu and --project
// wasm): tiny (1e-30), denormal (1e-40), zero, negative zero and huge (3e38) inputs against exact expectations.
// tfjs-wasm 4.22's Sign kernel returns 0 for |x| <= 1e-7; the importer's Sign must not.
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { GraphExecutor } from '../../src/onnx/graph.js';
import { importOnnx } from '../../src/onnx/import.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { deviceValue, toHost, type Value } from '../../src/onnx/value.js';
import { buildModel, type NodeSpec, type TensorSpec } from './build.js';

const f = Math.fround;
/** Float32 values of interest: denormal, tiny, zero, negative zero, ordinary, huge. */
const X = [1e-40, -1e-40, 1e-30, -1e-30, 0, -0, 1e-7, -1e-7, 1e-6, 1, -1, 3e38, -3e38].map(f);
/** A second operand: neighbours and opposites of X, so comparisons and Max/Min meet ties, tiny gaps and signed zeros. */
const Y = [0, -1e-40, 1.1e-30, -1e-30, -0, 0, 1e-7, 1e-7, 1e-6, 1.0000001, -1, 3.0000001e38, -3e38].map(f);

/** Runs one node on device inputs `x` (and `y` when given) and returns the output's values. */
function run(node: NodeSpec, x: number[], y?: number[], initializers: TensorSpec[] = []): number[] {
  const bytes = buildModel({
    opset: 13,
    input: { name: 'x', dims: [x.length] },
    output: { name: 'out', dims: [] },
    nodes: [node],
    initializers,
    ...(y ? { extraInputs: [{ name: 'y', dims: [y.length], elem: 1 }] } : {}),
  });
  const exec = new GraphExecutor(decodeModel(bytes));
  try {
    return tf.tidy(() => {
      const feeds = new Map<string, Value>([['x', deviceValue(tf.tensor1d(x, 'float32'), 'float32')]]);
      if (y) feeds.set('y', deviceValue(tf.tensor1d(y, 'float32'), 'float32'));
      const out = exec.run(feeds, ['out'])[0]!;
      expect(out.host).toBeUndefined(); // the tfjs kernel ran, not host arithmetic
      return Array.from(toHost(out).data);
    });
  } finally {
    exec.dispose();
  }
}

/** Exact equality, with +0 and -0 told apart only when `signedZero`. */
function expectExact(got: number[], want: number[], signedZero = false): void {
  const norm = (v: number): number => (signedZero ? v : v + 0);
  expect(got.map(norm)).toEqual(want.map(norm));
}

describe(`importer kernels at the edges of float32 (${tf.getBackend()})`, () => {
  it('Sign: ±1 for every non-zero input, denormals included; 0 for ±0', () => {
    expectExact(
      run({ op: 'Sign', inputs: ['x'], outputs: ['out'] }, X),
      X.map((v) => (v > 0 ? 1 : v < 0 ? -1 : 0)),
    );
  });

  it('Sign has a zero gradient (it can sit on the gradient path)', () => {
    const bytes = buildModel({
      opset: 13,
      input: { name: 'x', dims: ['n', 3] },
      output: { name: 'logits', dims: ['n', 3] },
      nodes: [
        { op: 'Sign', inputs: ['x'], outputs: ['s'] },
        { op: 'Add', inputs: ['s', 'x'], outputs: ['logits'] },
      ],
    });
    const m = importOnnx(bytes, { bounds: [-1, 1] });
    const x = tf.tensor2d([[1e-30, -1e-8, 0.5]]);
    const logits = m.logits(x);
    expectExact(Array.from(logits.dataSync()), [f(1 + f(1e-30)), f(-1 + f(-1e-8)), 1.5]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(m.logits(t)))(x);
    expectExact(Array.from(g.dataSync()), [1, 1, 1]);
    tf.dispose([x, logits, g]);
    m.dispose();
  });

  it('Abs: exact magnitude, denormals and huge values included', () => {
    expectExact(
      run({ op: 'Abs', inputs: ['x'], outputs: ['out'] }, X),
      X.map((v) => Math.abs(v)),
    );
  });

  it('Relu: 0 for every non-positive input (±0, negative denormals, -3e38), the input otherwise', () => {
    expectExact(
      run({ op: 'Relu', inputs: ['x'], outputs: ['out'] }, X),
      X.map((v) => (v > 0 ? v : 0)),
    );
  });

  it.each([
    ['Greater', (a: number, b: number) => a > b],
    ['Less', (a: number, b: number) => a < b],
    ['Equal', (a: number, b: number) => a === b],
    ['GreaterOrEqual', (a: number, b: number) => a >= b],
    ['LessOrEqual', (a: number, b: number) => a <= b],
  ] as const)('%s: exact on tiny gaps, denormals and signed zeros', (op, cmp) => {
    expectExact(
      run({ op, inputs: ['x', 'y'], outputs: ['out'] }, X, Y),
      X.map((a, i) => (cmp(a, Y[i]!) ? 1 : 0)),
    );
  });

  it.each([
    ['Max', Math.max],
    ['Min', Math.min],
  ] as const)('%s: picks the exact operand on tiny gaps, denormals and huge values', (op, pick) => {
    expectExact(
      run({ op, inputs: ['x', 'y'], outputs: ['out'] }, X, Y),
      X.map((a, i) => pick(a, Y[i]!)),
    );
  });

  it.each([
    ['tiny bounds', 1e-30, 2e-30],
    ['denormal bounds', -1e-40, 1e-40],
    ['huge bounds', -3e38, 3e38],
    ['a tiny lower and huge upper bound', 1e-30, 3e38],
    ['zero bounds', 0, 0],
  ])('Clip with %s: exact', (_what, lo, hi) => {
    const [l, h] = [f(lo), f(hi)];
    const got = run({ op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['out'] }, X, undefined, [
      { name: 'lo', dims: [], values: [l] },
      { name: 'hi', dims: [], values: [h] },
    ]);
    expectExact(
      got,
      X.map((v) => Math.min(Math.max(v, l), h)),
    );
  });
});
