/**
 * The configuration file of `robustest eval`: `robustest.config.json`, or a `robustest.config.mjs` /
 * `robustest.config.ts` whose default export is the same object. It names the model, the data, the attacks with
 * their options, the radii per norm, the thresholds (overall, per attack, per radius) and the report files. It is
 * checked against `schema/config.schema.json` (JSON Schema 2020-12, shipped with the package), with one-line
 * errors that name the key and what was expected. Command-line flags override it key by key.
 *
 * @example
 * ```ts
 * // robustest.config.ts holds `export default defineConfig({ ... })`; the object:
 * import { defineConfig } from 'robustest';
 * const config = defineConfig({
 *   model: 'model/model.json',
 *   data: { path: 'data/test-images.npy', labels: 'data/test-labels.npy' },
 *   attacks: ['fgsm', { name: 'pgd', steps: 40, restarts: 2 }],
 *   epsilons: { linf: [2 / 255, 8 / 255] },
 *   thresholds: { minRobustAccuracy: 0.4, rules: [{ attack: 'pgd', epsilon: 8 / 255, minRobustAccuracy: 0.3 }] },
 *   outputs: { json: 'robustness.json', markdown: 'robustness.md' },
 * });
 * ```
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ConfigError, describe } from './errors.js';
import { packageRoot } from './package-info.js';
import type { Norm } from './norms.js';
import type { LossName } from './losses.js';
import type { Report } from './report.js';
import { reportVerdict } from './report-markdown.js';
import { attackEntry, createAttack, type AttackName, type AttackOptions } from '../attacks/registry.js';
import type { Attack } from './runner.js';
import type { EvaluateOptions } from '../metrics/evaluate.js';

/** The file names `robustest eval` looks for in the working directory, in this order. */
export const CONFIG_FILES = ['robustest.config.json', 'robustest.config.mjs', 'robustest.config.ts'] as const;

/** The model of a {@link RobustestConfig}, when more than its path is needed. */
export interface ModelConfig {
  /** tfjs `model.json` (or its folder) or `.onnx` file, relative to the config file. */
  path: string;
  /** Raw input range of the model; data is scaled into it. Default `[0, 1]`. */
  bounds?: [number, number];
  /** Per-channel mean applied inside the model (with `std`). Default: none. */
  mean?: number[];
  /** Per-channel standard deviation applied inside the model (with `mean`). Default: none. */
  std?: number[];
  /** Number of classes, for a model that does not declare it. Default: read from the model. */
  numClasses?: number;
  /** Shape of one input without the batch dimension, for a model that does not declare it. */
  inputShape?: number[];
  /** `.onnx` only: a query-only model (black-box attacks only). Default `false`. */
  queryOnly?: boolean;
}

/** The data of a {@link RobustestConfig}, when more than its path is needed. */
export interface DataConfig {
  /** IDX images, `.npy` array, or an image folder with one subfolder per class, relative to the config file. */
  path: string;
  /** Labels of IDX or `.npy` inputs. */
  labels?: string;
  /** Class names in label order: a list, or a file with one name per line. Default: none (or the subfolders). */
  classNames?: string[] | string;
}

/** One attack of a {@link RobustestConfig} with its options (those of the attack's registry row). */
export interface AttackConfig extends AttackOptions {
  /** The attack (a name of the registry, `robustest eval --help` lists them). */
  name: AttackName;
}

/** A threshold: the lowest acceptable robust accuracy, for one attack and/or one norm and radius. */
export interface ThresholdRule {
  /** The lowest acceptable robust accuracy, a fraction in `[0, 1]`. */
  minRobustAccuracy: number;
  /** The attack whose row of the report is checked. Default: the worst case over all attacks (the curve). */
  attack?: AttackName;
  /** Only this norm. Default: every norm. */
  norm?: Norm;
  /** Only this radius. Default: every radius. */
  epsilon?: number;
}

/** When `robustest eval` exits 1. */
export interface ThresholdsConfig {
  /** Every point of the worst-case curve must reach this fraction, and no severe pitfall check may fire. */
  minRobustAccuracy?: number;
  /** Pass even when a severe pitfall check fired. Default `false`. */
  allowWarnings?: boolean;
  /** Finer thresholds, per attack and/or per norm and radius. Default: none. */
  rules?: ThresholdRule[];
}

/** Report files to write, relative to the config file. */
export interface OutputsConfig {
  /** The JSON report. */
  json?: string;
  /** The Markdown report. */
  markdown?: string;
  /** The HTML report (when `robustest eval` has `--html`). */
  html?: string;
  /** JUnit XML (when `robustest eval` has `--junit`). */
  junit?: string;
  /** Keep the first N points' clean and adversarial inputs in the report, for the HTML image grid. Default: none. */
  examples?: number;
}

/** Radii per norm, in raw input units. */
export interface EpsilonsConfig {
  /** Radii of the L∞ attacks. */
  linf?: number[];
  /** Radii of the L2 attacks. */
  l2?: number[];
}

/**
 * What `robustest eval` evaluates and how. Every key is optional: without `model` and `data` it is the bundled MNIST
 * demo. See `schema/config.schema.json` for the same in JSON Schema, with each key's default.
 */
export interface RobustestConfig {
  /** The JSON Schema of the file, for editors (ignored). */
  $schema?: string;
  /** The model: a path, or {@link ModelConfig}. Default: the bundled MNIST CNN. */
  model?: string | ModelConfig;
  /** Labelled inputs: a path, or {@link DataConfig}. Default: the bundled 1,000 MNIST test images. */
  data?: string | DataConfig;
  /** Attacks in cascade order: names or {@link AttackConfig}. Default: fgsm, pgd (fgm, pgd with `norm: 'l2'`). */
  attacks?: (AttackName | AttackConfig)[];
  /** A fixed attack composition instead of `attacks`. */
  preset?: 'standard' | 'fast';
  /** Threat model of the attacks that do not set their own. Default: each attack's own. */
  norm?: Norm;
  /** Radii in raw input units: one list, or one per norm ({@link EpsilonsConfig}). Default `[0.1, 0.3]`. */
  epsilons?: number[] | EpsilonsConfig;
  /** Seed. Default `0`. */
  seed?: number;
  /** Inputs per attack batch. Default `100`. */
  batchSize?: number;
  /** Use only the first N inputs. Default: all. */
  limit?: number;
  /** Attack only the points still robust (per-point worst case). Default `true`. */
  cascade?: boolean;
  /** Targeted attacks towards random classes. Default `false`. */
  targeted?: boolean;
  /** The costlier pitfall checks too. Default `false`. */
  thorough?: boolean;
  /** A surrogate model for the transfer check. Default: none. */
  surrogate?: string;
  /** tfjs backend. Default `auto`. */
  backend?: 'auto' | 'cpu' | 'wasm' | 'tensorflow';
  /** What computes input-gradients. Default `auto`. */
  engine?: 'auto' | 'tfjs' | 'onnxruntime';
  /** tfjs engine: worker threads. Default `1`. */
  workers?: number;
  /** onnxruntime's intra-op threads. Default: all cores. */
  threads?: number;
  /** robustest's tfjs gradient overrides. Default `true`. */
  fastGradients?: boolean;
  /** When eval exits 1. Default: never. */
  thresholds?: ThresholdsConfig;
  /** Report files. Default: none. */
  outputs?: OutputsConfig;
}

/** A configuration read from a file. */
export interface LoadedConfig {
  /** The checked configuration, as written (paths not yet resolved). */
  config: RobustestConfig;
  /** The file's absolute path. */
  path: string;
}

/**
 * Types a configuration object (for `robustest.config.ts` / `.mjs`); returns it unchanged.
 *
 * @param config - the configuration.
 * @returns `config`.
 * @example
 * ```ts
 * // robustest.config.ts
 * const config = defineConfig({ model: 'model/model.json', data: 'data/images', epsilons: [0.03] });
 * // export default config;
 * ```
 */
export function defineConfig(config: RobustestConfig): RobustestConfig {
  return config;
}

let schemaCache: Record<string, unknown> | undefined;
let validatorCache: ValidateFunction | undefined;

/**
 * The configuration's JSON Schema (draft 2020-12), read once from `schema/config.schema.json` in the package.
 *
 * @returns the parsed schema; treat it as read-only.
 * @throws {@link ConfigError} if the schema file cannot be found or read.
 * @example
 * ```ts
 * console.log(Object.keys(configSchema()['properties'] as object)); // ['$schema', 'model', 'data', ...]
 * ```
 */
export function configSchema(): Record<string, unknown> {
  if (schemaCache === undefined) {
    const path = join(packageRoot() ?? '.', 'schema', 'config.schema.json');
    try {
      schemaCache = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config: expected a readable JSON schema at ${path}, got ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return schemaCache;
}

function validator(): ValidateFunction {
  validatorCache ??= new Ajv2020({ allErrors: true, strict: true, verbose: true }).compile(configSchema());
  return validatorCache;
}

/** `/attacks/1/steps` → `attacks[1].steps`. */
function keyPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1);
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((s, p) => (/^\d+$/.test(p) ? `${s}[${p}]` : s === '' ? p : `${s}.${p}`), '') || 'the configuration';
}

function valueAt(root: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((v, p) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined), root);
}

type SchemaNode = Record<string, unknown>;

/** A schema node in words: "an integer ≥ 1", "one of 'linf', 'l2'", "a path (string) or an object with path". */
function expected(node: SchemaNode | undefined): string {
  if (node === undefined) return 'a valid value';
  const ref = node['$ref'];
  if (typeof ref === 'string')
    return expected(((configSchema()['$defs'] as Record<string, SchemaNode>)[ref.replace('#/$defs/', '')] ?? undefined) as SchemaNode);
  const branches = (node['anyOf'] ?? node['oneOf']) as SchemaNode[] | undefined;
  if (branches) return branches.map(expected).join(' or ');
  const en = node['enum'] as unknown[] | undefined;
  if (en) return `one of ${en.map((v) => JSON.stringify(v)).join(', ')}`;
  const range = (): string => {
    const lo = node['minimum'];
    const xlo = node['exclusiveMinimum'];
    const hi = node['maximum'];
    if (lo !== undefined && hi !== undefined) return ` in [${String(lo)}, ${String(hi)}]`;
    if (xlo !== undefined) return ` > ${String(xlo)}`;
    if (lo !== undefined) return ` ≥ ${String(lo)}`;
    return '';
  };
  switch (node['type']) {
    case 'string':
      return node['minLength'] ? 'a non-empty string' : 'a string';
    case 'integer':
      return `an integer${range()}`;
    case 'number':
      return `a number${range()}`;
    case 'boolean':
      return 'true or false';
    case 'array': {
      const items = expected(node['items'] as SchemaNode | undefined).replace(/^an? /, '');
      const n = node['minItems'];
      if (n !== undefined && n === node['maxItems']) return `a list of ${String(n)} ${items.replace(/^(\w+)/, '$1s')}`;
      return `a${n ? ' non-empty' : ''} list of ${items.replace(/^(\w+)/, '$1s')}`;
    }
    case 'object': {
      const req = node['required'] as string[] | undefined;
      return req ? `an object with ${req.join(', ')}` : 'an object';
    }
    default:
      return 'a valid value';
  }
}

/** The one error to report: the deepest, and at equal depth a union's (which says every accepted form). */
function pickError(errors: readonly ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length + (e.keyword === 'additionalProperties' || e.keyword === 'required' ? 1 : 0);
  // At equal depth: an unknown key, then a broken constraint of the form the value has (a list too short), then a
  // union's message (every accepted form), then a plain type or enum mismatch.
  const rank = (e: ErrorObject): number =>
    e.keyword === 'additionalProperties' ? 0 : e.keyword === 'anyOf' || e.keyword === 'oneOf' ? 2 : e.keyword === 'type' || e.keyword === 'enum' ? 3 : 1;
  return [...errors].sort((a, b) => depth(b) - depth(a) || rank(a) - rank(b))[0]!;
}

function suggest(typed: string, candidates: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const scored = candidates.map((c) => ({ c, d: dist(typed.toLowerCase(), c.toLowerCase()) })).sort((x, y) => x.d - y.d);
  return scored[0] !== undefined && scored[0].d <= Math.max(1, Math.floor(typed.length / 3)) ? scored[0].c : undefined;
}

function expectedEnum(def: string): unknown[] | undefined {
  return ((configSchema()['$defs'] as Record<string, SchemaNode>)[def]?.['enum'] as unknown[] | undefined) ?? undefined;
}

function formatError(e: ErrorObject, value: unknown, source: string): string {
  const at = keyPath(e.instancePath);
  if (e.keyword === 'additionalProperties') {
    const key = String(e.params['additionalProperty']);
    const allowed = Object.keys(((e.parentSchema as SchemaNode | undefined)?.['properties'] as object | undefined) ?? {});
    const hint = suggest(key, allowed);
    return `${source}: expected ${e.instancePath === '' ? 'a top-level key' : `a key of ${at}`} among ${allowed.join(', ')}, got the unknown key '${keyPath(e.instancePath, key)}'${hint !== undefined ? ` (did you mean '${hint}'?)` : ''}`;
  }
  if (e.keyword === 'required') {
    return `${source}: expected ${at} to have the key '${String(e.params['missingProperty'])}', got ${describe(valueAt(value, e.instancePath))}`;
  }
  const node = e.keyword === 'anyOf' || e.keyword === 'oneOf' ? (e.parentSchema as SchemaNode) : (e.parentSchema as SchemaNode | undefined);
  let what = expected(node);
  if (e.keyword === 'minItems' && e.params['limit'] === 1) what = 'a non-empty list';
  if (e.keyword === 'minProperties') what = 'an object with at least one key';
  const got = valueAt(value, e.instancePath);
  const options =
    (node?.['enum'] as unknown[] | undefined) ??
    ((node?.['anyOf'] as SchemaNode[] | undefined)?.[0]?.['$ref'] === '#/$defs/attackName' ? (expectedEnum('attackName') ?? []) : undefined);
  const hint = typeof got === 'string' && options ? suggest(got, options.map(String)) : undefined;
  return `${source}: expected ${at} to be ${what}, got ${describe(got)}${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}`;
}

/**
 * Checks a configuration object against `schema/config.schema.json`, then what the schema cannot say: each attack's
 * options are ones that attack takes, its norm is one it supports, `mean` and `std` come together.
 *
 * @param value - the candidate (parsed JSON, or a module's default export).
 * @param source - how errors name it, e.g. the file name. Default `'config'`.
 * @returns the same value, typed.
 * @throws {@link ConfigError} with one line naming the first bad key and what was expected, e.g.
 *   `robustest.config.json: expected attacks[1].steps to be an integer ≥ 1, got 0`.
 * @example
 * ```ts
 * const config = validateConfig(JSON.parse(await readFile('robustest.config.json', 'utf8')), 'robustest.config.json');
 * ```
 */
export function validateConfig(value: unknown, source = 'config'): RobustestConfig {
  const validate = validator();
  if (!validate(value)) throw new ConfigError(formatError(pickError(validate.errors ?? []), value, source));
  const config = value as RobustestConfig;
  (config.attacks ?? []).forEach((a, i) => {
    if (typeof a === 'string') return;
    const entry = attackEntry(a.name);
    for (const key of Object.keys(a)) {
      if (key === 'name' || key === 'norm') continue;
      if (!(key in entry.options)) {
        const takes = Object.keys(entry.options);
        throw new ConfigError(
          `${source}: expected the options of attacks[${i}] (${a.name}) among ${takes.length ? takes.join(', ') : 'none'}${takes.length ? '' : ' (it takes none but norm)'}, got '${key}'`,
        );
      }
    }
    if (a.norm !== undefined && !entry.norms.includes(a.norm)) {
      throw new ConfigError(`${source}: expected attacks[${i}].norm of ${a.name} to be ${entry.norms.map((n) => `"${n}"`).join(' or ')}, got "${a.norm}"`);
    }
  });
  if (config.attacks !== undefined && config.preset !== undefined) {
    throw new ConfigError(`${source}: expected either attacks or preset, got both`);
  }
  const m = typeof config.model === 'object' ? config.model : undefined;
  if (m && (m.mean === undefined) !== (m.std === undefined)) {
    throw new ConfigError(`${source}: expected model.mean and model.std together, got only model.${m.mean === undefined ? 'std' : 'mean'}`);
  }
  if (m?.bounds && !(m.bounds[0] < m.bounds[1])) {
    throw new ConfigError(`${source}: expected model.bounds to be [lo, hi] with lo < hi, got [${m.bounds.join(', ')}]`);
  }
  if ((config.model === undefined) !== (config.data === undefined)) {
    throw new ConfigError(
      `${source}: expected both model and data (or neither, for the bundled demo), got only ${config.model === undefined ? 'data' : 'model'}`,
    );
  }
  return config;
}

/**
 * The configuration file in `dir`: the first of {@link CONFIG_FILES} that exists.
 *
 * @param dir - the folder to look in.
 * @returns its absolute path, or `undefined` when there is none.
 * @throws {@link ConfigError} when several exist (which one wins would be a guess).
 * @example
 * ```ts
 * const file = findConfigFile(process.cwd()); // '/work/app/robustest.config.json' or undefined
 * ```
 */
export function findConfigFile(dir: string): string | undefined {
  const found = CONFIG_FILES.map((f) => resolve(dir, f)).filter((p) => existsSync(p));
  if (found.length > 1) {
    throw new ConfigError(
      `config: expected one configuration file in ${dir}, got ${found.map((p) => p.slice(dirname(p).length + 1)).join(' and ')} (keep one)`,
    );
  }
  return found[0];
}

/**
 * Reads and checks a configuration file: JSON, or an ES module (`.mjs`, `.js`; `.ts`/`.mts` through tsx, which
 * must then be installed) whose default export is the configuration.
 *
 * @param path - the file.
 * @returns the checked configuration and the file's absolute path.
 * @throws {@link ConfigError} if the file cannot be read or parsed, has no default export, or fails
 *   {@link validateConfig}.
 * @example
 * ```ts
 * const { config } = await loadConfig('robustest.config.json');
 * console.log(config.attacks);
 * ```
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  const abs = resolve(path);
  const name = abs.slice(dirname(abs).length + 1);
  const ext = extname(abs).toLowerCase();
  let value: unknown;
  if (ext === '.json') {
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (e) {
      throw new ConfigError(`${path}: expected a readable configuration file, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${name}: expected JSON, got ${e instanceof Error ? e.message : String(e)}`);
    }
  } else if (['.mjs', '.js', '.ts', '.mts'].includes(ext)) {
    if (!existsSync(abs)) throw new ConfigError(`${path}: expected a readable configuration file, got ENOENT`);
    value = await importModule(abs, ext === '.ts' || ext === '.mts', name);
  } else {
    throw new ConfigError(`${path}: expected a .json, .mjs or .ts configuration file, got the extension '${ext}'`);
  }
  return { config: validateConfig(value, name), path: abs };
}

async function importModule(abs: string, typescript: boolean, name: string): Promise<unknown> {
  let mod: { default?: unknown };
  try {
    if (typescript) {
      let tsImport: (specifier: string, parent: string) => Promise<unknown>;
      try {
        ({ tsImport } = (await import('tsx/esm/api')) as { tsImport: typeof tsImport });
      } catch (e) {
        throw new ConfigError(
          `${name}: expected tsx to load a TypeScript configuration (npm install --save-dev tsx), got ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      mod = (await tsImport(pathToFileURL(abs).href, import.meta.url)) as { default?: unknown };
    } else {
      mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${name}: expected a module that loads, got ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  let value = mod.default;
  // tsx loads a .ts file outside an ES-module package as CommonJS: its exports arrive as the default export.
  if (typescript && value !== null && typeof value === 'object' && 'default' in value) value = (value as { default: unknown }).default;
  if (value === undefined) throw new ConfigError(`${name}: expected a default export (the configuration object), got none`);
  return value;
}

/**
 * The command-line flags a configuration stands for (`robustest eval`'s option names, camel-cased), with paths
 * resolved against `baseDir`. Keys the flags cannot say (per-attack options, radii per norm, threshold rules)
 * are applied by {@link configAttacks}, {@link configEpsilons} and {@link thresholdFailures}.
 *
 * @param config - a checked configuration.
 * @param baseDir - the folder relative paths start from (the config file's).
 * @returns flag name → value, only for the keys the configuration sets.
 * @example
 * ```ts
 * configFlags({ model: 'm/model.json', data: 'd.npy', seed: 1 }, '/app'); // { model: '/app/m/model.json', data: '/app/d.npy', seed: 1 }
 * ```
 */
export function configFlags(config: RobustestConfig, baseDir: string): Record<string, unknown> {
  const p = (s: string): string => resolve(baseDir, s);
  const flags: Record<string, unknown> = {};
  const set = (key: string, v: unknown): void => {
    if (v !== undefined) flags[key] = v;
  };
  const model = typeof config.model === 'string' ? { path: config.model } : config.model;
  if (model) {
    set('model', p(model.path));
    set('bounds', model.bounds);
    set('mean', model.mean);
    set('std', model.std);
    set('numClasses', model.numClasses);
    set('inputShape', model.inputShape);
    set('queryOnly', model.queryOnly);
  }
  const data = typeof config.data === 'string' ? { path: config.data } : config.data;
  if (data) {
    set('data', p(data.path));
    if (data.labels !== undefined) set('labels', p(data.labels));
    if (data.classNames !== undefined) set('classNames', Array.isArray(data.classNames) ? data.classNames.join(',') : p(data.classNames));
  }
  if (config.attacks)
    set(
      'attack',
      config.attacks.map((a) => (typeof a === 'string' ? a : a.name)),
    );
  set('preset', config.preset);
  set('norm', config.norm);
  if (config.epsilons !== undefined) set('eps', Array.isArray(config.epsilons) ? config.epsilons : [...new Set(Object.values(config.epsilons).flat())]);
  set('seed', config.seed);
  set('batchSize', config.batchSize);
  set('limit', config.limit);
  set('cascade', config.cascade);
  set('targeted', config.targeted);
  set('thorough', config.thorough);
  if (config.surrogate !== undefined) set('surrogate', p(config.surrogate));
  set('backend', config.backend);
  set('engine', config.engine);
  set('workers', config.workers);
  set('threads', config.threads);
  set('fastGradients', config.fastGradients);
  set('minRobustAccuracy', config.thresholds?.minRobustAccuracy);
  set('allowWarnings', config.thresholds?.allowWarnings);
  for (const [k, v] of Object.entries(config.outputs ?? {})) set(k, typeof v === 'string' ? p(v) : v);
  return flags;
}

/** Options of the attacks given on the command line, which override every attack's own in the configuration. */
export type AttackOverrides = Pick<AttackOptions, 'norm' | 'steps' | 'stepSize' | 'restarts' | 'earlyStop' | 'queries'> & { loss?: LossName };

/**
 * The attacks of a configuration whose `attacks` list gives per-attack options, built through the registry with
 * the command line's attack flags on top; `undefined` when the configuration has no such list (the flags then
 * build the attacks as usual).
 *
 * @param config - a checked configuration.
 * @param overrides - attack options given on the command line (`--steps`, `--norm`, ...).
 * @returns the attacks, in order, or `undefined`.
 * @throws {@link ConfigError} when an option is invalid for its attack.
 * @example
 * ```ts
 * const attacks = configAttacks({ attacks: ['fgsm', { name: 'pgd', steps: 20 }] }, {}); // fgsm, pgd-20
 * ```
 */
export function configAttacks(config: RobustestConfig, overrides: AttackOverrides): Attack[] | undefined {
  if (config.attacks === undefined || config.attacks.every((a) => typeof a === 'string')) return undefined;
  return config.attacks.map((a) => {
    const { name, ...own } = typeof a === 'string' ? { name: a } : a;
    const norm = overrides.norm ?? ('norm' in own ? own.norm : undefined) ?? config.norm;
    return createAttack(name, { ...own, ...overrides, ...(norm !== undefined ? { norm } : {}) });
  });
}

/**
 * The radii per norm of a configuration that lists them per norm, for `evaluate`'s `epsilons`; `undefined` when it
 * gives one list or none (the `--eps` flag then carries them).
 *
 * @param config - a checked configuration.
 * @returns `{ linf?: number[], l2?: number[] }` or `undefined`.
 * @example
 * ```ts
 * configEpsilons({ epsilons: { linf: [0.1], l2: [1, 2] } }); // { linf: [0.1], l2: [1, 2] }
 * ```
 */
export function configEpsilons(config: RobustestConfig): EpsilonsConfig | undefined {
  return config.epsilons !== undefined && !Array.isArray(config.epsilons) ? config.epsilons : undefined;
}

/**
 * The threshold rules a report breaks, one line each (empty when it meets them all). A rule with an attack checks
 * that attack's rows; without, the worst-case curve. A rule whose attack, norm or radius is not in the report is
 * itself a failure (a threshold that checks nothing is a mistake in the configuration).
 *
 * @param report - the evaluation's report.
 * @param rules - the rules.
 * @returns failure lines such as `pgd L∞ ε=0.1: robust accuracy 41.0% < 70.0%`.
 * @example
 * ```ts
 * const failures = thresholdFailures(report, [{ attack: 'pgd', epsilon: 0.1, minRobustAccuracy: 0.7 }]);
 * if (failures.length > 0) process.exitCode = 1;
 * ```
 */
export function thresholdFailures(report: Report, rules: readonly ThresholdRule[]): string[] {
  const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
  const normName = (n: string): string => (n === 'l2' ? 'L2' : 'L∞');
  const out: string[] = [];
  for (const rule of rules) {
    const rows =
      rule.attack === undefined
        ? report.curve.map((p) => ({ label: 'worst case', norm: p.norm ?? 'linf', epsilon: p.epsilon, acc: p.robustAccuracy }))
        : report.attacks.filter((a) => a.name === rule.attack).map((a) => ({ label: a.name, norm: a.norm, epsilon: a.epsilon, acc: a.robustAccuracy }));
    const matching = rows.filter(
      (r) => (rule.norm === undefined || r.norm === rule.norm) && (rule.epsilon === undefined || Math.abs(r.epsilon - rule.epsilon) <= 1e-12),
    );
    const scope = `${rule.attack ?? 'worst case'}${rule.norm !== undefined ? ` ${normName(rule.norm)}` : ''}${rule.epsilon !== undefined ? ` ε=${rule.epsilon}` : ''}`;
    if (matching.length === 0) {
      out.push(`threshold for ${scope}: expected the report to have that row, got none (check the rule's attack, norm and epsilon)`);
      continue;
    }
    for (const r of matching) {
      if (r.acc < rule.minRobustAccuracy)
        out.push(`${r.label} ${normName(r.norm)} ε=${r.epsilon}: robust accuracy ${pct(r.acc)} < ${pct(rule.minRobustAccuracy)}`);
    }
  }
  return out;
}

/**
 * Whether a report passes a configuration's thresholds: the rules, and `minRobustAccuracy` with the reliability
 * check (a severe pitfall warning fails it unless `allowWarnings`), as `robustest eval` applies them.
 *
 * @param report - the evaluation's report.
 * @param thresholds - the configuration's thresholds.
 * @returns the failure lines; empty when it passes.
 * @example
 * ```ts
 * const failures = checkThresholds(report, { minRobustAccuracy: 0.5 });
 * ```
 */
export function checkThresholds(report: Report, thresholds: ThresholdsConfig): string[] {
  const rules: ThresholdRule[] = [
    ...(thresholds.minRobustAccuracy !== undefined ? [{ minRobustAccuracy: thresholds.minRobustAccuracy }] : []),
    ...(thresholds.rules ?? []),
  ];
  const out = thresholdFailures(report, rules);
  const verdict = reportVerdict(report);
  if (rules.length > 0 && !verdict.reliable && thresholds.allowWarnings !== true) {
    out.push(`the evaluation is ${verdict.line}; its robust accuracy is likely an overestimate (allowWarnings accepts it)`);
  }
  return out;
}

/** The part of a commander `Command` that {@link applyConfig} uses. @internal */
export interface ConfigurableCommand {
  opts(): Record<string, unknown>;
  getOptionValueSource(key: string): string | undefined;
  setOptionValueWithSource(key: string, value: unknown, source: 'config'): unknown;
  readonly options: readonly { attributeName(): string; long?: string | undefined }[];
}

/** A configuration applied to a command: what the flags cannot carry. @internal */
export interface AppliedConfig {
  /** The configuration file. */
  path: string;
  /** The checked configuration. */
  config: RobustestConfig;
  /** Replaces the attacks and radii of `options` by the configuration's per-attack options and per-norm radii where the command line did not set them. */
  adjust(options: EvaluateOptions): EvaluateOptions;
  /** The configuration's threshold rules the report breaks (and its reliability, when rules are set). */
  failures(report: Report): string[];
}

const ATTACK_FLAGS = ['norm', 'steps', 'stepSize', 'restarts', 'earlyStop', 'loss', 'queries'] as const;

/**
 * Reads the configuration of a command (its `--config`, else the first of {@link CONFIG_FILES} in `cwd`) and sets
 * every option the command line left at its default from it (commander's value source `config`): flags override
 * the file. Output keys the command has no option for are an error.
 *
 * @param command - the parsed command (`robustest eval`).
 * @param cwd - where to look for a configuration file.
 * @returns what the flags cannot carry, or `undefined` when there is no configuration.
 * @throws {@link ConfigError} for a bad or ambiguous configuration.
 * @internal
 */
export async function applyConfig(command: ConfigurableCommand, cwd: string): Promise<AppliedConfig | undefined> {
  const given = command.opts()['config'];
  const file = typeof given === 'string' ? resolve(cwd, given) : findConfigFile(cwd);
  if (file === undefined) return undefined;
  const { config, path } = await loadConfig(file);
  const name = path.slice(dirname(path).length + 1);
  const fromCli = (key: string): boolean => {
    const source = command.getOptionValueSource(key);
    return source === 'cli' || source === 'env';
  };
  const known = new Set(command.options.map((o) => o.attributeName()));
  for (const [key, value] of Object.entries(configFlags(config, dirname(path)))) {
    if (!known.has(key)) {
      throw new ConfigError(
        `${name}: expected outputs among those this command writes (${[...known].filter((k) => ['json', 'markdown', 'html', 'junit'].includes(k)).join(', ')}), got outputs.${key}`,
      );
    }
    if (fromCli(key)) continue;
    // --attack and --preset exclude each other: one given on the command line replaces the other from the file.
    if ((key === 'attack' && fromCli('preset')) || (key === 'preset' && fromCli('attack'))) continue;
    command.setOptionValueWithSource(key, value, 'config');
  }
  const overrides: Record<string, unknown> = {};
  for (const k of ATTACK_FLAGS) if (fromCli(k)) overrides[k] = command.opts()[k];
  const attacksFromFile = command.getOptionValueSource('attack') === 'config';
  const epsilonsFromFile = command.getOptionValueSource('eps') === 'config';
  return {
    path,
    config,
    adjust(options) {
      const attacks = attacksFromFile ? configAttacks(config, overrides as AttackOverrides) : undefined;
      const epsilons = epsilonsFromFile ? configEpsilons(config) : undefined;
      return { ...options, ...(attacks !== undefined ? { attacks } : {}), ...(epsilons !== undefined ? { epsilons } : {}) };
    },
    failures(report) {
      const rules = config.thresholds?.rules ?? [];
      if (rules.length === 0) return [];
      const allow = command.opts()['allowWarnings'] === true;
      return checkThresholds(report, { rules, allowWarnings: allow });
    },
  };
}
