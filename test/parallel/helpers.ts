// A tiny seeded tfjs layers model written to a temporary directory, so that worker threads can load it by path:
// conv 3x3 (4 filters, relu) → max-pool 2 → dense(3), on 8×8×1 inputs. Fast on every backend, and it has every
// kernel whose gradient robustest overrides in a CNN (Conv2D, Relu, MaxPool, MatMul).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { seededValues } from '../helpers/models.js';

export interface TinyModelFiles {
  /** Path of the model.json. */
  readonly path: string;
  /** Removes the directory. */
  readonly remove: () => Promise<void>;
}

export async function writeTinyLayersModel(): Promise<TinyModelFiles> {
  const tfl = await import('@tensorflow/tfjs-layers');
  const net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const weights = net.getWeights().map((w, i) => tf.tensor(seededValues(w.size, 100 + i, -0.7, 0.7), w.shape));
  net.setWeights(weights);
  tf.dispose(weights);
  const dir = await mkdtemp(join(tmpdir(), 'robustest-parallel-'));
  await net.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      const json = {
        format: 'layers-model',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  net.dispose();
  return { path: join(dir, 'model.json'), remove: () => rm(dir, { recursive: true, force: true }) };
}
