/**
 * What every `robustest` command shares: the output sinks, the option parsers (each throws commander's
 * `InvalidArgumentError` with a one-line message), the progress bar and the mistyped-option suggestion.
 * @internal
 * @module
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { countLimit } from '../validate.js';
import type { Bounds } from '../model.js';
import { ATTACK_NAMES } from '../../attacks/registry.js';
import type { EvaluateProgress } from '../../metrics/evaluate.js';

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

/**
 * What a command module gets when it registers its command on the program: the sinks, the raw argv (for the
 * report's provenance) and a way to set the exit code and verbosity. A command's action throws a
 * `RobustestError` for a usage or input error (exit 2, one line); `main` prints it.
 */
export interface CommandContext {
  /** Output sinks and environment. */
  readonly io: CliIO;
  /** The arguments `main` was called with (without `node` and the script). */
  readonly argv: readonly string[];
  /** Sets the process's exit code (0 unless called). */
  setExitCode(code: number): void;
  /** Whether to print stack traces of errors (`--verbose`). */
  setVerbose(verbose: boolean): void;
}

/** A command module's entry: adds its command (with options and action) to the program. */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

/** A number, or a fraction `a/b` of two numbers (`8/255`). NaN when it is neither. */
export function numberOrFraction(s: string): number {
  const m = /^([^/]+)\/([^/]+)$/.exec(s);
  if (!m) return s === '' ? NaN : Number(s);
  const [a, b] = [Number(m[1]!.trim()), Number(m[2]!.trim())];
  return m[1]!.trim() === '' || m[2]!.trim() === '' || b === 0 ? NaN : a / b;
}

export function numberList(name: string, min?: number, max?: number) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    const out = parts.map(numberOrFraction);
    if (parts.some((s) => s === '') || out.some((v) => !Number.isFinite(v) || (min !== undefined && v < min) || (max !== undefined && v > max))) {
      const hi = max !== undefined && max > 1e30 ? max.toPrecision(2) : String(max);
      const range = min !== undefined && max !== undefined ? ` in [${min}, ${hi}]` : min !== undefined ? ` >= ${min}` : max !== undefined ? ` <= ${hi}` : '';
      throw new InvalidArgumentError(`expected a comma-separated list of numbers or fractions (8/255)${range} for ${name}, got ${JSON.stringify(value)}`);
    }
    return out;
  };
}

/**
 * An integer option in [`min`, `max`]; `max` defaults to the library's documented maximum of the option of the
 * same name (`--batch-size` → `COUNT_LIMITS.batchSize`), so `--steps 1e20` is refused instead of running forever.
 */
export function integer(name: string, min: number, max: number = countLimit(name.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()))) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}] for ${name}, got ${JSON.stringify(value)}`);
    }
    return v;
  };
}

export function positive(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`expected a number > 0 for ${name}, got "${value}"`);
    return v;
  };
}

export function fraction(name: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new InvalidArgumentError(`expected a number in [0, 1] for ${name}, got "${value}"`);
    return v;
  };
}

export function attackList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim().toLowerCase());
  const bad = names.find((n) => !(ATTACK_NAMES as readonly string[]).includes(n));
  if (bad !== undefined) throw new InvalidArgumentError(`expected attacks among ${ATTACK_NAMES.join(', ')}, got "${bad}"`);
  return names;
}

export function dims(name: string) {
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
export async function readClassNames(value: string): Promise<string[]> {
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

export function bounds(value: string): Bounds {
  const v = numberList('--bounds')(value);
  if (v.length !== 2 || !(v[0]! < v[1]!)) throw new InvalidArgumentError(`expected LO,HI with LO < HI for --bounds, got "${value}"`);
  return [v[0]!, v[1]!];
}

/** A one-line progress bar on stderr, redrawn in place. */
export function progressBar(io: CliIO): { update: (e: EvaluateProgress) => void; end: () => void } {
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
