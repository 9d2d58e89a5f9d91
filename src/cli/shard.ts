/**
 * `robustest eval --shard i/n` and `--checkpoint DIR`: the shard's slice of the points evaluated (and checkpointed)
 * into a partial report that `robustest merge` turns into the run's report; the shard index of `auto/n` read from the
 * environment of the common batch schedulers.
 * @internal
 * @module
 */
import { InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../write.js';
import { evaluateRange, partialReport, runHeader, shardRange } from '../../metrics/parts.js';
import type { EvaluateOptions } from '../../metrics/evaluate.js';
import type { CliIO } from './common.js';
import type { RunSetup } from './run-setup.js';

/** `--shard`: an index (0-based) or `auto`, and the number of shards. */
export interface ShardSpec {
  /** The shard, or `auto` to read it from the environment. */
  readonly index: number | 'auto';
  /** The number of shards. */
  readonly count: number;
}

/**
 * Environment variables that hold a shard index, in the order they are read: robustest's own (0-based, for a CI
 * matrix: `ROBUSTEST_SHARD_INDEX: ${{ matrix.shard }}`), Kubernetes Indexed Jobs, AWS Batch array jobs (0-based),
 * and GitLab CI's `parallel:` (1-based).
 */
export const SHARD_INDEX_VARIABLES: readonly { readonly name: string; readonly base: 0 | 1 }[] = [
  { name: 'ROBUSTEST_SHARD_INDEX', base: 0 },
  { name: 'JOB_COMPLETION_INDEX', base: 0 },
  { name: 'AWS_BATCH_JOB_ARRAY_INDEX', base: 0 },
  { name: 'CI_NODE_INDEX', base: 1 },
];

/** Parses `--shard i/n` or `auto/n`. */
export function parseShard(value: string): ShardSpec {
  const m = /^\s*(auto|\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const count = m ? Number(m[2]) : NaN;
  const index = m ? (m[1] === 'auto' ? 'auto' : Number(m[1])) : NaN;
  if (!m || !(count >= 1) || (index !== 'auto' && !(index < count))) {
    throw new InvalidArgumentError(`expected I/N with 0 <= I < N (0-based) or auto/N for --shard, got "${value}"`);
  }
  return { index, count };
}

/**
 * The shard index of `spec`: its own, or for `auto` the first of {@link SHARD_INDEX_VARIABLES} that is set.
 *
 * @throws ConfigError when `auto` finds no variable, or one that is not an index below the count.
 */
export function resolveShardIndex(spec: ShardSpec, env: Record<string, string | undefined>): number {
  if (spec.index !== 'auto') return spec.index;
  for (const { name, base } of SHARD_INDEX_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const v = Number(raw) - base;
    if (!Number.isInteger(v) || v < 0 || v >= spec.count) {
      throw new ConfigError(`eval --shard auto/${spec.count}: expected ${name} to be a shard index in [${base}, ${spec.count + base}), got "${raw}"`);
    }
    return v;
  }
  throw new ConfigError(
    `eval --shard auto/${spec.count}: expected one of ${SHARD_INDEX_VARIABLES.map((v) => v.name).join(', ')} in the environment, got none (pass --shard I/${spec.count})`,
  );
}

/** The flags of `eval` this module reads. */
export interface ShardFlags {
  checkpoint?: string;
  restart?: boolean;
  shard?: ShardSpec;
  json?: string;
  markdown?: string;
  html?: string;
  junit?: string;
  examples?: number;
  minRobustAccuracy?: number;
  queue?: string;
}

/**
 * Checks the combination of `--shard`, `--checkpoint` and `--restart` with the other outputs before any work.
 *
 * @throws ConfigError for `--restart` without `--checkpoint`, `--shard` without `--json`, or `--shard` with an output
 *   that needs the whole run's report.
 */
export function checkShardFlags(flags: ShardFlags): void {
  if (flags.restart && flags.checkpoint === undefined) throw new ConfigError('eval: expected --restart with --checkpoint DIR, got no --checkpoint');
  if (flags.shard === undefined) return;
  const { index, count } = flags.shard;
  const shard = `--shard ${index}/${count}`;
  if (flags.json === undefined) throw new ConfigError(`eval: expected --json FILE for the partial report of ${shard}, got none`);
  const whole = (
    [
      ['--markdown', flags.markdown],
      ['--html', flags.html],
      ['--junit', flags.junit],
      ['--examples', flags.examples],
      ['--min-robust-accuracy', flags.minRobustAccuracy],
      ['--queue', flags.queue],
    ] as const
  ).find(([, v]) => v !== undefined);
  if (whole) throw new ConfigError(`eval: expected ${whole[0]} without ${shard} (it needs the whole run: pass it to robustest merge), got both`);
}

/** The evaluate options of `--checkpoint DIR` and `--restart`. */
export function checkpointOptions(flags: ShardFlags): Pick<EvaluateOptions, 'checkpoint' | 'restart'> {
  return flags.checkpoint === undefined ? {} : { checkpoint: flags.checkpoint, ...(flags.restart ? { restart: true } : {}) };
}

/**
 * Evaluates this shard's slice of the points (checkpointed into `checkpoint-shard-I-of-N.jsonl` with `--checkpoint`)
 * and writes its partial report to `--json` atomically.
 *
 * @returns the exit code (0).
 */
export async function evalShard(run: RunSetup, options: EvaluateOptions, flags: ShardFlags & { quiet?: boolean }, io: CliIO): Promise<number> {
  const spec = flags.shard!;
  const index = resolveShardIndex(spec, io.env);
  const header = await runHeader(run.model, run.data, options);
  const range = shardRange(header.data.count, index, spec.count);
  const file = `checkpoint-shard-${index}-of-${spec.count}.jsonl`;
  const part = await evaluateRange(run.model, run.data, options, range, file);
  await writeFileAtomic(flags.json!, JSON.stringify(partialReport(header, [part], { index, count: spec.count })) + '\n');
  if (!flags.quiet) {
    io.stdout(
      `shard ${index}/${spec.count}: points [${range.start}, ${range.end}) of ${header.data.count}, run ${header.runId.slice(0, 12)}${
        options.checkpoint !== undefined ? ` (checkpoint ${join(options.checkpoint, file)})` : ''
      }\nPartial report: ${flags.json}\n`,
    );
  }
  return 0;
}
