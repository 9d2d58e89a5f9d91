// Attack costs for `npm run bench` (issue 12's targets), all in one run on the same backend and engine:
// - APGD's time per iteration over a PGD step's (target <= 1.15x) and CW's per Adam step (target <= 1.2x), at a
//   radius small enough that no point is fooled (so no attack stops early);
// - Square's time per query (one batch query per iteration) over one forward pass of the same batch (<= 1.3x);
// - the standard preset on the bundled model (default 1,000 images, epsilon 0.1 and 0.3), with seconds per attack.
// Wall time and this process's CPU time are both reported: on a loaded machine the CPU-time ratio is the steadier.
import { join } from 'node:path';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend.js';
import { loadModel } from '../src/load.js';
import { loadIdx } from '../src/data/idx.js';
import { crossEntropy } from '../src/losses.js';
import { evaluate } from '../metrics/evaluate.js';
import { apgd, cw, pgd, square, type Attack } from '../attacks/index.js';
import type { DifferentiableModel } from '../src/model.js';
import type { GradientEngine } from '../src/onnx/index.js';
import { loadAverages, median } from './util.js';

/** Options of {@link benchAttacks}. */
export interface AttackBenchOptions {
  /** Package root (assets). */
  readonly root: string;
  /** Timed repeats of each measurement (median taken). */
  readonly repeats: number;
  /** Images of the standard-preset run; 0 skips it. */
  readonly presetImages: number;
  /** Gradient engine of the model. Default `auto` (onnxruntime when installed). */
  readonly engine?: GradientEngine;
}

interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function timed(fn: () => Promise<void>, repeats: number): Promise<Timing> {
  await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

const per = (t: Timing, n: number): Timing => ({ wallMs: t.wallMs / n, cpuMs: t.cpuMs / n });
const ratio = (a: Timing, b: Timing): string => `${(a.wallMs / b.wallMs).toFixed(2)}x wall, ${(a.cpuMs / b.cpuMs).toFixed(2)}x cpu`;
const ms = (t: Timing): string => `${t.wallMs.toFixed(1)} ms wall, ${t.cpuMs.toFixed(1)} ms cpu`;

/**
 * Runs the attack benchmarks on wasm and prints them; returns the numbers for the JSON record.
 */
export async function benchAttacks(opts: AttackBenchOptions): Promise<Record<string, unknown>> {
  await initBackend('wasm');
  const model = (await loadModel(join(opts.root, 'assets', 'mnist-cnn', 'model.json'), { engine: opts.engine ?? 'auto' })) as DifferentiableModel;
  const sample = (n: number) =>
    loadIdx(
      join(opts.root, 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      join(opts.root, 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
      { inputShape: model.inputShape, limit: n },
    );
  const data = await sample(100);
  const x = tf.tensor(data.images, [data.count, ...model.inputShape]);
  const labels = Array.from(data.labels);
  const y = tf.tensor1d(labels, 'int32');
  const out: Record<string, unknown> = { backend: 'wasm', engine: model.engine, batch: data.count, loadavgStart: loadAverages() };
  process.stdout.write(`\nAttack costs (bundled MNIST CNN, wasm, engine ${model.engine}, batch ${data.count}; load average ${loadAverages()})\n`);
  try {
    const forward = await timed(async () => {
      model.logits(x).dispose();
    }, opts.repeats * 5);
    const gradient = await timed(async () => {
      const { value, grad } = await model.valueAndGrad(x, crossEntropy(y, model.numClasses));
      tf.dispose([value, grad]);
    }, opts.repeats * 5);
    // A radius so small that nothing is fooled: every attack runs all its steps.
    const eps = 0.01;
    const steps = 20;
    const run = (a: Attack) => async (): Promise<void> => (await a.run(model, x, labels, { epsilons: [eps], seed: 0 })).dispose();
    const pgdStep = per(await timed(run(pgd({ steps, randomStart: false })), opts.repeats), steps);
    const apgdStep = per(await timed(run(apgd({ steps })), opts.repeats), steps);
    const cwStep = per(await timed(run(cw({ steps, binarySearchSteps: 1, abortEarly: false })), opts.repeats), steps);
    const queries = 100;
    const squareQuery = per(await timed(run(square({ queries })), opts.repeats), queries);
    const lines = [
      `forward                 ${ms(forward)}`,
      `forward+input-gradient  ${ms(gradient)}`,
      `PGD step                ${ms(pgdStep)}`,
      `APGD iteration          ${ms(apgdStep)}   ${ratio(apgdStep, pgdStep)} a PGD step (target <= 1.15)`,
      `CW Adam step            ${ms(cwStep)}   ${ratio(cwStep, pgdStep)} a PGD step (target <= 1.2)`,
      `Square query            ${ms(squareQuery)}   ${ratio(squareQuery, forward)} a forward pass (target <= 1.3)`,
    ];
    for (const l of lines) process.stdout.write(`  ${l}\n`);
    Object.assign(out, { forward, gradient, pgdStep, apgdStep, cwStep, squareQuery, steps, queries, epsilon: eps });
    if (opts.presetImages > 0) {
      const all = await sample(opts.presetImages);
      const t = performance.now();
      const report = await evaluate(model, all, { preset: 'standard', epsilons: [0.1, 0.3], seed: 0 });
      const seconds = (performance.now() - t) / 1000;
      process.stdout.write(`  standard preset, ${all.count} images, L∞ ε 0.1 and 0.3: ${seconds.toFixed(1)} s\n`);
      for (const a of report.attacks) {
        process.stdout.write(
          `    ${a.name.padEnd(8)} ε=${a.epsilon}  robust ${(100 * a.robustAccuracy).toFixed(1)}%  attacked ${a.attacked}  ${a.seconds.toFixed(1)} s\n`,
        );
      }
      out['preset'] = {
        images: all.count,
        seconds,
        attacks: report.attacks.map((a) => ({ name: a.name, epsilon: a.epsilon, robustAccuracy: a.robustAccuracy, seconds: a.seconds })),
      };
    }
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
  out['loadavgEnd'] = loadAverages();
  return out;
}
