// A third-party tfjs graph model converted the old way (tfjs-converter 1.x: no signature, fused ops, a final
// Softmax node): the class count is inferred with one forward pass, the softmax's input (the logits) is attacked,
// and a `softmax-removed` warning says so. The fixture is test/fixtures/graph-model-v1 (see generate.ts there).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { fromGraphModel, MODEL_WARNING_CODES, type DifferentiableModel } from '../../src/model.js';
import { loadModel } from '../../src/load.js';
import { crossEntropy } from '../../src/losses.js';
import { ConfigError } from '../../src/errors.js';
import { seededValues } from '../helpers/models.js';
import { fixtureModelJson, fixtureWeightBytes, fixtureWeights } from '../fixtures/graph-model-v1/generate.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'graph-model-v1');
const SHARD = 'group1-shard1of1.bin';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A copy of the fixture whose model.json is changed by `edit`. */
async function variant(edit: (json: { modelTopology: { node: Record<string, unknown>[] } }) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'robustest-graph-'));
  dirs.push(dir);
  const json = JSON.parse(await readFile(join(FIXTURE, 'model.json'), 'utf8')) as { modelTopology: { node: Record<string, unknown>[] } };
  edit(json);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  await copyFile(join(FIXTURE, SHARD), join(dir, SHARD));
  return dir;
}

/**
 * The fixture's forward pass in plain JavaScript (no tfjs kernels): conv 3×3 VALID + bias + relu, flatten, dense +
 * bias. Returns the logits and, for cross-entropy with `labels`, the input-gradient of the summed loss.
 */
function reference(x: Float32Array, n: number, labels: number[]): { logits: number[]; grad: number[] } {
  const w = fixtureWeights();
  const logits: number[] = [];
  const grad = new Array<number>(x.length).fill(0);
  for (let s = 0; s < n; s++) {
    const xi = (i: number, j: number): number => x[s * 36 + i * 6 + j]!;
    const pre = new Array<number>(32).fill(0);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        for (let c = 0; c < 2; c++) {
          let v = w.convBias[c]!;
          for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) v += xi(i + di, j + dj) * w.kernel[(di * 3 + dj) * 2 + c]!;
          pre[(i * 4 + j) * 2 + c] = v;
        }
    const h = pre.map((v) => Math.max(v, 0));
    const z = [0, 1, 2].map((k) => h.reduce((a, hv, r) => a + hv * w.dense[r * 3 + k]!, w.denseBias[k]!));
    logits.push(...z);
    // Cross-entropy on the logits: dL/dz = softmax(z) - onehot(label).
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    const dz = e.map((v, k) => v / sum - (k === labels[s] ? 1 : 0));
    const dh = h.map((_, r) => (pre[r]! > 0 ? dz.reduce((a, d, k) => a + d * w.dense[r * 3 + k]!, 0) : 0));
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        for (let c = 0; c < 2; c++)
          for (let di = 0; di < 3; di++)
            for (let dj = 0; dj < 3; dj++) grad[s * 36 + (i + di) * 6 + (j + dj)]! += dh[(i * 4 + j) * 2 + c]! * w.kernel[(di * 3 + dj) * 2 + c]!;
  }
  return { logits, grad };
}

async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

function expectClose(got: number[], want: number[], tol: number): void {
  expect(got).toHaveLength(want.length);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
  expect(worst).toBeLessThan(tol);
}

describe('an old-converter graph model (no signature, fused ops, final Softmax)', () => {
  it('is the fixture its generator writes (the fixture cannot drift from its description)', async () => {
    expect(JSON.parse(await readFile(join(FIXTURE, 'model.json'), 'utf8'))).toEqual(fixtureModelJson());
    expect(new Uint8Array(await readFile(join(FIXTURE, SHARD)))).toEqual(fixtureWeightBytes());
    const ops = (fixtureModelJson() as { modelTopology: { node: { op: string }[] } }).modelTopology.node.map((n) => n.op);
    expect(ops).toEqual(expect.arrayContaining(['_FusedConv2D', '_FusedMatMul', 'Softmax']));
    expect(fixtureModelJson()).not.toHaveProperty('signature');
  });

  it('loads: the class count from one forward pass, the softmax input as logits, a softmax-removed warning', async () => {
    const model = (await loadModel(FIXTURE)) as DifferentiableModel;
    expect(model.kind).toBe('differentiable');
    expect(model.numClasses).toBe(3);
    expect(model.inputShape).toEqual([6, 6, 1]);
    expect(model.layout).toBe('NHWC');
    expect(model.engine).toBe('tfjs');
    expect(model.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.softmaxRemoved]);
    expect(model.warnings[0]!.message).toMatch(/'dense\/Softmax' is a Softmax; attacks use its input 'dense\/BiasAdd'/);

    const n = 5;
    const xs = seededValues(n * 36, 7);
    const labels = [0, 1, 2, 0, 1];
    const ref = reference(xs, n, labels);
    // The references are logits, not probabilities: rows do not sum to 1.
    expect(Math.abs(ref.logits.slice(0, 3).reduce((a, b) => a + b, 0) - 1)).toBeGreaterThan(0.1);
    const x = tf.tensor4d(xs, [n, 6, 6, 1]);
    expectClose(await values(model.logits(x)), ref.logits, 1e-4);
    const y = tf.tensor1d(labels, 'int32');
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(y, 3));
    value.dispose();
    const g = await values(grad);
    expectClose(g, ref.grad, 1e-4);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('fromGraphModel on a GraphModel the user loaded does the same, and leaves the graph usable', async () => {
    const tfc = await import('@tensorflow/tfjs-converter');
    const bytes = await readFile(join(FIXTURE, SHARD));
    const json = fixtureModelJson() as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
    const net = await tfc.loadGraphModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0]!.weights,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      }),
    );
    const model = fromGraphModel(net, { name: 'old-graph' });
    expect(model.numClasses).toBe(3);
    expect(model.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.softmaxRemoved]);
    const xs = seededValues(2 * 36, 3);
    const x = tf.tensor4d(xs, [2, 6, 6, 1]);
    const y = tf.tensor1d([0, 2], 'int32');
    const ref = reference(xs, 2, [0, 2]);
    expectClose(await values(model.logits(x)), ref.logits, 1e-4);
    // The graph's own output is still the softmax of those logits.
    const probs = await values(net.execute(x) as tf.Tensor);
    const want = await values(tf.softmax(tf.tensor2d(ref.logits, [2, 3])));
    expectClose(probs, want, 1e-5);
    // The attacked gradient is the logits' one; the probabilities' gradient (softmax kept) is far from it.
    const { value, grad } = await model.valueAndGrad(x, crossEntropy(y, 3));
    value.dispose();
    expectClose(await values(grad), ref.grad, 1e-4);
    const kept = await values(tf.grad((xi: tf.Tensor) => tf.sum(crossEntropy(y, 3)(net.execute(xi) as tf.Tensor2D)))(x));
    expect(Math.max(...kept.map((v, i) => Math.abs(v - ref.grad[i]!)))).toBeGreaterThan(0.05);
    tf.dispose([x, y]);
    model.dispose();
    net.dispose();
  });

  it('looks through Identity nodes after the softmax, and treats LogSoftmax the same way', async () => {
    const withIdentity = await variant((j) => {
      j.modelTopology.node.push({ name: 'Identity', op: 'Identity', input: ['dense/Softmax'], attr: { T: { type: 'DT_FLOAT' } } });
    });
    const logSoftmax = await variant((j) => {
      const last = j.modelTopology.node.find((n) => n['op'] === 'Softmax')!;
      last['op'] = 'LogSoftmax';
      last['name'] = 'dense/LogSoftmax';
    });
    const xs = seededValues(36, 11);
    const ref = reference(xs, 1, [0]);
    for (const [dir, op] of [
      [withIdentity, 'Softmax'],
      [logSoftmax, 'LogSoftmax'],
    ] as const) {
      const model = (await loadModel(dir)) as DifferentiableModel;
      expect(model.numClasses).toBe(3);
      expect(model.warnings.map((w) => w.code)).toEqual([MODEL_WARNING_CODES.softmaxRemoved]);
      expect(model.warnings[0]!.message).toContain(`is a ${op}`);
      const x = tf.tensor4d(xs, [1, 6, 6, 1]);
      expectClose(await values(model.logits(x)), ref.logits, 1e-4);
      x.dispose();
      model.dispose();
    }
  });

  it('a graph that ends elsewhere keeps its output and gets no warning', async () => {
    const dir = await variant((j) => {
      j.modelTopology.node = j.modelTopology.node.filter((n) => n['op'] !== 'Softmax');
    });
    const model = (await loadModel(dir)) as DifferentiableModel;
    expect(model.numClasses).toBe(3);
    expect(model.warnings).toEqual([]);
    model.dispose();
  });

  it('refuses a graph with two outputs with a one-line ConfigError that names them', async () => {
    const dir = await variant((j) => {
      j.modelTopology.node.push({ name: 'features', op: 'Identity', input: ['conv2d/Relu'], attr: { T: { type: 'DT_FLOAT' } } });
    });
    const err = (await loadModel(dir).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/expected a graph with one output \(the class scores\), got 2: .*dense\/Softmax/);
  });

  it('needs inputShape when the graph does not declare its input dimensions, and says which flag to use', async () => {
    const dir = await variant((j) => {
      const input = j.modelTopology.node.find((n) => n['op'] === 'Placeholder')!;
      input['attr'] = { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '-1' }, { size: '-1' }, { size: '1' }] } } };
    });
    await expect(loadModel(dir)).rejects.toThrow(ConfigError);
    await expect(loadModel(dir)).rejects.toThrow(/expected a model input of shape \[N, \.\.\.\] with known dimensions, got \[N, N, N, 1\]; .*--input-shape/);
    const model = (await loadModel(dir, { inputShape: [6, 6, 1] })) as DifferentiableModel;
    expect(model.numClasses).toBe(3);
    model.dispose();
    // An input shape the graph cannot run on is a one-line ConfigError, not a tfjs stack.
    const err = (await loadModel(dir, { inputShape: [5, 5, 2] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/expected the graph to run on one input of shape \[1, 5, 5, 2\] to infer numClasses, got .*--input-shape, --num-classes/);
    expect(err.message).not.toContain('\n');
    // An explicit numClasses skips the forward pass.
    const named = (await loadModel(dir, { inputShape: [6, 6, 1], numClasses: 3 })) as DifferentiableModel;
    expect(named.numClasses).toBe(3);
    named.dispose();
  });

  it('does not leak: loading (with its forward pass), logits and valueAndGrad', async () => {
    const warm = (await loadModel(FIXTURE)) as DifferentiableModel;
    warm.dispose();
    const before = tf.memory().numTensors;
    const model = (await loadModel(FIXTURE)) as DifferentiableModel;
    const x = tf.tensor4d(seededValues(2 * 36, 5), [2, 6, 6, 1]);
    const y = tf.tensor1d([1, 2], 'int32');
    const inner = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      model.logits(x).dispose();
      const { value, grad } = await model.valueAndGrad(x, crossEntropy(y, 3));
      tf.dispose([value, grad]);
    }
    expect(tf.memory().numTensors).toBe(inner);
    tf.dispose([x, y]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
