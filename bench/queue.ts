// `npm run bench:queue`: the BullMQ/Redis work queue against one process, in one run, on a throwaway redis-server.
// 1. Wall time of `robustest eval ARGS` in one process, and of the same run queued: `eval ARGS --queue` (enqueue),
//    N `robustest worker` processes and `robustest collect`, from the enqueue's start to the report; their ratio,
//    and the collected report checked equal to the single-process one but timings.
// 2. The queue's own cost per job: J jobs whose executor does nothing, through one in-process worker (BullMQ's
//    fetch, lock and completion plus robustest's manifest read and once-only store), in ms per job.
//
// Usage: npm run bench:queue -- [--workers 2] [--limit 400] [--batch-size 50] [--args="--attack fgsm,pgd"]
//                               [--empty-jobs 300] [--json FILE]
// Needs redis-server (Debian's package). Runs the CLI from bin/robustest.js when dist/ is a build of the current
// sources, else compiles them into scratch/queue-bench-dist first (so no process pays for on-the-fly TypeScript).
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { enqueueRun, runWorker, waitForRun, type RunManifest } from '../src/queue/index.js';
import { runCli, startCli, cliLaunch, distIsCurrent, useCli, ROOT } from '../test/helpers/cli-process.js';
import { startRedis } from '../test/helpers/redis.js';
import { loadAverages } from './util.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    limit: { type: 'string', default: '400' },
    'batch-size': { type: 'string', default: '50' },
    args: { type: 'string', default: '--attack fgsm,pgd' },
    'empty-jobs': { type: 'string', default: '300' },
    json: { type: 'string' },
  },
});

function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !['seconds', 'startedAt', 'finishedAt', 'command'].includes(k))
      .map(([k, v]) => [k, withoutTimings(v)]),
  );
}

/** A compiled CLI: dist/ when current, else the sources compiled into scratch/queue-bench-dist (type errors elsewhere in a tree being edited do not stop tsc from emitting). */
async function compiledCli(): Promise<void> {
  if (distIsCurrent()) return;
  const out = join(ROOT, 'scratch', 'queue-bench-dist');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const t = performance.now();
  spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(join(out, 'src', 'cli', 'main.js'))) throw new Error(`bench:queue: expected tsc to emit ${out}/src/cli/main.js, got nothing`);
  const entry = join(out, 'robustest.mjs');
  await writeFile(entry, `import { main } from './src/cli/main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  useCli([entry], `sources compiled into scratch/queue-bench-dist in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

async function main(): Promise<void> {
  await compiledCli();
  const workers = Number(values.workers);
  const run = ['--limit', values.limit, '--batch-size', values['batch-size'], ...values.args.split(/\s+/).filter((s) => s !== '')];
  const redis = await startRedis();
  const dir = await mkdtemp(join(tmpdir(), 'robustest-bench-queue-'));
  process.stderr.write(`bench:queue: ${cliLaunch().label}; load average ${loadAverages()}\n`);
  try {
    // 1. One process, then the same run queued.
    let t = performance.now();
    const single = await runCli(['eval', ...run, '--json', join(dir, 'single.json'), '--quiet']);
    const singleSeconds = (performance.now() - t) / 1000;
    if (single.code !== 0) throw new Error(`single-process eval failed: ${single.err}`);

    const url = `${redis.url}/bench`;
    t = performance.now();
    const enqueued = await runCli(['eval', ...run, '--queue', url, '--quiet']);
    const enqueueSeconds = (performance.now() - t) / 1000;
    if (enqueued.code !== 0) throw new Error(`eval --queue failed: ${enqueued.err}`);
    const procs = Array.from({ length: workers }, (_, i) => startCli(['worker', '--queue', url, '--name', `bench${i + 1}`, '--exit-when-idle', '1']));
    const collected = await runCli(['collect', '--queue', url, '--json', join(dir, 'queued.json'), '--interval', '1', '--quiet']);
    const queuedSeconds = (performance.now() - t) / 1000;
    if (collected.code !== 0) throw new Error(`collect failed: ${collected.err}`);
    await Promise.all(procs.map((p) => p.exited));
    const prepared = procs.map((p) => Number(/ready in ([\d.]+) s/.exec(p.err())?.[1] ?? NaN));
    const jobs = procs.flatMap((p) => [...p.err().matchAll(/stored \(([\d.]+) s\)/g)].map((m) => Number(m[1])));
    const singleReport = JSON.parse(await readFile(join(dir, 'single.json'), 'utf8')) as { provenance: { seconds: number } };
    const queuedReport = JSON.parse(await readFile(join(dir, 'queued.json'), 'utf8')) as { provenance: { seconds: number } };
    const same = JSON.stringify(withoutTimings(singleReport)) === JSON.stringify(withoutTimings(queuedReport));

    // 2. The queue's own cost per job: empty jobs through one in-process worker.
    const emptyJobs = Number(values['empty-jobs']);
    const emptyUrl = `${redis.url}/empty`;
    const manifest: RunManifest = {
      version: 1,
      runId: 'e'.repeat(64),
      total: emptyJobs,
      chunk: 1,
      model: { path: '-', sha256: '-' },
      data: { path: '-', sha256: '-' },
      config: null,
      createdAt: new Date().toISOString(),
      library: 'bench',
    };
    await enqueueRun(emptyUrl, manifest);
    t = performance.now();
    let last = 0;
    await runWorker(emptyUrl, {
      prepare: async () => ({ run: async () => ((last = performance.now()), null), dispose: () => undefined }),
      exitWhenIdleMs: 300,
    });
    const perJobMs = (last - t) / emptyJobs;
    const { parts } = await waitForRun(emptyUrl);

    const result = {
      date: new Date().toISOString(),
      loadAverage: loadAverages(),
      cli: cliLaunch().label,
      run: `robustest eval ${run.join(' ')}`,
      workers,
      singleProcessSeconds: singleSeconds,
      singleEvaluateSeconds: singleReport.provenance.seconds,
      queuedEvaluateSeconds: queuedReport.provenance.seconds,
      queuedSeconds,
      ratio: queuedSeconds / singleSeconds,
      enqueueSeconds,
      workerPrepareSeconds: prepared,
      jobs: jobs.length,
      meanJobSeconds: jobs.reduce((a, b) => a + b, 0) / jobs.length,
      reportsEqualButTimings: same,
      emptyJobs: parts.length,
      perJobOverheadMs: perJobMs,
    };
    process.stdout.write(
      [
        `queue bench (${result.date}, load average ${result.loadAverage}; ${result.cli})`,
        `  run: ${result.run}`,
        `  one process:            ${singleSeconds.toFixed(1)} s (evaluate ${result.singleEvaluateSeconds.toFixed(1)} s)`,
        `  queued, ${workers} workers:     ${queuedSeconds.toFixed(1)} s (enqueue ${enqueueSeconds.toFixed(1)} s, worker set-up ${prepared.map((p) => p.toFixed(1)).join(' / ')} s, ${jobs.length} jobs of ${result.meanJobSeconds.toFixed(2)} s on average, ${result.queuedEvaluateSeconds.toFixed(1)} s of evaluation in all)`,
        `  ratio queued / one process: ${result.ratio.toFixed(2)}`,
        `  reports equal but timings: ${same}`,
        `  queue overhead: ${perJobMs.toFixed(2)} ms per job (${emptyJobs} empty jobs, one in-process worker)`,
        '',
      ].join('\n'),
    );
    if (values.json !== undefined) {
      await mkdir(dirname(values.json), { recursive: true });
      await writeFile(values.json, JSON.stringify(result, null, 2) + '\n');
    }
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
