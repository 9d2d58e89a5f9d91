// The work queue on a real redis-server with in-process BullMQ workers whose executor is plain arithmetic (no model):
// idempotent enqueueing, storing each range once, collect's progress and checks, and the typed errors (unreachable
// Redis, a queue holding another run, a worker that cannot serve the run) that lose no finished results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_REASONS, QueueError } from '../../src/errors.js';
import {
  clearRun,
  enqueueRun,
  runProgress,
  runWorker,
  waitForRun,
  type IndexRange,
  type RangeExecutor,
  type RunManifest,
  type RunProgress,
  type WorkerEvent,
} from '../../src/queue/index.js';
import { freePort, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';

const skip = redisSkipReason();

function manifest(runId: string, total = 25, chunk = 10): RunManifest {
  return {
    version: 1,
    runId,
    total,
    chunk,
    model: { path: 'model.json', sha256: 'm'.repeat(64) },
    data: { path: 'data.npy', sha256: 'd'.repeat(64) },
    config: { seed: 0 },
    createdAt: new Date().toISOString(),
    library: 'test',
  };
}

/** An executor whose records are the squares of the indices: a range's result is checkable. */
function squares(log: IndexRange[] = []): RangeExecutor {
  return {
    run: async (range) => {
      log.push(range);
      await new Promise((r) => setTimeout(r, 20));
      return Array.from({ length: range.end - range.start }, (_, i) => (range.start + i) ** 2);
    },
    dispose: () => undefined,
  };
}

async function caught(p: Promise<unknown>): Promise<QueueError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QueueError);
    return e as QueueError;
  }
  throw new Error('expected a QueueError, got none');
}

describe.skipIf(skip !== undefined)(`work queue on redis-server${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('enqueues each range once, two workers store each range once, collect returns them in order', async () => {
    const url = `${redis.url}/basic`;
    const run = manifest('r'.repeat(64));
    expect(await enqueueRun(url, run)).toMatchObject({ jobs: 3, added: 3, done: 0, pending: 0, retried: 0 });
    expect(await enqueueRun(url, run)).toMatchObject({ jobs: 3, added: 0, pending: 3 }); // idempotent
    const seen: IndexRange[] = [];
    const events: WorkerEvent[] = [];
    const progress: RunProgress[] = [];
    const collecting = waitForRun(url, { intervalMs: 50, onProgress: (p) => progress.push(p) });
    const [a, b] = await Promise.all(
      ['w1', 'w2'].map((name) => runWorker(url, { name, prepare: async () => squares(seen), exitWhenIdleMs: 600, onEvent: (e) => events.push(e) })),
    );
    const { manifest: m, parts } = await collecting;
    expect(m.runId).toBe(run.runId);
    expect(parts.map((p) => [p.start, p.end])).toEqual([
      [0, 10],
      [10, 20],
      [20, 25],
    ]);
    expect(parts.flatMap((p) => p.part as number[])).toEqual(Array.from({ length: 25 }, (_, i) => i * i));
    expect(a!.stored + b!.stored).toBe(3);
    expect(a!.duplicates + b!.duplicates + a!.failed + b!.failed).toBe(0);
    expect(seen).toHaveLength(3);
    expect(events.filter((e) => e.type === 'prepared')).toHaveLength(2); // once per worker and run, not per job
    expect(progress.at(-1)).toMatchObject({ jobs: 3, done: 3, failed: 0 });
    expect(progress.some((p) => p.workers.length >= 1)).toBe(true);
    // Enqueueing the finished run again adds nothing.
    expect(await enqueueRun(url, run)).toMatchObject({ added: 0, done: 3 });
    await clearRun(url);
    await expect(runProgress(url)).rejects.toThrow(/expected a run on queue "basic", got none/);
  });

  it('refuses a queue holding another run and keeps that run intact', async () => {
    const url = `${redis.url}/other`;
    const first = manifest('1'.repeat(64));
    await enqueueRun(url, first);
    await runWorker(url, { prepare: async () => squares(), exitWhenIdleMs: 400 });
    const e = await caught(enqueueRun(url, manifest('2'.repeat(64))));
    expect(e.reason).toBe(ERROR_REASONS.otherRun);
    expect(e.message).toMatch(
      /^eval: expected queue "other" to be empty or to hold this run \(222222222222…\), got run 111111111111… enqueued .* with 3 of 3 parts stored/,
    );
    expect(e.message).not.toContain('\n');
    const { parts } = await waitForRun(url, { intervalMs: 50 });
    expect(parts).toHaveLength(3);
    await clearRun(url);
    expect(await enqueueRun(url, manifest('2'.repeat(64)))).toMatchObject({ added: 3 });
    await clearRun(url);
  });

  it('a worker that cannot serve the run fails its job and stops; collect says so; the finished parts survive and a retry completes', async () => {
    const url = `${redis.url}/mismatch`;
    const run = manifest('3'.repeat(64), 30, 10);
    await enqueueRun(url, run, { attempts: 1 });
    // A good worker stores two ranges, then stops.
    const stop = new AbortController();
    let ran = 0;
    await runWorker(url, {
      prepare: async () => ({ ...squares(), run: async (r) => (++ran === 2 && stop.abort(), squares().run(r)) }),
      signal: stop.signal,
    });
    expect((await runProgress(url)).done).toBe(2);
    // A worker whose model differs: its first job fails (one attempt), and the worker stops with the typed error.
    const bad = await caught(
      runWorker(url, {
        prepare: async (m) => {
          throw new QueueError(`worker: expected the model's SHA-256 ${m.model.sha256.slice(0, 8)}…, got 00000000…`, ERROR_REASONS.fingerprintMismatch);
        },
      }),
    );
    expect(bad.reason).toBe(ERROR_REASONS.fingerprintMismatch);
    // Nothing left to run but one job failed for good: collect reports it, with the reason, and keeps the parts.
    const error = await caught(waitForRun(url, { intervalMs: 50, timeoutMs: 20_000 }));
    expect(error.reason).toBe(ERROR_REASONS.jobsFailed);
    expect(error.message).toMatch(
      /expected all 3 jobs to finish, got 1 failed for good \(20-30: worker: expected the model's SHA-256 mmmmmmmm…, got 00000000…\)/,
    );
    expect(error.message).toMatch(/the 2 finished parts stay in Redis/);
    expect(await runProgress(url)).toMatchObject({ done: 2, failed: 1, waiting: 0, active: 0 });
    // Enqueueing the run again retries only the failed job; a good worker finishes the run.
    expect(await enqueueRun(url, run, { attempts: 1 })).toMatchObject({ done: 2, retried: 1, pending: 0, added: 0 });
    await runWorker(url, { prepare: async () => squares(), exitWhenIdleMs: 400 });
    const { parts } = await waitForRun(url, { intervalMs: 50 });
    expect(parts.flatMap((p) => p.part as number[])).toEqual(Array.from({ length: 30 }, (_, i) => i * i));
    await clearRun(url);
  });

  it('an unreachable Redis is a typed one-line error, not an endless retry', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}/nowhere`;
    for (const call of [() => enqueueRun(url, manifest('4'.repeat(64))), () => waitForRun(url), () => runWorker(url, { prepare: async () => squares() })]) {
      const e = await caught(call());
      expect(e.reason).toBe(ERROR_REASONS.redisUnreachable);
      expect(e.message).toMatch(new RegExp(`^(eval|collect|worker): expected a Redis server at redis://127\\.0\\.0\\.1:${port}/nowhere, got .*ECONNREFUSED`));
    }
  });
});
