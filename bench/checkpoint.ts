// Overhead of `--checkpoint` on a full evaluation of the bundled model (FGSM + PGD-40 at L∞ 0.1 and 0.3, batch 100):
// - plain: evaluate as without a checkpoint (all points in one chunk: the cascade batches points across the data);
// - chunked: evaluate chunk by chunk (chunkSize = batchSize, as a checkpoint does) without writing anything;
// - checkpoint: evaluate({ checkpoint }) into a fresh folder (one JSON line appended and fsynced per batch).
// The checkpoint's own cost is checkpoint over chunked (serialising, appending and fsyncing the records); the cost a
// user sees is checkpoint over plain (the chunking leaves the cascade's later attacks smaller batches as well).
// The variants run interleaved, `repeats` rounds, and the medians of wall and process CPU time are compared (CPU
// time is less disturbed by other processes on shared cores, though onnxruntime's spinning threads make it noisy too).
// Since whole-evaluation timings on shared cores vary by more than the checkpoint costs, the write path is also
// timed alone: one batch's part (100 points, every cell) serialised, appended and fsynced, `batches` times, as a
// share of the plain evaluation's time.
//
// Usage (alone): npx tsx bench/checkpoint.ts [--images 1000] [--repeats 3] [--backend wasm] [--json FILE]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { fgsm, pgd } from '../attacks/index.js';
import { evaluate, type EvaluateOptions } from '../metrics/evaluate.js';
import { evaluateRange, runHeader } from '../metrics/parts.js';
import { openCheckpoint } from '../metrics/checkpoint.js';
import { loadAverages, median } from './util.js';

/** One variant's medians. */
export interface CheckpointBenchRow {
  readonly variant: 'plain' | 'chunked' | 'checkpoint';
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

/** The benchmark's result. */
export interface CheckpointBench {
  readonly images: number;
  readonly repeats: number;
  readonly backend: string;
  readonly engine: string;
  readonly rows: readonly CheckpointBenchRow[];
  /** checkpoint over chunked − 1 (wall, CPU). */
  readonly writeOverhead: { readonly wall: number; readonly cpu: number };
  /** checkpoint over plain − 1 (wall, CPU). */
  readonly totalOverhead: { readonly wall: number; readonly cpu: number };
  /** The write path alone: ms per batch (serialise, append, fsync; median), and all batches' share of the plain run. */
  readonly writePath: { readonly msPerBatch: number; readonly batches: number; readonly shareOfPlain: number };
  readonly loadAverages: string;
}

/** Runs the three variants `repeats` times, interleaved. */
export async function benchCheckpoint(opts: { root: string; images: number; repeats: number }): Promise<CheckpointBench> {
  const model = await loadModel(join(opts.root, 'assets', 'mnist-cnn', 'model.json'));
  const data = await loadIdx(
    join(opts.root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
    join(opts.root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
    { inputShape: model.inputShape, limit: opts.images },
  );
  const options: EvaluateOptions = { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3], seed: 0, batchSize: 100 };
  const dir = await mkdtemp(join(tmpdir(), 'robustest-bench-checkpoint-'));
  const times: Record<CheckpointBenchRow['variant'], { wall: number[]; cpu: number[] }> = {
    plain: { wall: [], cpu: [] },
    chunked: { wall: [], cpu: [] },
    checkpoint: { wall: [], cpu: [] },
  };
  const run = async (variant: CheckpointBenchRow['variant'], round: number): Promise<void> => {
    const extra: Partial<EvaluateOptions> =
      variant === 'plain' ? {} : variant === 'chunked' ? { chunkSize: options.batchSize! } : { checkpoint: join(dir, `round-${round}`) };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await evaluate(model, data, { ...options, ...extra });
    const c = process.cpuUsage(c0);
    times[variant].wall.push((performance.now() - t0) / 1000);
    times[variant].cpu.push((c.user + c.system) / 1e6);
  };
  const batches = Math.ceil(data.count / options.batchSize!);
  const writes: number[] = [];
  try {
    await evaluate(model, data, { ...options, attacks: [fgsm()] }); // warm-up: kernels compiled, gradients registered
    for (let r = 0; r < opts.repeats; r++) for (const v of ['plain', 'chunked', 'checkpoint'] as const) await run(v, r);
    const header = await runHeader(model, data, options);
    const part = await evaluateRange(model, data, options, { start: 0, end: Math.min(data.count, options.batchSize!) });
    const checkpoint = await openCheckpoint(join(dir, 'write-path'), header);
    try {
      for (let k = 0; k < batches; k++) {
        const t = performance.now();
        await checkpoint.append({ ...JSON.parse(JSON.stringify(part)), start: k } as typeof part); // serialised again each time
        writes.push(performance.now() - t);
      }
    } finally {
      await checkpoint.close();
    }
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  const rows = (['plain', 'chunked', 'checkpoint'] as const).map((variant) => ({
    variant,
    wallSeconds: median(times[variant].wall),
    cpuSeconds: median(times[variant].cpu),
  }));
  const [plain, chunked, checkpoint] = rows as [CheckpointBenchRow, CheckpointBenchRow, CheckpointBenchRow];
  return {
    images: data.count,
    repeats: opts.repeats,
    backend: (await import('../src/tf.js')).getBackend(),
    engine: model.engine,
    rows,
    writeOverhead: { wall: checkpoint.wallSeconds / chunked.wallSeconds - 1, cpu: checkpoint.cpuSeconds / chunked.cpuSeconds - 1 },
    totalOverhead: { wall: checkpoint.wallSeconds / plain.wallSeconds - 1, cpu: checkpoint.cpuSeconds / plain.cpuSeconds - 1 },
    writePath: { msPerBatch: median(writes), batches, shareOfPlain: (median(writes) * batches) / 1000 / plain.wallSeconds },
    loadAverages: loadAverages(),
  };
}

/** The result as lines of text. */
export function formatCheckpointBench(b: CheckpointBench): string {
  const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;
  return [
    `checkpoint overhead: bundled MNIST CNN, ${b.images} images, FGSM + PGD-40 at L∞ 0.1 and 0.3, batch 100, ${b.backend}, engine ${b.engine}, median of ${b.repeats}`,
    ...b.rows.map((r) => `  ${r.variant.padEnd(11)} wall ${r.wallSeconds.toFixed(2).padStart(8)} s   cpu ${r.cpuSeconds.toFixed(2).padStart(8)} s`),
    `  checkpoint writes (checkpoint / chunked): wall ${pct(b.writeOverhead.wall)}, cpu ${pct(b.writeOverhead.cpu)}`,
    `  total (checkpoint / plain):               wall ${pct(b.totalOverhead.wall)}, cpu ${pct(b.totalOverhead.cpu)}`,
    `  write path alone: ${b.writePath.msPerBatch.toFixed(2)} ms per batch (serialise, append, fsync) × ${b.writePath.batches} = ${(100 * b.writePath.shareOfPlain).toFixed(3)}% of the plain run`,
    `  load averages: ${b.loadAverages}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '1000' },
      repeats: { type: 'string', default: '3' },
      backend: { type: 'string', default: 'wasm' },
      json: { type: 'string' },
    },
  });
  await initBackend(values.backend as BackendName);
  const result = await benchCheckpoint({ root: join(import.meta.dirname, '..'), images: Number(values.images), repeats: Number(values.repeats) });
  console.log(formatCheckpointBench(result));
  if (values.json !== undefined) await writeFile(values.json, JSON.stringify(result, null, 2) + '\n');
}
