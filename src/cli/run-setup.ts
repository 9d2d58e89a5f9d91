/**
 * What defines a run on the command line, shared by every command that evaluates (`eval`, and the commands that
 * rebuild a run's configuration from the same flags, such as a queue worker): the flags ({@link addRunOptions}) and
 * the step "flags → backend, loaded model, data and evaluate options" ({@link setupRun}). The same flags give the
 * same configuration, so the same run identity (`metrics/parts.ts`), on every machine: a command adds the flags with
 * `addRunOptions(program.command('worker'))`, and its action calls `setupRun(flags, io)` and then `evaluateRange`
 * (or `evaluate`) with the set-up run's model, data and options.
 * @internal
 * @module
 */
import { Option, type Command } from 'commander';
import { join, relative, resolve } from 'node:path';
import * as tf from '../tf.js';
import { ConfigError } from '../errors.js';
import { initBackend, type BackendName } from '../backend.js';
import { disableFastGradients } from '../gradients/index.js';
import { loadModel, type LoadModelOptions } from '../load.js';
import { GRADIENT_ENGINES, type GradientEngine } from '../onnx/options.js';
import { parallelModel } from '../parallel/index.js';
import { openData, readDataset, type LoadDataOptions } from '../data/index.js';
import type { Dataset, DataSource } from '../data/types.js';
import { packageAssets } from '../package-info.js';
import type { Bounds, DifferentiableModel, Model } from '../model.js';
import type { Norm } from '../norms.js';
import { LOSS_NAMES, type LossName } from '../losses.js';
import { createAttack, ATTACK_NAMES } from '../../attacks/registry.js';
import { PRESET_NAMES, type PresetName } from '../../attacks/presets.js';
import type { EvaluateOptions } from '../../metrics/evaluate.js';
import { attackList, bounds, dims, integer, numberList, positive, readClassNames, type CliIO } from './common.js';

/** The parsed flags that define a run (model, data, attacks, seed, backend, ...). */
export interface RunFlags {
  model?: string;
  data?: string;
  labels?: string;
  classNames?: string;
  attack?: string[];
  preset?: PresetName;
  eps: number[];
  norm?: Norm;
  steps?: number;
  stepSize?: number;
  restarts?: number;
  earlyStop?: boolean;
  loss?: LossName;
  queries?: number;
  queryOnly?: boolean;
  targeted?: boolean;
  batchSize: number;
  limit?: number;
  seed: number;
  backend?: BackendName;
  bounds?: Bounds;
  mean?: number[];
  std?: number[];
  numClasses?: number;
  inputShape?: number[];
  thorough?: boolean;
  surrogate?: string;
  cascade: boolean;
  fastGradients: boolean;
  engine?: GradientEngine;
  workers?: number;
  threads?: number;
  quiet?: boolean;
}

/** The bundled demo, relative to the assets folder. */
export const BUNDLED = {
  model: join('mnist-cnn', 'model.json'),
  data: join('mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
  labels: join('mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
};

/**
 * Adds the flags that define a run to `command` (model, data, attacks and their settings, seed, batch size, backend,
 * engine, pitfall-check settings, cascade), in the order `--help` lists them.
 *
 * @param command - the command to add them to.
 * @returns the command, for chaining.
 * @example
 * ```ts
 * import { Command } from 'commander';
 * const worker = addRunOptions(new Command('worker')).option('--once', 'one job, then exit');
 * ```
 */
export function addRunOptions(command: Command): Command {
  return command
    .option('--model <path>', 'tfjs model.json (layers or graph; or its directory) or .onnx file (default: the bundled MNIST CNN)')
    .option('--data <path>', 'inputs: IDX images, .npy array, or an image folder with one subfolder per class (default: the bundled 1,000 MNIST test images)')
    .option('--labels <path>', 'labels for IDX or .npy inputs (IDX or .npy)')
    .option(
      '--class-names <list|file>',
      'class names in label order, comma-separated or a file with one per line; for an image folder, its subfolders in label order (default: the subfolder names, sorted)',
    )
    .option('--attack <list>', `comma-separated attacks, run in order (default: fgsm,pgd; fgm,pgd with --norm l2): ${ATTACK_NAMES.join(', ')}`, attackList)
    .addOption(
      new Option(
        '--preset <name>',
        "a fixed attack composition instead of --attack: standard (AutoAttack's APGD-CE, APGD-T, FAB-T, Square) or fast (APGD-CE, APGD-T)",
      ).choices([...PRESET_NAMES]),
    )
    .option(
      '--eps <list>',
      'comma-separated epsilons, in raw input units; fractions allowed (8/255)',
      numberList('--eps', 0, 3.4028234663852886e38),
      [0.1, 0.3],
    )
    .addOption(
      new Option('--norm <norm>', "threat model of every attack (default: each attack's own; fgsm is linf, fgm l2, the others linf)").choices(['linf', 'l2']),
    )
    .option('--steps <n>', 'steps of iterative attacks (default: pgd 40, bim 10)', integer('--steps', 1))
    .option('--step-size <s>', 'absolute step size (default: pgd 2.5·ε/steps, bim 0.2·ε)', positive('--step-size'))
    .option('--restarts <r>', 'PGD restarts; per point the best is kept (default 1)', integer('--restarts', 1))
    .option('--early-stop', 'stop iterating on points once they are adversarial')
    .option('--queries <n>', 'query budget per input of black-box attacks (square, hop-skip-jump, random-search)', integer('--queries', 1))
    .addOption(new Option('--loss <name>', 'loss the attacks maximise (default: ce)').choices([...LOSS_NAMES]))
    .option('--targeted', 'targeted attacks towards random classes (seeded)')
    .option('--batch-size <b>', 'inputs per attack batch', integer('--batch-size', 1), 100)
    .option('--limit <n>', 'use only the first N inputs', integer('--limit', 1))
    .option('--seed <s>', 'seed of every random choice', integer('--seed', 0), 0)
    .addOption(
      new Option('--backend <name>', 'tfjs backend (env ROBUSTEST_BACKEND; default auto: tensorflow, else wasm, else cpu)').choices([
        'auto',
        'cpu',
        'wasm',
        'tensorflow',
      ]),
    )
    .option('--no-fast-gradients', "use tfjs's own gradient kernels instead of robustest's overrides (env ROBUSTEST_FAST_GRADIENTS=0)")
    .addOption(
      new Option(
        '--engine <name>',
        'what computes input-gradients (env ROBUSTEST_ENGINE; default auto: onnxruntime-node when installed and the model converts, else tfjs)',
      ).choices([...GRADIENT_ENGINES]),
    )
    .option('--query-only', 'load an .onnx model as a query-only model in onnxruntime-node (logits only: black-box attacks)')
    .option('--threads <n>', "onnxruntime's intra-op threads (default: all cores)", integer('--threads', 1))
    .option(
      '--workers <n>',
      'tfjs engine: split each gradient batch over N worker threads, each with its own tfjs engine (default 1: none)',
      integer('--workers', 1),
    )
    .option('--bounds <lo,hi>', 'raw input range of the model; data is scaled into it (default 0,1)', bounds)
    .option('--mean <list>', 'per-channel mean applied inside the model', numberList('--mean'))
    .option('--std <list>', 'per-channel std applied inside the model', numberList('--std'))
    .option(
      '--num-classes <n>',
      'number of classes, for a model that does not declare it (default: read from the model, or one forward pass)',
      integer('--num-classes', 2),
    )
    .option('--input-shape <dims>', 'shape of one input without the batch dimension, e.g. 28,28,1, for a model that does not declare it', dims('--input-shape'))
    .option(
      '--thorough',
      'also run the costlier pitfall checks: the iterative attacks again with 2× steps and ≥ 5 restarts on the robust points, and (in the cascade) on the points FGSM fooled',
    )
    .option(
      '--surrogate <path>',
      "a surrogate model (same inputs and classes) whose gradients the gradient attacks also follow; warns when they fool more than the model's own",
    )
    .option('--no-cascade', 'run every attack on every clean-correct point (per-attack numbers are then each its own)');
}

/** A run set up from its flags: the backend is initialised, the model and data loaded. */
export interface RunSetup {
  /** The model (and its engine). */
  readonly model: Model;
  /** The surrogate of `--surrogate`, if any. */
  readonly surrogate?: DifferentiableModel;
  /**
   * The data: held whole when it fits in {@link STREAM_ABOVE_BYTES} as float32, else a lazy source that the
   * evaluation reads a chunk at a time (so a 30 GB image folder needs memory for one batch, not for the set).
   */
  readonly data: Dataset | DataSource;
  /**
   * The evaluate options the flags give (attacks or preset, epsilons, seed, batch size, cascade, targeted,
   * thorough, surrogate, class names, model source, command); no callbacks.
   */
  readonly options: EvaluateOptions;
  /** The tfjs backend in use. */
  readonly backend: string;
  /** Releases the model and the surrogate. */
  dispose(): void;
}

/**
 * Checks the flags, initialises the backend, loads the model (and surrogate) and the data, and builds the evaluate
 * options: what `robustest eval` does before evaluating. Prints the backend and engine lines on stderr unless
 * `flags.quiet`.
 *
 * @param flags - the parsed flags ({@link addRunOptions}).
 * @param io - output sinks and environment (`ROBUSTEST_BACKEND`, `ROBUSTEST_ENGINE`).
 * @param argv - the command line, recorded as the options' `command`. Default: none.
 * @returns the set-up run; the caller calls its `dispose`.
 * @throws `ConfigError` for inconsistent flags; the loaders' errors for bad models or data.
 * @example
 * ```ts
 * const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s), isTTY: false, env: process.env };
 * const run = await setupRun({ eps: [0.1], batchSize: 100, seed: 0, cascade: true, fastGradients: true, limit: 100 }, io);
 * run.dispose();
 * ```
 */
export async function setupRun(flags: RunFlags, io: CliIO, argv?: readonly string[]): Promise<RunSetup> {
  const assets = packageAssets();
  const bundled = flags.model === undefined && flags.data === undefined;
  if (!bundled && (flags.model === undefined || flags.data === undefined)) {
    throw new ConfigError('eval: expected both --model and --data (or neither, for the bundled demo), got only one');
  }
  if (flags.preset !== undefined && flags.attack !== undefined) {
    throw new ConfigError(`eval: expected either --attack or --preset, got both (--preset ${flags.preset})`);
  }
  if ((flags.mean === undefined) !== (flags.std === undefined)) {
    throw new ConfigError('eval: expected --mean and --std together, got only one');
  }
  const modelPath = bundled ? join(assets, BUNDLED.model) : resolve(flags.model!);
  const dataPath = bundled ? join(assets, BUNDLED.data) : resolve(flags.data!);
  const labelsPath = bundled ? join(assets, BUNDLED.labels) : flags.labels !== undefined ? resolve(flags.labels) : undefined;

  tf.env().set('PROD', true); // silences tfjs's own console notices; robustest's checks do not depend on it
  const requested = flags.backend ?? (io.env['ROBUSTEST_BACKEND'] as BackendName | undefined) ?? 'auto';
  const backend = await initBackend(requested);
  if (!flags.fastGradients) disableFastGradients();
  if (informational(flags, io))
    io.stderr(`robustest: backend ${backend.name} (${backend.reason}${backend.skipped.length ? `; skipped ${backend.skipped.join(', ')}` : ''})\n`);

  const bounds = flags.bounds ?? [0, 1];
  const envEngine = io.env['ROBUSTEST_ENGINE'];
  if (envEngine !== undefined && !(GRADIENT_ENGINES as readonly string[]).includes(envEngine)) {
    throw new ConfigError(`eval: expected ROBUSTEST_ENGINE to be one of ${GRADIENT_ENGINES.join(', ')}, got "${envEngine}"`);
  }
  const workers = flags.workers ?? 1;
  let engine: GradientEngine = flags.engine ?? (envEngine as GradientEngine | undefined) ?? 'auto';
  if (workers > 1) {
    if (engine === 'onnxruntime')
      throw new ConfigError('eval: expected --workers with the tfjs engine (onnxruntime already uses every core), got --engine onnxruntime');
    engine = 'tfjs';
  }
  const loadOptions: LoadModelOptions = {
    bounds,
    engine,
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    ...(flags.mean && flags.std ? { preprocessing: { mean: flags.mean, std: flags.std } } : {}),
    ...(flags.numClasses !== undefined ? { numClasses: flags.numClasses } : {}),
    ...(flags.queryOnly ? { queryOnly: true } : {}),
    ...(flags.inputShape !== undefined ? { inputShape: flags.inputShape } : {}),
    ...(bundled ? { name: 'mnist-cnn (bundled)' } : {}),
  };
  const model: Model = workers > 1 ? await parallelModel({ path: modelPath, options: loadOptions }, { workers }) : await loadModel(modelPath, loadOptions);
  if (informational(flags, io)) io.stderr(`robustest: gradients by ${model.engine}${workers > 1 ? ` in ${workers} worker threads` : ''}\n`);
  let surrogate: Model | undefined;
  let opened: DataSource | undefined;
  const dispose = (): void => {
    if (opened !== undefined) void opened.close();
    surrogate?.dispose();
    model.dispose();
  };
  try {
    if (flags.surrogate !== undefined) {
      const { name: _name, ...surrogateOptions } = loadOptions;
      surrogate = await loadModel(resolve(flags.surrogate), surrogateOptions);
      if (surrogate.kind !== 'differentiable') {
        throw new ConfigError(`eval: expected --surrogate to be a model with gradients, got the query-only model '${surrogate.name}'`);
      }
    }
    const classNames = flags.classNames === undefined ? undefined : await readClassNames(flags.classNames);
    if (classNames !== undefined && classNames.length > model.numClasses) {
      throw new ConfigError(`eval: expected at most ${model.numClasses} --class-names (the model's classes), got ${classNames.length}`);
    }
    const data = await openRunData(
      dataPath,
      {
        bounds,
        inputShape: model.inputShape,
        layout: model.layout,
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        ...(labelsPath !== undefined ? { labels: labelsPath } : {}),
        ...(classNames !== undefined ? { classNames } : {}),
      },
      streamThreshold(io),
    );
    if ('read' in data) opened = data;
    const attackNames = flags.attack ?? (flags.norm === 'l2' ? ['fgm', 'pgd'] : ['fgsm', 'pgd']);
    // A preset's attacks are built by evaluate, which records the preset in the report's provenance.
    const attacks =
      flags.preset !== undefined
        ? undefined
        : attackNames.map((name) =>
            createAttack(name, {
              ...(flags.norm !== undefined ? { norm: flags.norm } : {}),
              ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
              ...(flags.stepSize !== undefined ? { stepSize: flags.stepSize } : {}),
              ...(flags.restarts !== undefined ? { restarts: flags.restarts } : {}),
              ...(flags.earlyStop ? { earlyStop: true } : {}),
              ...(flags.loss !== undefined ? { loss: flags.loss } : {}),
              ...(flags.queries !== undefined ? { queries: flags.queries } : {}),
            }),
          );
    const options: EvaluateOptions = {
      ...(attacks !== undefined ? { attacks } : { preset: flags.preset!, norm: flags.norm ?? 'linf' }),
      epsilons: flags.eps,
      seed: flags.seed,
      batchSize: flags.batchSize,
      cascade: flags.cascade,
      targeted: flags.targeted ?? false,
      ...(flags.thorough ? { thorough: true } : {}),
      ...(surrogate?.kind === 'differentiable' ? { surrogate } : {}),
      ...(data.classNames !== undefined ? { classNames: data.classNames } : {}),
      modelSource: bundled ? join('assets', BUNDLED.model) : relative(process.cwd(), modelPath) || modelPath,
      ...(argv !== undefined ? { command: ['robustest', ...argv].join(' ') } : {}),
    };
    return {
      model,
      ...(surrogate?.kind === 'differentiable' ? { surrogate } : {}),
      data,
      options,
      backend: backend.name,
      dispose,
    };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * Whether informational lines (backend, gradient engine) go to stderr: only with `--verbose` or on a terminal,
 * never with `--quiet`, so that stderr in CI holds just the error.
 */
function informational(flags: { quiet?: boolean; verbose?: boolean }, io: CliIO): boolean {
  return !flags.quiet && (Boolean(flags.verbose) || io.isTTY);
}

/**
 * Data larger than this as float32 (512 MiB) stays a lazy {@link DataSource}; smaller data is read whole. The
 * environment variable `ROBUSTEST_STREAM_ABOVE_BYTES` overrides it (0 streams everything).
 */
export const STREAM_ABOVE_BYTES = 512 * 1024 * 1024;

function streamThreshold(io: CliIO): number {
  const raw = io.env['ROBUSTEST_STREAM_ABOVE_BYTES'];
  if (raw === undefined || raw === '') return STREAM_ABOVE_BYTES;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0)
    throw new ConfigError(`eval: expected ROBUSTEST_STREAM_ABOVE_BYTES to be a number of bytes >= 0, got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * Opens the run's data lazily, then reads it whole when it is small (the common case, and what every consumer
 * accepts); a large set stays a {@link DataSource} that `evaluate` reads chunk by chunk in bounded memory.
 */
async function openRunData(path: string, options: LoadDataOptions, streamAbove: number): Promise<Dataset | DataSource> {
  const source = await openData(path, options);
  const bytes = 4 * source.count * source.shape.reduce((a, b) => a * b, 1);
  if (bytes > streamAbove) return source;
  try {
    return await readDataset(source);
  } finally {
    await source.close();
  }
}

/**
 * The run's data held whole, for the consumers that need it so (certification, the example grid's first points):
 * a lazy source is read (up to `limit` samples), a dataset returned as is.
 *
 * @param data - the run's data.
 * @param limit - read at most this many samples from a lazy source. Default: all.
 */
export async function wholeData(data: Dataset | DataSource, limit?: number): Promise<Dataset> {
  if (!('read' in data)) return data;
  const count = Math.min(data.count, limit ?? data.count);
  const { images, labels } = await data.read(0, count);
  return {
    images,
    labels,
    count,
    shape: [...data.shape],
    sha256: data.sha256,
    source: data.source,
    ...(data.classNames !== undefined ? { classNames: data.classNames } : {}),
  };
}
