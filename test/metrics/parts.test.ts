// Evaluation in parts: the records of any slicing of the points (chunks, shards, a DataSource read a chunk at a time)
// merge into the report of one evaluation of all of them, except for timings; parts of other runs, overlapping parts
// and missing points are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deepfool, fgsm, pgd } from '../../attacks/index.js';
import { evaluate, type EvaluateOptions } from '../../metrics/evaluate.js';
import { chunkRanges, evaluateRange, mergePartialReports, mergeParts, partialReport, runHeader, shardRange } from '../../metrics/parts.js';
import { isUnboundedSample, UNBOUNDED_POINTS } from '../../metrics/supplementary.js';
import { RecordsError } from '../../src/errors.js';
import type { DataSource, Dataset } from '../../src/data/types.js';
import type { Report } from '../../src/report.js';
import { validateReport } from '../../src/report.js';
import { expectNoLeak, prototypeProblem } from '../helpers/models.js';
import { comparable } from './parts-compare.js';

/** A DataSource over a Dataset that records the ranges read. */
function source(data: Dataset, reads: [number, number][]): DataSource {
  const per = data.shape.reduce((a, b) => a * b, 1);
  return {
    count: data.count,
    shape: data.shape,
    sha256: data.sha256,
    source: data.source,
    read: async (start, end) => {
      reads.push([start, end]);
      return { images: data.images.slice(start * per, end * per), labels: data.labels.slice(start, end) };
    },
    close: async () => undefined,
  };
}

describe('evaluation in parts', () => {
  const n = 130; // more than UNBOUNDED_POINTS, so the unbounded check's samples are spread over the parts
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  let options: EvaluateOptions;
  let single: Report;
  beforeAll(async () => {
    p = prototypeProblem({ n, d: 16, numClasses: 4, seed: 5 });
    data = { images: Float32Array.from(await p.x.data()), shape: [16], labels: p.labels, count: n, sha256: 'unknown:parts-test', source: 'prototypes' };
    options = {
      attacks: [fgsm(), pgd({ steps: 5, relStepSize: 0.05 }), deepfool({ steps: 8 })],
      epsilons: { linf: [0.05, 0.15], l2: [0.2, 0.5] },
      seed: 3,
      batchSize: 16,
      thorough: true,
    };
    single = await evaluate(p.model, data, options);
  });
  afterAll(() => p.dispose());

  it('the single run is a real evaluation: some points fooled, some robust, supplementary checks ran', () => {
    expect(single.count).toBe(n);
    expect(single.cleanAccuracy).toBeGreaterThan(0.9);
    const linf = single.curve.filter((c) => c.norm === 'linf');
    expect(linf[0]!.robustAccuracy).toBeGreaterThan(0.1);
    expect(linf[1]!.robustAccuracy).toBeLessThan(linf[0]!.robustAccuracy);
    expect(single.attacks.map((a) => `${a.name}@${a.epsilon}`)).toEqual(['fgsm@0.05', 'fgsm@0.15', 'pgd@0.05', 'pgd@0.15', 'deepfool@0.2', 'deepfool@0.5']);
  });

  it.each([1, 3, 7])('merges %i shards into the single-process report (except timings)', async (shards) => {
    const header = await runHeader(p.model, data, options);
    const parts = [];
    for (let i = shards - 1; i >= 0; i--)
      parts.push(JSON.parse(JSON.stringify(await evaluateRange(p.model, data, options, shardRange(n, i, shards)))) as unknown);
    const merged = mergeParts(header, parts);
    expect(comparable(merged)).toEqual(comparable(single));
    expect(validateReport(merged)).toBe(merged);
  });

  it('evaluates a DataSource chunk by chunk with bounded reads, and gives the same report for any chunk size', async () => {
    for (const chunkSize of [16, 45]) {
      const reads: [number, number][] = [];
      const r = await evaluate(p.model, source(data, reads), { ...options, chunkSize });
      expect(comparable(r)).toEqual(comparable(single));
      expect(Math.max(...reads.map(([a, b]) => b - a))).toBeLessThanOrEqual(chunkSize);
      expect(reads.map(([a]) => a)).toEqual(chunkRanges(n, chunkSize).map((c) => c.start));
    }
  });

  it('gives the same per-point records for any cut of the points into parts (property)', async () => {
    const small: EvaluateOptions = { attacks: [fgsm(), pgd({ steps: 3 })], epsilons: [0.05, 0.15], seed: 9, batchSize: 8, targeted: true };
    const reference = comparable(await evaluate(p.model, data, small));
    const header = await runHeader(p.model, data, small);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: n - 1 }), { maxLength: 6 }), async (cuts) => {
        const bounds = [0, ...[...cuts].sort((a, b) => a - b), n];
        const parts = [];
        for (let k = 1; k < bounds.length; k++) parts.push(await evaluateRange(p.model, data, small, { start: bounds[k - 1]!, end: bounds[k]! }));
        expect(comparable(mergeParts(header, parts))).toEqual(reference);
      }),
      { numRuns: 4, seed: 42 },
    );
  });

  it('leaves no tensors behind', async () => {
    await evaluateRange(p.model, data, options, { start: 0, end: 20 }); // warm-up: kernels and gradients registered
    await expectNoLeak(() => evaluateRange(p.model, data, options, { start: 10, end: 40 }));
  });

  it('refuses parts of another run, overlapping parts, missing points and damaged records', async () => {
    const small: EvaluateOptions = { attacks: [fgsm()], epsilons: [0.1], seed: 0, batchSize: 32 };
    const header = await runHeader(p.model, data, small);
    const a = await evaluateRange(p.model, data, small, { start: 0, end: 60 });
    const b = await evaluateRange(p.model, data, small, { start: 60, end: n });
    const other = await evaluateRange(p.model, data, { ...small, seed: 1 }, { start: 60, end: n });
    expect(comparable(mergeParts(header, [b, a]))).toEqual(comparable(await evaluate(p.model, data, small)));
    const fails = (f: () => unknown, re: RegExp): void => {
      expect(f).toThrow(RecordsError);
      expect(f).toThrow(re);
    };
    fails(() => mergeParts(header, [a, other]), new RegExp(`^merge: part 1: expected a part of run ${header.runId.slice(0, 12)}, got one of run`));
    fails(() => mergeParts(header, [a]), /^merge: expected parts covering all 130 points, got none for points \[60, 130\)$/);
    const overlap = await evaluateRange(p.model, data, small, { start: 50, end: 70 });
    fails(() => mergeParts(header, [a, b, overlap]), /^merge: expected disjoint parts, got points \[50, 60\) in two parts$/);
    fails(() => mergeParts(header, [a, { ...b, predictions: 'AAAA' }]), /^merge: part 1 predictions: expected 70 records \(280 bytes\), got 3 bytes$/);
    fails(() => mergeParts(header, [a, { ...b, kind: 'report' }]), /^merge: part 1: expected a robustest part, got/);
    // Shards' files: the differences between two runs are named.
    const h1 = await runHeader(p.model, data, { ...small, seed: 1 });
    fails(
      () =>
        mergePartialReports([
          { name: 'part-0.json', value: partialReport(header, [a]) },
          { name: 'part-1.json', value: partialReport(h1, [other]) },
        ]),
      /^merge: expected partial reports of one run, got part-0.json and part-1.json of different runs \(seed 0 vs 1\)$/,
    );
    fails(
      () =>
        mergePartialReports([
          { name: 'part-0.json', value: partialReport(header, [a]) },
          { name: 'part-1.json', value: partialReport(header, [b, overlap]) },
        ]),
      /^merge: expected disjoint partial reports, got points \[50, 60\) in both part-0.json and part-1.json$/,
    );
    fails(() => mergePartialReports([{ name: 'x.json', value: { kind: 'robustest-report' } }]), /^merge: expected x.json to be a partial report/);
  });
});

describe('slices', () => {
  it('shardRange cuts any count into n disjoint, balanced, contiguous slices covering every point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 64 }), (count, n) => {
        fc.pre(n <= count);
        const slices = Array.from({ length: n }, (_, i) => shardRange(count, i, n));
        expect(slices[0]!.start).toBe(0);
        expect(slices.at(-1)!.end).toBe(count);
        slices.forEach((s, i) => i > 0 && expect(s.start).toBe(slices[i - 1]!.end));
        const sizes = slices.map((s) => s.end - s.start);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
    expect(shardRange(10, 1, 3)).toEqual({ start: 3, end: 6 });
    expect(() => shardRange(10, 3, 3)).toThrow(/^shard: expected a shard index in \[0, 3\) \(0-based\), got 3$/);
    expect(() => shardRange(2, 0, 3)).toThrow(/^shard: expected between 1 and 2 shards/);
    expect(chunkRanges(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
  });

  it('isUnboundedSample picks min(100, count) samples spread evenly by global index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), (count) => {
        let picked = 0;
        let last = -Infinity;
        let maxGap = 0;
        for (let i = 0; i < count; i++) {
          if (!isUnboundedSample(i, count)) continue;
          picked++;
          if (last > -Infinity) maxGap = Math.max(maxGap, i - last);
          last = i;
        }
        expect(picked).toBe(Math.min(UNBOUNDED_POINTS, count));
        expect(isUnboundedSample(0, count)).toBe(true);
        expect(maxGap).toBeLessThanOrEqual(Math.ceil(count / UNBOUNDED_POINTS));
      }),
      { numRuns: 50 },
    );
  });
});
