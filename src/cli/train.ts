/**
 * `robustest train`: adversarial training of a tfjs layers model (`adversarialTrain`): loads the model and data,
 * trains with a progress bar on a terminal (one line per epoch otherwise), checkpoints every epoch under
 * `OUT/checkpoint/`, and writes the trained model (`model.json`, `weights.bin`) and its history (`training.json`)
 * to `OUT`. Ctrl-C stops at the next batch and leaves the last checkpoint intact; `--resume` continues from it.
 * @internal
 * @module
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import * as tf from '../tf.js';
import { ConfigError } from '../errors.js';
import { initBackend, type BackendName } from '../backend.js';
import { loadData } from '../data/index.js';
import { loadLayersModelFile } from '../load.js';
import { checkOutputPath, writeFileAtomic } from '../write.js';
import type { Bounds } from '../model.js';
import { adversarialTrain, TRAINING_METHODS, type EpochStats, type TrainingMethod, type TrainingProgress } from '../../defenses/index.js';
import { bounds as parseBounds, integer, positive, type CliIO, type CommandContext } from './common.js';

/** Parsed `robustest train` options. */
export interface TrainFlags {
  model: string;
  data: string;
  labels?: string;
  method: TrainingMethod;
  eps: number;
  epochs: number;
  steps?: number;
  stepSize?: number;
  beta?: number;
  sigma?: number;
  batchSize: number;
  lr: number;
  epsilonWarmup?: number;
  validationSize: number;
  validationSteps?: number;
  onOverfit: 'stop' | 'warn' | 'off';
  seed: number;
  limit?: number;
  bounds?: Bounds;
  backend?: BackendName;
  out: string;
  resume?: boolean;
}

function method(value: string): TrainingMethod {
  if (!(TRAINING_METHODS as readonly string[]).includes(value)) {
    throw new ConfigError(`--method: expected one of ${TRAINING_METHODS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as TrainingMethod;
}

function overfit(value: string): 'stop' | 'warn' | 'off' {
  if (value !== 'stop' && value !== 'warn' && value !== 'off') throw new ConfigError(`--on-overfit: expected stop, warn or off, got ${JSON.stringify(value)}`);
  return value;
}

function nonNegative(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${name}: expected a number >= 0, got ${JSON.stringify(value)}`);
    return v;
  };
}

const pct = (v: number): string => (Number.isNaN(v) ? '   n/a' : `${(100 * v).toFixed(1).padStart(5)}%`);

/** One line per epoch. */
export function epochLine(e: EpochStats, epochs: number): string {
  return (
    `epoch ${String(e.epoch).padStart(String(epochs).length)}/${epochs}  loss ${e.loss.toFixed(4)}  train acc ${pct(e.trainAccuracy)}  ` +
    `val clean ${pct(e.cleanAccuracy)}  PGD ${pct(e.robustAccuracy)}  FGSM ${pct(e.fgsmAccuracy)}  eps ${e.epsilon.toFixed(3)}  ${e.seconds.toFixed(1)} s\n`
  );
}

/** A one-line batch progress bar on stderr, redrawn in place (terminals only). */
function batchBar(io: CliIO): { update: (p: TrainingProgress) => void; end: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update: (p) => {
      const now = Date.now();
      if (now - last < 100 && p.batch < p.batches) return;
      last = now;
      const width = 30;
      const filled = Math.round((p.batch / p.batches) * width);
      io.stderr(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} ε=${p.epsilon.toFixed(3)}   `,
      );
      drawn = true;
    },
    end: () => {
      if (drawn) io.stderr('\r' + ' '.repeat(78) + '\r');
      drawn = false;
    },
  };
}

/** Writes the trained model as `model.json` + `weights.bin` (each atomically). */
async function saveModel(net: LayersModel, dir: string): Promise<void> {
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      if (a.weightData === undefined || a.weightSpecs === undefined) throw new ConfigError('train: expected the model to have weights to save, got none');
      const data = new Uint8Array(tf.io.concatenateArrayBuffers(Array.isArray(a.weightData) ? a.weightData : [a.weightData]));
      await writeFileAtomic(join(dir, 'weights.bin'), data);
      const manifest = [{ paths: ['weights.bin'], weights: a.weightSpecs }];
      await writeFileAtomic(join(dir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: manifest }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

async function runTrain(flags: TrainFlags, context: CommandContext): Promise<void> {
  const { io } = context;
  const out = resolve(flags.out);
  await checkOutputPath(join(out, 'model.json'), '--out');
  tf.env().set('PROD', true);
  const backend = await initBackend(flags.backend ?? (io.env['ROBUSTEST_BACKEND'] as BackendName | undefined) ?? 'auto');
  const net = await loadLayersModelFile(resolve(flags.model));
  const interrupted = new AbortController();
  const onSigint = (): void => {
    if (interrupted.signal.aborted) process.exit(130);
    interrupted.abort();
    io.stderr('\nrobustest train: stopping after this batch (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const inputShape = net.inputs[0]!.shape.slice(1).map((d) => d ?? -1);
    if (inputShape.some((d) => d < 1)) throw new ConfigError(`--model: expected a model with a fixed input shape, got [${inputShape.join(', ')}]`);
    const data = await loadData(resolve(flags.data), {
      bounds: flags.bounds ?? [0, 1],
      inputShape,
      ...(flags.labels !== undefined ? { labels: resolve(flags.labels) } : {}),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    });
    const size = inputShape.reduce((a, b) => a * b, 1);
    io.stderr(`robustest: backend ${backend.name}, ${data.count} training images, method ${flags.method}, eps ${flags.eps}\n`);
    const validation =
      flags.validationSize === 0
        ? (false as const)
        : {
            images: data.images.subarray(0, Math.min(flags.validationSize, data.count) * size),
            labels: data.labels.subarray(0, Math.min(flags.validationSize, data.count)),
          };
    const bar = io.isTTY ? batchBar(io) : undefined;
    const result = await adversarialTrain(net, data, {
      method: flags.method,
      epsilon: flags.eps,
      epochs: flags.epochs,
      batchSize: flags.batchSize,
      learningRate: flags.lr,
      seed: flags.seed,
      validation,
      onOverfit: flags.onOverfit,
      checkpointDir: join(out, 'checkpoint'),
      resume: flags.resume === true,
      signal: interrupted.signal,
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.stepSize !== undefined ? { stepSize: flags.stepSize } : {}),
      ...(flags.beta !== undefined ? { beta: flags.beta } : {}),
      ...(flags.sigma !== undefined ? { sigma: flags.sigma } : {}),
      ...(flags.epsilonWarmup !== undefined ? { epsilonWarmup: flags.epsilonWarmup } : {}),
      ...(flags.validationSteps !== undefined ? { validationSteps: flags.validationSteps } : {}),
      ...(flags.bounds !== undefined ? { bounds: flags.bounds } : {}),
      ...(bar !== undefined ? { onBatchEnd: bar.update } : {}),
      onEpochEnd: (e) => {
        bar?.end();
        io.stdout(epochLine(e, flags.epochs));
      },
    });
    bar?.end();
    for (const w of result.warnings) io.stderr(`warning: ${w.message}\n`);
    if (result.stopped?.reason === 'interrupted') {
      const done = result.history.length;
      io.stderr(
        `robustest train: interrupted in epoch ${result.stopped.epoch}; ${done > 0 ? `the checkpoint of epoch ${done}` : 'no checkpoint yet'} in ${join(out, 'checkpoint')}; rerun with --resume to continue\n`,
      );
      context.setExitCode(130);
      return;
    }
    await saveModel(net, out);
    await writeFileAtomic(
      join(out, 'training.json'),
      `${JSON.stringify({ method: flags.method, epsilon: flags.eps, seed: flags.seed, backend: backend.name, command: ['robustest', ...context.argv].join(' '), ...result }, null, 2)}\n`,
    );
    io.stderr(`robustest train: wrote ${join(out, 'model.json')} (${result.history.length} epochs, ${result.seconds.toFixed(1)} s this run)\n`);
  } finally {
    process.off('SIGINT', onSigint);
    net.dispose();
  }
}

/** Adds `train` to the program. */
export function registerTrain(program: Command, context: CommandContext): void {
  program
    .command('train')
    .description(
      'Adversarially train a tfjs layers model (PGD-AT, TRADES, FGSM with random start, Gaussian augmentation) on IDX, .npy or ' +
        'image-folder data; checkpoints every epoch under OUT/checkpoint (Ctrl-C keeps the last one; --resume continues) and ' +
        'writes OUT/model.json, OUT/weights.bin and OUT/training.json.',
    )
    .requiredOption('--model <path>', 'tfjs layers model.json (or its directory) whose last layer outputs logits')
    .requiredOption('--data <path>', 'training inputs: IDX images, .npy array, or an image folder')
    .option('--labels <path>', 'labels for IDX or .npy inputs')
    .requiredOption('--out <dir>', 'output folder for the trained model, its history and the checkpoint')
    .option('--method <name>', `training method: ${TRAINING_METHODS.join(', ')}`, method, 'pgd-at')
    .option('--eps <e>', 'L∞ radius of the training attack and of the robust validation', nonNegative('--eps'), 0.3)
    .option('--epochs <n>', 'passes over the data', integer('--epochs', 1, 100_000), 10)
    .option('--steps <n>', 'PGD steps inside pgd-at and trades (default 10)', integer('--steps', 1))
    .option('--step-size <a>', 'step of the inner attack (default 2.5·eps/steps; fgsm-rs 1.25·eps)', nonNegative('--step-size'))
    .option('--beta <b>', 'TRADES weight of the KL term (default 6)', nonNegative('--beta'))
    .option('--sigma <s>', 'noise standard deviation of the gaussian method (default 0.25)', nonNegative('--sigma'))
    .option('--batch-size <n>', 'images per batch', integer('--batch-size', 1), 100)
    .option('--lr <rate>', "Adam's learning rate", positive('--lr'), 0.001)
    .option('--epsilon-warmup <epochs>', 'epochs over which eps grows linearly from 0 (default 0)', nonNegative('--epsilon-warmup'))
    .option(
      '--validation-size <n>',
      'first N training images on which clean, PGD and FGSM accuracy are measured after each epoch (0: none)',
      integer('--validation-size', 0),
      1000,
    )
    .option('--validation-steps <n>', 'PGD steps of the robust validation (default 20)', integer('--validation-steps', 1))
    .option('--on-overfit <what>', 'on catastrophic overfitting (PGD accuracy collapses while FGSM accuracy rises): stop, warn or off', overfit, 'stop')
    .option('--seed <n>', 'seed of every random choice', integer('--seed', 0, 2 ** 31 - 1), 0)
    .option('--limit <n>', 'use only the first N training images', integer('--limit', 1))
    .option('--bounds <lo,hi>', 'input range (default 0,1)', parseBounds)
    .option('--backend <name>', 'tfjs backend: auto, wasm, cpu, tensorflow (default: ROBUSTEST_BACKEND or auto)')
    .option('--resume', 'continue from OUT/checkpoint/checkpoint.bin when it exists')
    .action(async (flags: TrainFlags) => {
      await runTrain(flags, context);
    });
}
