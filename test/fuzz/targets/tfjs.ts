// Fuzz target: tfjs model.json + weight shards (layers and graph models), mutated as JSON, as text and as bytes,
// with hostile weight paths and hostile file-system entries in place of the shard.
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../../src/load.js';
import type { FuzzTarget } from '../harness.js';
import { applyBytes, applyJson, byteEdit, fsHostility, jsonEdit, writeHostile, type ByteEdit, type FsHostility, type JsonEdit } from '../mutate.js';
import { exercise } from './common.js';

const here = new URL('../../../', import.meta.url).pathname;

/** The seed models: model.json text and its one shard. */
const SEEDS: { json: string; shard: string; bytes: Uint8Array }[] = [
  {
    json: JSON.stringify({
      format: 'layers-model',
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 'tiny',
          layers: [
            { class_name: 'Dense', config: { name: 'd', units: 3, activation: 'softmax', use_bias: true, batch_input_shape: [null, 4], dtype: 'float32' } },
          ],
        },
      },
      weightsManifest: [
        {
          paths: ['weights.bin'],
          weights: [
            { name: 'd/kernel', shape: [4, 3], dtype: 'float32' },
            { name: 'd/bias', shape: [3], dtype: 'float32' },
          ],
        },
      ],
    }),
    shard: 'weights.bin',
    bytes: new Uint8Array(new Float32Array(15).map((_, i) => i / 15).buffer),
  },
  {
    json: readFileSync(join(here, 'assets/mnist-cnn/model.json'), 'utf8'),
    shard: 'weights.bin',
    bytes: readFileSync(join(here, 'assets/mnist-cnn/weights.bin')),
  },
  {
    json: readFileSync(join(here, 'test/fixtures/graph-model-v1/model.json'), 'utf8'),
    shard: 'group1-shard1of1.bin',
    bytes: readFileSync(join(here, 'test/fixtures/graph-model-v1/group1-shard1of1.bin')),
  },
];

export interface TfjsCase {
  seed: number;
  json: JsonEdit[];
  text: ByteEdit[];
  shard: ByteEdit[];
  shardFs: FsHostility | undefined;
  jsonFs: FsHostility | undefined;
  engine: 'tfjs' | 'auto';
}

export const tfjsTarget: FuzzTarget<TfjsCase> = {
  name: 'tfjs',
  arbitrary: fc.record({
    seed: fc.constantFrom(0, 0, 0, 1, 2),
    json: fc.array(jsonEdit, { maxLength: 3 }),
    text: fc.oneof({ weight: 5, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
    shard: fc.oneof({ weight: 3, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
    shardFs: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fsHostility }),
    // The entry file is the user's choice: a symlink to it is followed wherever it leads, so only the other kinds.
    jsonFs: fc.oneof(
      { weight: 20, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom<FsHostility>('fifo', 'directory', 'loop', 'missing', 'sparse-giant') },
    ),
    engine: fc.constantFrom('tfjs' as const, 'tfjs' as const, 'tfjs' as const, 'tfjs' as const, 'auto' as const),
  }),
  prepare(c, ctx) {
    const seed = SEEDS[c.seed]!;
    const doc = JSON.parse(seed.json) as unknown;
    for (const e of c.json) applyJson(doc, e, ctx.canary);
    const text = applyBytes(new TextEncoder().encode(JSON.stringify(doc)), c.text);
    writeHostile(join(ctx.dir, 'model.json'), text, c.jsonFs, ctx.canary);
    writeHostile(join(ctx.dir, seed.shard), applyBytes(seed.bytes, c.shard), c.shardFs, ctx.canary);
    writeFileSync(join(ctx.dir, 'notes.txt'), 'a sibling file that the model does not name');
  },
  async run(c, ctx) {
    await exercise(await loadModel(ctx.dir, { engine: c.engine }));
  },
  describe: (c) => JSON.stringify(c),
};
