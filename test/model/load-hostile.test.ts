// Hostile tfjs model.json files: weight paths that escape the folder (.., absolute, symlinks), malformed manifests,
// oversized shards, multi-line foreign messages; each a typed error on one line that names the reference only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelLoadError, RobustestError } from '../../src/errors.js';
import { loadModel } from '../../src/load.js';

const root = mkdtempSync(join(tmpdir(), 'robustest-load-hostile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A dense 4 → 3 layers model: its topology and weight specs (kernel then bias, 60 bytes in all). */
const topology = {
  class_name: 'Sequential',
  config: {
    name: 'tiny',
    layers: [{ class_name: 'Dense', config: { name: 'd', units: 3, activation: 'linear', use_bias: true, batch_input_shape: [null, 4], dtype: 'float32' } }],
  },
  keras_version: 'tfjs-layers 4.22.0',
  backend: 'tensor_flow.js',
};
const specs = [
  { name: 'd/kernel', shape: [4, 3], dtype: 'float32' },
  { name: 'd/bias', shape: [3], dtype: 'float32' },
];
const weights = new Float32Array(15).map((_, i) => i / 10);

let n = 0;
/** Writes a model folder with `model.json` = `json` (weights.bin beside it) and returns the folder. */
function modelDir(json: unknown, name = `m${n++}`): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(weights.buffer));
  writeFileSync(join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}
const manifestWith = (paths: unknown, w: unknown = specs): unknown => ({
  modelTopology: topology,
  format: 'layers-model',
  weightsManifest: [{ paths, weights: w }],
});

async function loadError(dir: string): Promise<RobustestError> {
  const e = await loadModel(dir, { engine: 'tfjs' }).then(
    (m) => {
      m.dispose();
      return new Error('loaded');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelLoadError);
  expect((e as Error).message).not.toMatch(/\n/);
  return e as RobustestError;
}

const outside = join(root, 'outside.bin');
beforeAll(() => {
  writeFileSync(outside, new Uint8Array(weights.buffer));
});

describe('weight paths stay inside the model folder', () => {
  it('loads the well-formed model', async () => {
    const m = await loadModel(modelDir(manifestWith(['weights.bin'])), { engine: 'tfjs' });
    expect(m.numClasses).toBe(3);
    m.dispose();
  });

  it('refuses "../outside.bin" (it used to load weights from outside the folder)', async () => {
    const e = await loadError(modelDir(manifestWith(['../outside.bin'])));
    expect(e.message).toMatch(/expected weight shard '\.\.\/outside\.bin' inside the model's folder, got a path outside the folder/);
  });

  it('refuses a symlinked shard that leads outside, and an absolute path, without revealing the target size', async () => {
    const dir = modelDir(manifestWith(['link.bin']));
    symlinkSync(outside, join(dir, 'link.bin'));
    expect((await loadError(dir)).message).toMatch(/'link\.bin' inside the model's folder, got a file outside the folder/);
    const big = join(root, 'secret.txt');
    writeFileSync(big, 'x'.repeat(12345));
    const abs = await loadError(modelDir(manifestWith([big])));
    expect(abs.message).toMatch(/inside the model's folder/);
    expect(abs.message).not.toMatch(/12345/);
    const dirLink = modelDir(manifestWith(['up/outside.bin']));
    symlinkSync(root, join(dirLink, 'up'));
    expect((await loadError(dirLink)).message).toMatch(/outside the folder/);
  });

  it('follows a symlink that stays inside the folder', async () => {
    const dir = modelDir(manifestWith(['alias.bin']));
    symlinkSync(join(dir, 'weights.bin'), join(dir, 'alias.bin'));
    const m = await loadModel(dir, { engine: 'tfjs' });
    m.dispose();
  });

  it('refuses a FIFO shard at once, and an oversized shard before reading it', async () => {
    const dir = modelDir(manifestWith(['pipe.bin']));
    execFileSync('mkfifo', [join(dir, 'pipe.bin')]);
    expect((await loadError(dir)).message).toMatch(/pipe\.bin: expected a regular weight shard file, got a directory, pipe, socket or device/);
    const big = modelDir(manifestWith(['weights.bin']));
    writeFileSync(join(big, 'weights.bin'), new Uint8Array(1_000_000));
    expect((await loadError(big)).message).toMatch(/expected 60 bytes of weights in weights\.bin for the manifest, got more/);
  });
});

describe('malformed manifests are ModelLoadErrors, not TypeErrors', () => {
  const cases: [string, unknown, RegExp][] = [
    ['weightsManifest: [{}]', { modelTopology: topology, weightsManifest: [{}] }, /weightsManifest\[0\]\.paths: expected a list of file names, got undefined/],
    [
      'a group without weights',
      { modelTopology: topology, weightsManifest: [{ paths: ['weights.bin'] }] },
      /weightsManifest\[0\]\.weights: expected a list of weight specs/,
    ],
    [
      'shape: null',
      manifestWith(['weights.bin'], [{ name: 'd/kernel', shape: null, dtype: 'float32' }]),
      /weights\[0\]\.shape: expected a list of non-negative integers, got null/,
    ],
    ['paths: [1]', manifestWith([1]), /paths: expected a list of file names, got \[1\]/],
    ['weightsManifest: {}', { modelTopology: topology, weightsManifest: {} }, /weightsManifest: expected a list of groups, got an object/],
    ['a group that is null', { modelTopology: topology, weightsManifest: [null] }, /weightsManifest\[0\]: expected a group object, got null/],
    ['an unknown dtype', manifestWith(['weights.bin'], [{ name: 'k', shape: [15], dtype: 'complex64' }]), /dtype: expected one of .* got "complex64"/],
    [
      'a bad quantization',
      manifestWith(['weights.bin'], [{ name: 'k', shape: [15], dtype: 'float32', quantization: { dtype: 'int4' } }]),
      /quantization: expected/,
    ],
    ['a weight spec that is a string', manifestWith(['weights.bin'], ['k']), /weights\[0\]: expected a weight spec object/],
    ['a shape too large to store', manifestWith(['weights.bin'], [{ name: 'k', shape: [2 ** 40, 2 ** 40], dtype: 'float32' }]), /a size that can be stored/],
    ['modelTopology: 5', { modelTopology: 5 }, /with a modelTopology object/],
    ['an array', '[1, 2]', /with a modelTopology object/],
  ];
  it.each(cases)('%s', async (_, json, message) => {
    expect((await loadError(modelDir(json))).message).toMatch(message);
  });
});

describe('a model that loads but cannot run fails at load', () => {
  it('a layer dtype tfjs rejects on the first call is a ModelLoadError at load (it used to be an untyped ValueError)', async () => {
    const bad = JSON.parse(JSON.stringify(manifestWith(['weights.bin']))) as { modelTopology: typeof topology };
    (bad.modelTopology.config.layers[0]!.config as Record<string, unknown>)['dtype'] = ['x'];
    const e = await loadError(modelDir(bad));
    expect(e.message).toMatch(/expected a model that runs on one zero input of shape \[1, 4\], got "The dtype of the feed/);
  });

  it('an input of more than maxElements per sample is refused, and maxElements is checked', async () => {
    const wide = JSON.parse(JSON.stringify(manifestWith(['weights.bin']))) as { modelTopology: typeof topology };
    const big = { ...wide.modelTopology.config.layers[0]!.config, batch_input_shape: [null, 4000, 4000, 3] };
    const dir = modelDir({
      ...wide,
      modelTopology: {
        ...wide.modelTopology,
        config: { ...wide.modelTopology.config, layers: [{ class_name: 'Flatten', config: { name: 'f', batch_input_shape: big.batch_input_shape } }] },
      },
      weightsManifest: [],
    });
    expect((await loadError(dir)).message).toMatch(/expected an input of at most 33554432 elements per sample .* got \[4000, 4000, 3\] = 48000000/);
    await expect(loadModel(dir, { maxElements: 0 })).rejects.toThrow(/expected maxElements to be a positive integer, got 0/);
    await expect(loadModel(dir, { format: 'keras' as never })).rejects.toThrow(/expected format to be one of layers-model, graph-model, onnx, got "keras"/);
  });
});

describe('messages stay on one line', () => {
  it('a multi-line tfjs-layers message is quoted', async () => {
    const bad = { ...topology, config: { ...topology.config, layers: [{ class_name: 'NoSuchLayer', config: { name: 'x' } }] } };
    const e = await loadError(modelDir({ modelTopology: bad, format: 'layers-model' }));
    expect(e.message).toMatch(/expected a loadable tfjs layers-model, got "Unknown layer: NoSuchLayer\..*\\n/);
  });

  it('a folder name with a newline is escaped', async () => {
    const dir = modelDir('{"modelTopology": ', 'evil\nname');
    expect((await loadError(dir)).message).toMatch(/^".*evil\\nname\/model\.json": expected valid JSON/);
    rmSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifestWith(['weights.bin'])));
    expect((await loadError(dir)).message).toMatch(/evil\\nname\/weights\.bin": expected a readable weight shard, got ENOENT/);
  });

  it('a model.json over the size limit is refused before it is read', async () => {
    const dir = join(root, 'huge');
    mkdirSync(dir);
    execFileSync('truncate', ['-s', String(65 * 2 ** 20), join(dir, 'model.json')]);
    expect((await loadError(dir)).message).toMatch(/expected a model\.json of at most 67108864 bytes/);
    expect(readFileSync(outside).byteLength).toBe(60);
  });
});
