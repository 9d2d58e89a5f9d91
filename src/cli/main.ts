/**
 * The `robustest` command line. `robustest eval` loads a model and data (the bundled MNIST demo by default), runs
 * the attacks, prints a table, writes JSON/Markdown reports and exits non-zero below a threshold.
 *
 * Exit codes: 0 success; 1 a robust accuracy fell below `--min-robust-accuracy`, or a severe pitfall check fired
 * with `--min-robust-accuracy` and without `--allow-warnings`; 2 a usage or input error (one
 * line on stderr; the stack with `--verbose`); 3 an unexpected internal error.
 * @module
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import * as tf from '../tf.js';
import { RobustestError, ConfigError } from '../errors.js';
import { initBackend, type BackendName } from '../backend.js';
import { disableFastGradients } from '../gradients/index.js';
import { loadModel, type LoadModelOptions } from '../load.js';
import { GRADIENT_ENGINES, type GradientEngine } from '../onnx/options.js';
import { parallelModel } from '../parallel/index.js';
import { loadData } from '../data/index.js';
import { packageAssets, libraryVersion } from '../package-info.js';
import { renderMarkdown, renderText, reportVerdict } from '../report-markdown.js';
import type { Bounds, Model } from '../model.js';
import type { Report } from '../report.js';
import type { Norm } from '../norms.js';
import { LOSS_NAMES, type LossName } from '../losses.js';
import { createAttack, ATTACK_NAMES, ATTACKS } from '../../attacks/registry.js';
import { PRESET_NAMES, type PresetName } from '../../attacks/presets.js';
import { evaluate, type EvaluateProgress } from '../../metrics/evaluate.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIO {
  /** Standard output (the table). */
  stdout: (text: string) => void;
  /** Standard error (progress, backend line, errors). */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (enables the progress bar). */
  isTTY: boolean;
  /** Environment variables (ROBUSTEST_BACKEND). */
  env: Record<string, string | undefined>;
}

/** Parsed `robustest eval` options. */
export interface EvalFlags {
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
  json?: string;
  markdown?: string;
  minRobustAccuracy?: number;
  allowWarnings?: boolean;
  thorough?: boolean;
  surrogate?: string;
  cascade: boolean;
  fastGradients: boolean;
  engine?: GradientEngine;
  workers?: number;
  threads?: number;
  verbose?: boolean;
  quiet?: boolean;
}

/** The bundled demo, relative to the assets folder. */
const BUNDLED = {
  model: join('mnist-cnn', 'model.json'),
  data: join('mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
  labels: join('mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
};

/** A number, or a fraction `a/b` of two numbers (`8/255`). NaN when it is neither. */
function numberOrFraction(s: string): number {
  const m = /^([^/]+)\/([^/]+)$/.exec(s);
  if (!m) return s === '' ? NaN : Number(s);
  const [a, b] = [Number(m[1]!.trim()), Number(m[2]!.trim())];
  return m[1]!.trim() === '' || m[2]!.trim() === '' || b === 0 ? NaN : a / b;
}

function numberList(name: string, min?: number) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    const out = parts.map(numberOrFraction);
    if (parts.some((s) => s === '') || out.some((v) => !Number.isFinite(v) || (min !== undefined && v < min))) {
      throw new InvalidArgumentError(
        `expected a comma-separated list of numbers or fractions (8/255)${min !== undefined ? ` >= ${min}` : ''} for ${name}, got "${value}"`,
      );
    }
    return out;
  };
}

function integer(name: string, min: number) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`expected an integer >= ${min} for ${name}, got "${value}"`);
    return v;
  };
}

function positive(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`expected a number > 0 for ${name}, got "${value}"`);
    return v;
  };
}

function fraction(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new InvalidArgumentError(`expected a number in [0, 1] for ${name}, got "${value}"`);
    return v;
  };
}

function attackList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim().toLowerCase());
  const bad = names.find((n) => !(ATTACK_NAMES as readonly string[]).includes(n));
  if (bad !== undefined) throw new InvalidArgumentError(`expected attacks among ${ATTACK_NAMES.join(', ')}, got "${bad}"`);
  return names;
}

function dims(name: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    const out = parts.map(Number);
    if (parts.some((s) => s === '') || out.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new InvalidArgumentError(`expected a comma-separated list of positive integers (one input, no batch dimension) for ${name}, got "${value}"`);
    }
    return out;
  };
}

/**
 * `--class-names`: a file with one name per line (blank lines ignored) when the value names a file, else a
 * comma-separated list.
 */
async function readClassNames(value: string): Promise<string[]> {
  const file = (await stat(value).catch(() => undefined))?.isFile() === true;
  const names = file
    ? (await readFile(value, 'utf8'))
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : value.split(',').map((s) => s.trim());
  if (names.length === 0 || names.some((n) => n === '')) {
    throw new ConfigError(`eval: expected --class-names to be comma-separated names or a file with one name per line, got "${value}"`);
  }
  return names;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The option a mistyped one most likely meant, among the options of the command it was given to: one whose name
 * starts the mistyped one or that it starts (`--epsilon` → `--eps`, `--step` → `--steps`), else the closest by
 * edit distance when that is at most a third of its length (`--atack` → `--attack`), else none.
 */
export function suggestOption(typed: string, candidates: readonly string[]): string | undefined {
  const t = (typed.replace(/^-+/, '').split('=')[0] ?? '').toLowerCase();
  const names = candidates.map((c) => c.replace(/^-+/, ''));
  if (t.length >= 3) {
    const prefixed = names.filter((n) => n.length >= 3 && (t.startsWith(n) || n.startsWith(t)));
    prefixed.sort((a, b) => Math.abs(a.length - t.length) - Math.abs(b.length - t.length));
    if (prefixed[0] !== undefined) return `--${prefixed[0]}`;
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const n of names) {
    const dist = editDistance(t, n);
    if (dist < bestDistance) [best, bestDistance] = [n, dist];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(t.length / 3)) ? `--${best}` : undefined;
}

function bounds(value: string): Bounds {
  const v = numberList('--bounds')(value);
  if (v.length !== 2 || !(v[0]! < v[1]!)) throw new InvalidArgumentError(`expected LO,HI with LO < HI for --bounds, got "${value}"`);
  return [v[0]!, v[1]!];
}

/** A one-line progress bar on stderr, redrawn in place. */
function progressBar(io: CliIO): { update: (e: EvaluateProgress) => void; end: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update: (e) => {
      const now = Date.now();
      if (now - last < 100 && e.done < e.total) return;
      last = now;
      const width = 30;
      const filled = Math.round((e.done / e.total) * width);
      const label = e.phase === 'clean' ? 'clean pass' : `${e.phase} ε=${e.epsilon}`;
      io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round((100 * e.done) / e.total)).padStart(3)}% ${label.padEnd(24)}`);
      drawn = true;
    },
    end: () => {
      if (drawn) io.stderr('\r' + ' '.repeat(72) + '\r');
    },
  };
}

/** The attacks of the registry, for `eval --help`. */
function attackHelp(): string {
  const rows = Object.values(ATTACKS).map((e) => {
    const opts = Object.keys(e.options)
      .map((k) => `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`)
      .join(', ');
    return `  ${e.name.padEnd(14)} ${e.kind.padEnd(14)} ${e.norms.join('/').padEnd(8)} ${e.summary}${opts ? `\n  ${''.padEnd(38)}options: ${opts}` : ''}`;
  });
  return `\nAttacks (--attack):\n  ${'name'.padEnd(14)} ${'kind'.padEnd(14)} ${'norms'.padEnd(8)} summary\n${rows.join('\n')}\n`;
}

function buildProgram(io: CliIO, onEval: (flags: EvalFlags) => Promise<number>): Command {
  const program = new Command('robustest')
    .description('Adversarial-robustness testing for TensorFlow.js and ONNX classifiers.')
    .version(libraryVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showHelpAfterError(false)
    .showSuggestionAfterError(false); // commander suggests across commands (--epsilon → --version): main() suggests instead
  program
    .command('eval')
    .description(
      'Evaluate a model: clean accuracy, then each attack at each epsilon on the points still robust, robust accuracy ' +
        'as the per-point worst case. With no --model/--data it runs the bundled MNIST demo.',
    )
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
    .option('--eps <list>', 'comma-separated epsilons, in raw input units; fractions allowed (8/255)', numberList('--eps', 0), [0.1, 0.3])
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
    .option('--json <file>', 'write the JSON report here')
    .option('--markdown <file>', 'write the Markdown report here')
    .option(
      '--min-robust-accuracy <a>',
      'exit 1 if any worst-case robust accuracy is below this fraction, or if a severe pitfall check fired (the verdict is UNRELIABLE)',
      fraction('--min-robust-accuracy'),
    )
    .option('--allow-warnings', 'with --min-robust-accuracy: pass even when a severe pitfall check fired')
    .option(
      '--thorough',
      'also run the costlier pitfall checks: the iterative attacks again with 2× steps and ≥ 5 restarts on the robust points, and (in the cascade) on the points FGSM fooled',
    )
    .option(
      '--surrogate <path>',
      "a surrogate model (same inputs and classes) whose gradients the gradient attacks also follow; warns when they fool more than the model's own",
    )
    .option('--no-cascade', 'run every attack on every clean-correct point (per-attack numbers are then each its own)')
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText('after', attackHelp)
    .action(async (flags: EvalFlags) => {
      await onEval(flags);
    });
  return program;
}

async function runEval(flags: EvalFlags, io: CliIO, argv: readonly string[]): Promise<number> {
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
  const say = (s: string): void => {
    if (!flags.quiet) io.stdout(s);
  };

  tf.env().set('PROD', true); // silences tfjs's own console notices; robustest's checks do not depend on it
  const requested = flags.backend ?? (io.env['ROBUSTEST_BACKEND'] as BackendName | undefined) ?? 'auto';
  const backend = await initBackend(requested);
  if (!flags.fastGradients) disableFastGradients();
  if (!flags.quiet)
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
  if (!flags.quiet) io.stderr(`robustest: gradients by ${model.engine}${workers > 1 ? ` in ${workers} worker threads` : ''}\n`);
  let surrogate: Model | undefined;
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
    const data = await loadData(dataPath, {
      bounds,
      inputShape: model.inputShape,
      layout: model.layout,
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      ...(labelsPath !== undefined ? { labels: labelsPath } : {}),
      ...(classNames !== undefined ? { classNames } : {}),
    });
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
    const bar = io.isTTY && !flags.quiet ? progressBar(io) : undefined;
    let report: Report;
    try {
      report = await evaluate(model, data, {
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
        command: ['robustest', ...argv].join(' '),
        ...(bar ? { onProgress: bar.update } : {}),
      });
    } finally {
      bar?.end();
    }
    say(renderText(report));
    if (flags.json) {
      await mkdir(dirname(resolve(flags.json)), { recursive: true });
      await writeFile(flags.json, JSON.stringify(report, null, 2) + '\n');
      say(`JSON report: ${flags.json}\n`);
    }
    if (flags.markdown) {
      await mkdir(dirname(resolve(flags.markdown)), { recursive: true });
      await writeFile(flags.markdown, renderMarkdown(report));
      say(`Markdown report: ${flags.markdown}\n`);
    }
    const min = flags.minRobustAccuracy;
    if (min !== undefined) {
      const failing = report.curve.filter((p) => p.robustAccuracy < min);
      if (failing.length > 0) {
        io.stderr(`robustest: robust accuracy below ${min}: ${failing.map((p) => `${(100 * p.robustAccuracy).toFixed(1)}% at ε=${p.epsilon}`).join(', ')}\n`);
        return 1;
      }
      const verdict = reportVerdict(report);
      if (!verdict.reliable && !flags.allowWarnings) {
        io.stderr(
          `robustest: the evaluation is ${verdict.line}; its robust accuracy is likely an overestimate, so --min-robust-accuracy fails (see the warnings; --allow-warnings accepts it)\n`,
        );
        return 1;
      }
    }
    return 0;
  } finally {
    surrogate?.dispose();
    model.dispose();
  }
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @param argv - arguments, e.g. `['eval', '--eps', '0.1']`.
 * @param io - output sinks and environment; defaults to the process's.
 * @returns 0 on success, 1 below `--min-robust-accuracy`, 2 on usage or input errors, 3 on internal errors.
 * @example
 * ```ts
 * const code = await main(['eval', '--limit', '100', '--json', 'report.json']);
 * ```
 */
export async function main(argv: readonly string[], io?: Partial<CliIO>): Promise<number> {
  const sinks: CliIO = {
    stdout: io?.stdout ?? ((s) => void process.stdout.write(s)),
    stderr: io?.stderr ?? ((s) => void process.stderr.write(s)),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
    env: io?.env ?? process.env,
  };
  let code = 0;
  let verbose = argv.includes('--verbose');
  const program = buildProgram(sinks, async (flags) => {
    verbose = Boolean(flags.verbose);
    code = await runEval(flags, sinks, argv);
    return code;
  });
  try {
    if (argv.length === 0) {
      sinks.stdout(program.helpInformation());
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      let message = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      const unknown = e.code === 'commander.unknownOption' ? /unknown option '([^']+)'/.exec(message)?.[1] : undefined;
      if (unknown !== undefined) {
        const command = program.commands.find((c) => argv.includes(c.name())) ?? program;
        const suggestion = suggestOption(
          unknown,
          [...command.options.map((o) => o.long ?? ''), '--help'].filter((l) => l !== ''),
        );
        if (suggestion !== undefined) message += ` (Did you mean ${suggestion}?)`;
      }
      sinks.stderr(`robustest: ${message}\n`);
      return 2;
    }
    if (e instanceof RobustestError) {
      sinks.stderr(`robustest: ${e.message}\n`);
      if (verbose && e.stack) sinks.stderr(e.stack + '\n');
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    sinks.stderr(`robustest: internal error: ${err.message}\n`);
    if (verbose && err.stack) sinks.stderr(err.stack + '\n');
    return 3;
  }
}
