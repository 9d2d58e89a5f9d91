/**
 * `robustest init`: writes a commented starter configuration (`robustest.config.mjs` by default; `.ts` or `.json`
 * with `--format`) for the user's model: it loads the model once to read its input shape and class count, and
 * proposes radii, attacks, thresholds and outputs to edit.
 * @internal
 * @module
 */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../errors.js';
import { loadModel } from '../load.js';
import * as tf from '../tf.js';
import { writeFileAtomic, checkOutputPath } from '../write.js';
import { validateConfig, type RobustestConfig } from '../config.js';
import type { CliIO, CommandContext } from './common.js';

/** Parsed `robustest init` options. */
export interface InitFlags {
  model?: string;
  data?: string;
  labels?: string;
  format: 'mjs' | 'ts' | 'json';
  output?: string;
  force?: boolean;
}

/** What init learned about the model. */
interface ModelFacts {
  inputShape: readonly number[];
  numClasses: number;
}

/** Adds `init` to the program. */
export function registerInit(program: Command, context: CommandContext): void {
  program
    .command('init')
    .description(
      'Write a commented starter configuration for your model (robustest.config.mjs; `robustest eval` reads it). ' +
        'With --model, the model is loaded once to fill in its input shape and classes.',
    )
    .option('--model <path>', 'your model: tfjs model.json (or its folder) or .onnx file (default: the bundled MNIST demo)')
    .option('--data <path>', 'labelled test inputs: IDX images, .npy array, or an image folder with one subfolder per class')
    .option('--labels <path>', 'labels for IDX or .npy inputs')
    .addOption(
      new Option('--format <format>', 'mjs (JavaScript with comments), ts (TypeScript, loaded through tsx) or json')
        .choices(['mjs', 'ts', 'json'])
        .default('mjs'),
    )
    .option('--output <file>', 'where to write it (default: robustest.config.<format> in the working directory)')
    .option('--force', 'overwrite an existing file')
    .action(async (flags: InitFlags) => {
      context.setExitCode(await runInit(flags, context.io));
    });
}

function rel(from: string, path: string): string {
  const r = relative(from, resolve(path)).split(sep).join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

/** Radii that usually make sense for inputs in [0, 1]: larger for small grayscale images (MNIST), 2–8/255 for color. */
function proposedEpsilons(shape: readonly number[]): { linf: number[]; linfText: string; l2: number[] } {
  const channels = shape.length === 3 ? Math.min(shape[0]!, shape[2]!) : 1;
  const size = shape.reduce((a, b) => a * b, 1);
  if (channels === 1 && size <= 32 * 32) return { linf: [0.1, 0.2, 0.3], linfText: '[0.1, 0.2, 0.3]', l2: [1, 2] };
  return { linf: [2 / 255, 4 / 255, 8 / 255], linfText: '[2 / 255, 4 / 255, 8 / 255]', l2: [0.25, 0.5] };
}

/** The starter configuration as an object (what the commented file evaluates to). */
function starterConfig(flags: InitFlags, base: string, facts: ModelFacts | undefined): RobustestConfig {
  const eps = proposedEpsilons(facts?.inputShape ?? [28, 28, 1]);
  return {
    ...(flags.model !== undefined ? { model: { path: rel(base, flags.model), bounds: [0, 1] as [number, number] } } : {}),
    ...(flags.data !== undefined
      ? { data: flags.labels !== undefined ? { path: rel(base, flags.data), labels: rel(base, flags.labels) } : rel(base, flags.data) }
      : {}),
    attacks: ['fgsm', { name: 'pgd', steps: 40, restarts: 1 }],
    epsilons: { linf: eps.linf },
    seed: 0,
    batchSize: 100,
    thresholds: { minRobustAccuracy: 0 },
    outputs: { json: 'robustness/report.json', markdown: 'robustness/report.md' },
  };
}

/** The commented JavaScript/TypeScript text of the starter configuration. */
function commentedText(flags: InitFlags, config: RobustestConfig, facts: ModelFacts | undefined): string {
  const eps = proposedEpsilons(facts?.inputShape ?? [28, 28, 1]);
  const ts = flags.format === 'ts';
  const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const model = config.model;
  const data = config.data;
  const lines: string[] = [
    '// robustest configuration: `npx robustest eval` reads this file from the working directory (or --config FILE).',
    '// Every key is optional; command-line flags override it. Paths are relative to this file.',
    '// Reference: the JSON Schema in node_modules/robustest/schema/config.schema.json.',
    ...(ts ? ["import { defineConfig } from 'robustest';", ''] : ['']),
    ts ? 'export default defineConfig({' : '/** @type {import("robustest").RobustestConfig} */\nexport default {',
  ];
  if (model !== undefined && typeof model === 'object') {
    const shape = facts ? `input shape [${facts.inputShape.join(', ')}], ${facts.numClasses} classes (read from the model)` : '';
    lines.push(
      `  // The model under test: ${shape}.`,
      '  // bounds: the raw input range the model takes. Radii are measured in these units ([0, 255] models need ε × 255).',
      '  // mean/std: per-channel normalisation done inside the model, if your preprocessing does it outside.',
      `  model: { path: ${q(model.path)}, bounds: [0, 1] /* , mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] */ },`,
    );
  } else {
    lines.push(
      '  // The model under test (default: the bundled MNIST CNN). A path, or { path, bounds, mean, std, numClasses, inputShape }.',
      "  // model: { path: './model/model.json', bounds: [0, 1] },",
    );
  }
  if (data !== undefined) {
    const d = typeof data === 'string' ? `${q(data)}` : `{ path: ${q(data.path)}, labels: ${q(data.labels ?? '')} }`;
    lines.push('  // Labelled test inputs: IDX, .npy (with labels), or a folder with one subfolder per class.', `  data: ${d},`);
  } else {
    lines.push(
      '  // Labelled test inputs (default with no model: the bundled 1,000 MNIST test images). model and data go together.',
      "  // data: { path: './data/test-images.npy', labels: './data/test-labels.npy' },",
    );
  }
  lines.push(
    '',
    '  // Attacks, run in order; each later one only on the points still robust (the per-point worst case).',
    "  // Options per attack: steps, stepSize, restarts, earlyStop, loss ('ce', 'margin', 'dlr'), queries, norm.",
    "  // `npx robustest eval --help` lists every attack. A stronger standard set instead: preset: 'standard'.",
    "  attacks: ['fgsm', { name: 'pgd', steps: 40, restarts: 1 }],",
    '',
    `  // Radii per norm, in raw input units.${facts ? '' : ' (No model given: radii for 28×28 grayscale images in [0, 1].)'}`,
    `  // Add l2: [${eps.l2.join(', ')}] with an L2 attack (fgm, or { name: 'pgd', norm: 'l2' }).`,
    `  epsilons: { linf: ${eps.linfText} },`,
    '',
    '  seed: 0, // every random choice derives from it: the same seed gives the same numbers',
    '  batchSize: 100,',
    '  // limit: 500, // evaluate only the first N inputs (a quick look; the confidence intervals widen)',
    '',
    '  // When eval exits 1 (for CI): the worst-case robust accuracy at every radius must reach minRobustAccuracy,',
    '  // and a severe pitfall check (gradient masking signs) fails the run unless allowWarnings is true.',
    '  // Rules check one attack and/or one norm and radius.',
    '  thresholds: {',
    '    minRobustAccuracy: 0, // raise to the level you need, e.g. 0.5',
    "    // rules: [{ attack: 'pgd', norm: 'linf', epsilon: 0.1, minRobustAccuracy: 0.7 }],",
    '  },',
    '',
    '  // Report files (relative to this file).',
    "  outputs: { json: 'robustness/report.json', markdown: 'robustness/report.md' },",
    ts ? '});' : '};',
    '',
  );
  return lines.join('\n');
}

async function runInit(flags: InitFlags, io: CliIO): Promise<number> {
  if ((flags.model === undefined) !== (flags.data === undefined)) {
    throw new ConfigError(
      `init: expected both --model and --data (or neither, for the bundled demo), got only ${flags.model === undefined ? '--data' : '--model'}`,
    );
  }
  const output = resolve(flags.output ?? `robustest.config.${flags.format}`);
  if (existsSync(output) && !flags.force) {
    throw new ConfigError(`init: expected no file at ${output} (pass --force to overwrite it), got an existing file`);
  }
  await checkOutputPath(output, '--output');
  let facts: ModelFacts | undefined;
  if (flags.model !== undefined) {
    tf.env().set('PROD', true);
    const model = await loadModel(resolve(flags.model), { engine: 'tfjs' });
    facts = { inputShape: model.inputShape, numClasses: model.numClasses };
    model.dispose();
  }
  const base = dirname(output);
  const config = validateConfig(starterConfig(flags, base, facts), 'init');
  const text =
    flags.format === 'json'
      ? JSON.stringify({ $schema: './node_modules/robustest/schema/config.schema.json', ...config }, null, 2) + '\n'
      : commentedText(flags, config, facts);
  await writeFileAtomic(output, text);
  io.stdout(
    `wrote ${output}${facts ? ` (model: input shape [${facts.inputShape.join(', ')}], ${facts.numClasses} classes)` : ''}\nnext: edit it, then run \`npx robustest eval\`\n`,
  );
  return 0;
}
