// `robustest train`: per-epoch lines, the trained model and history written to --out, Ctrl-C keeps the last
// checkpoint and --resume ends on the weights of an uninterrupted run, typed usage errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { loadModel } from '../../src/load.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const SAMPLE = 'assets/mnist-sample';
const DATA = ['--data', join(SAMPLE, 't10k-images-first1000-idx3-ubyte.gz'), '--labels', join(SAMPLE, 't10k-labels-first1000-idx1-ubyte.gz')];
let dir = '';
let modelPath = '';

const cli = (args: string[], onStdout?: (text: string) => void): Promise<CliRun> => runMain(args, {}, onStdout);

async function saveTiny(path: string): Promise<void> {
  const net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 2,
        kernelSize: 4,
        strides: 4,
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: 1 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  await mkdir(path, { recursive: true });
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      await writeFile(join(path, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      await writeFile(
        join(path, 'model.json'),
        JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  net.dispose();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'robustest-train-cli-'));
  modelPath = join(dir, 'tiny', 'model.json');
  await saveTiny(join(dir, 'tiny'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COMMON = [
  '--method',
  'fgsm-rs',
  '--eps',
  '0.1',
  '--epochs',
  '2',
  '--limit',
  '200',
  '--batch-size',
  '50',
  '--lr',
  '0.01',
  '--validation-size',
  '100',
  '--validation-steps',
  '3',
  '--seed',
  '4',
  '--backend',
  'cpu',
];

describe('robustest train', () => {
  it('prints one line per epoch and writes a loadable model, its history and a checkpoint', async () => {
    const out = join(dir, 'whole');
    const r = await cli(['train', '--model', modelPath, ...DATA, ...COMMON, '--out', out]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^epoch 1\/2 {2}loss \d+\.\d{4} {2}train acc .*val clean .*PGD .*FGSM .*eps 0\.100/);
    const history = JSON.parse(await readFile(join(out, 'training.json'), 'utf8')) as {
      history: { epoch: number; loss: number; cleanAccuracy: number }[];
      seed: number;
    };
    expect(history.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(history.seed).toBe(4);
    // Two epochs of training on 200 digits: the loss falls and accuracy is twice chance level.
    expect(history.history[1]!.loss).toBeLessThan(history.history[0]!.loss);
    expect(history.history[1]!.cleanAccuracy).toBeGreaterThan(0.2);
    expect(existsSync(join(out, 'checkpoint', 'checkpoint.bin'))).toBe(true);
    const model = await loadModel(out, { engine: 'tfjs' });
    expect(model.numClasses).toBe(10);
    model.dispose();
  });

  it('stops on Ctrl-C keeping the last checkpoint, and --resume ends on the uninterrupted weights', async () => {
    const out = join(dir, 'cut');
    let sent = false;
    const cut = await cli(['train', '--model', modelPath, ...DATA, ...COMMON, '--out', out], (text) => {
      if (!sent && text.includes('epoch 1/2')) {
        sent = true;
        process.emit('SIGINT', 'SIGINT');
      }
    });
    expect(cut.code).toBe(130);
    expect(cut.err).toMatch(/interrupted in epoch 2; the checkpoint of epoch 1 in .*--resume/);
    expect(existsSync(join(out, 'model.json'))).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(0);
    const resumed = await cli(['train', '--model', modelPath, ...DATA, ...COMMON, '--out', out, '--resume']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out.trim().split('\n')).toEqual([expect.stringMatching(/^epoch 2\/2/)]);
    expect(await readFile(join(out, 'weights.bin'))).toEqual(await readFile(join(dir, 'whole', 'weights.bin')));
  });

  it('refuses bad usage with exit 2 and one line', async () => {
    const bad = async (args: string[], message: RegExp): Promise<void> => {
      const r = await cli(['train', ...args]);
      expect(r.code).toBe(2);
      // At most the informational backend line, then the error on one line.
      expect(
        r.err
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('robustest: backend ')),
      ).toHaveLength(1);
      expect(r.err).toMatch(message);
    };
    await bad(['--model', 'assets/mnist-cnn.onnx', ...DATA, '--out', join(dir, 'x')], /expected a tfjs layers model\.json .*got an \.onnx file/);
    await bad(
      ['--model', modelPath, ...DATA, '--out', join(dir, 'x'), '--method', 'madry'],
      /--method: expected one of pgd-at, trades, fgsm-rs, gaussian, clean/,
    );
    await bad(['--model', modelPath, ...DATA, '--out', join(dir, 'x'), '--epochs', '0'], /--epochs/);
    await bad(['--model', modelPath, ...DATA], /--out/);
    await bad(['--model', modelPath, ...DATA, ...COMMON, '--out', join(dir, 'whole'), '--resume', '--seed', '5'], /seed: expected the checkpoint's seed 4/);
  });
});
