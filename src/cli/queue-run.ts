/**
 * The work queue's glue between the CLI and the evaluation: `eval --queue` turns its flags into a run manifest
 * (the flags with absolute paths, the run's header with its id, model and data SHA-256) and enqueues it; a worker
 * rebuilds the run from the manifest's flags ({@link setupRun}), verifies that its own run header is the manifest's
 * (same configuration, model and data SHA-256, backend), and evaluates ranges; `collect` decodes the stored parts
 * against the header and builds the report.
 * @internal
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, ERROR_REASONS, QueueError } from '../errors.js';
import { libraryVersion } from '../package-info.js';
import type { Report } from '../report.js';
import { checkQueue, enqueueRun, parseQueueUrl, short, type Json, type RangeExecutor, type RunManifest, type StoredPart } from '../queue/index.js';
import { headerDifferences } from '../../metrics/part-data.js';
import { evaluateRange, mergeParts, runHeader, type RunHeader } from '../../metrics/parts.js';
import type { AppliedConfig } from '../config.js';
import type { CliIO } from './common.js';
import { setupRun, type RunFlags } from './run-setup.js';
import { applyDefenseFlags, type DefenseFlags } from './defense-flags.js';

/** What `eval --queue` stores as the manifest's `config`. */
interface QueueConfig {
  /** The run's flags, paths absolute (as resolved where it was enqueued), the backend as resolved there. */
  readonly flags: RunFlags;
  /** The run's header (its identity; its `command` is the eval command without `--queue`). */
  readonly header: RunHeader;
}

/** The eval flags besides the run's that `eval --queue` refuses: the report is written by `collect`. */
const COLLECT_FLAGS = [
  ['json', '--json'],
  ['markdown', '--markdown'],
  ['minRobustAccuracy', '--min-robust-accuracy'],
  ['allowWarnings', '--allow-warnings'],
  ['html', '--html'],
  ['junit', '--junit'],
] as const;

/** Eval flags a queued run does not support: outputs that need the model (`--examples`), other ways of splitting a run. */
const UNSUPPORTED_FLAGS = [
  ['examples', '--examples'],
  ['checkpoint', '--checkpoint'],
  ['restart', '--restart'],
  ['shard', '--shard'],
] as const;

/** Flags that control the command, not the run: not stored. */
const CONTROL_FLAGS = new Set(['queue', 'verbose', 'quiet', 'config']);

/** The flags that name files: stored absolute, mapped by a worker's `--path-map`. */
const PATH_FLAGS = ['model', 'data', 'labels', 'surrogate'] as const;

/** The argv without `--queue URL` / `--queue=URL`: the command line a single-process run would have had. */
export function withoutQueue(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--queue') i++;
    else if (!argv[i]!.startsWith('--queue=')) out.push(argv[i]!);
  }
  return out;
}

/**
 * `robustest eval ... --queue URL`: sets the run up (backend, model, data) as eval would, computes its identity, and
 * enqueues one job per batch instead of evaluating. Returns the exit code.
 */
export async function enqueueEval(
  flags: RunFlags & DefenseFlags & { queue?: string },
  io: CliIO,
  argv: readonly string[],
  config?: AppliedConfig,
): Promise<number> {
  const url = flags.queue!;
  const address = parseQueueUrl(url);
  const given = flags as unknown as Record<string, unknown>;
  for (const [key, flag] of COLLECT_FLAGS) {
    if (given[key] !== undefined) throw new ConfigError(`eval: expected ${flag} on robustest collect with --queue (collect writes the report), got it on eval`);
  }
  for (const [key, flag] of UNSUPPORTED_FLAGS) {
    if (given[key] !== undefined) throw new ConfigError(`eval: expected no ${flag} with --queue (a queued run does not support it), got ${flag}`);
  }
  await checkQueue(url, 'eval'); // before the model loads: an unreachable Redis fails at once
  const run = applyDefenseFlags(await setupRun(flags, io, withoutQueue(argv)), flags, io, Boolean(flags.quiet));
  try {
    if (config !== undefined) {
      const adjusted = config.adjust(run.options);
      if (adjusted.attacks !== run.options.attacks || adjusted.epsilons !== run.options.epsilons) {
        throw new ConfigError(
          `eval: expected --queue runs to be defined by flags (workers rebuild them from the flags), got per-attack options or per-norm radii from ${config.path}`,
        );
      }
    }
    const header = await runHeader(run.model, run.data, run.options);
    const stored: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(flags)) {
      if (CONTROL_FLAGS.has(key) || value === undefined) continue;
      stored[key] = value;
    }
    for (const key of PATH_FLAGS) if (typeof flags[key] === 'string') stored[key] = resolve(flags[key]);
    if (flags.classNames !== undefined && existsSync(flags.classNames)) stored['classNames'] = resolve(flags.classNames);
    stored['backend'] = run.backend; // the backend is part of the run's identity: workers use the same one
    const queueConfig = { flags: stored, header } as unknown as Json;
    const manifest: RunManifest = {
      version: 1,
      runId: header.runId,
      total: header.data.count,
      chunk: flags.batchSize,
      model: { path: typeof stored['model'] === 'string' ? stored['model'] : '(bundled)', sha256: header.model.sha256 },
      data: { path: typeof stored['data'] === 'string' ? stored['data'] : '(bundled)', sha256: header.data.sha256 },
      config: queueConfig,
      createdAt: new Date().toISOString(),
      library: libraryVersion(),
    };
    const s = await enqueueRun(url, manifest);
    if (!flags.quiet) {
      io.stdout(
        `run ${short(manifest.runId)} on ${s.queue}: ${s.jobs} jobs of up to ${manifest.chunk} samples (${manifest.total} in all): ` +
          `${s.added} added, ${s.done} already done, ${s.pending} already queued, ${s.retried} failed ones retried\n` +
          `start workers:  robustest worker --queue ${address.display}\n` +
          `then collect:   robustest collect --queue ${address.display} --json report.json\n`,
      );
    }
    return 0;
  } finally {
    run.dispose();
  }
}

/** A worker's `--path-map FROM=TO`: replaces the prefix FROM of the run's paths by TO. */
export interface PathMap {
  /** Prefix on the machine that enqueued the run. */
  readonly from: string;
  /** Prefix on this machine. */
  readonly to: string;
}

function mapPath(path: string, maps: readonly PathMap[]): string {
  for (const { from, to } of maps) if (path === from || path.startsWith(from.endsWith('/') ? from : `${from}/`)) return to + path.slice(from.length);
  return path;
}

/**
 * A worker's executor for a run: rebuilds the run from the manifest's flags (paths mapped), and refuses it unless its
 * own run header has the manifest's id (same configuration, model and data SHA-256, backend).
 *
 * @throws {@link QueueError} `fingerprint-mismatch` naming the differences; the loaders' errors (a missing file).
 */
export async function prepareExecutor(manifest: RunManifest, io: CliIO, maps: readonly PathMap[]): Promise<RangeExecutor> {
  const { flags, header } = manifest.config as unknown as QueueConfig;
  const mapped: Record<string, unknown> = { ...flags, quiet: true };
  for (const key of [...PATH_FLAGS, 'classNames'] as const) if (typeof flags[key] === 'string') mapped[key] = mapPath(flags[key], maps);
  const run = applyDefenseFlags(await setupRun(mapped as unknown as RunFlags, io), mapped as DefenseFlags, io, true);
  try {
    const mine = await runHeader(run.model, run.data, run.options);
    if (mine.runId !== manifest.runId) {
      const differences = headerDifferences(header, mine);
      throw new QueueError(
        `worker: expected the run ${short(manifest.runId)} (model ${String(mapped['model'] ?? '(bundled)')}, data ${String(mapped['data'] ?? '(bundled)')}), got ${differences.length > 0 ? differences.join(', ') : `the run ${short(mine.runId)}`}; this worker cannot serve it`,
        ERROR_REASONS.fingerprintMismatch,
      );
    }
  } catch (e) {
    run.dispose();
    throw e;
  }
  return {
    run: async (range) => (await evaluateRange(run.model, run.data, run.options, range)) as unknown as Json,
    dispose: () => run.dispose(),
  };
}

/**
 * The report of a collected run: each stored part decoded and checked against the run's header, then merged as a
 * single-process evaluation would have reported it (timings aside).
 *
 * @throws `RecordsError` for a part that does not belong to the run or is malformed.
 */
export function reportOfRun(manifest: RunManifest, parts: readonly StoredPart[]): Report {
  const { header } = manifest.config as unknown as QueueConfig;
  return mergeParts(
    header,
    parts.map((p) => p.part),
  );
}
