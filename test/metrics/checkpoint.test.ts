// evaluate({ checkpoint }): finished chunks appended durably; a run stopped at any chunk resumes and gives the
// uninterrupted report (except timings); a cut-short last line is tolerated; a corrupt header, a corrupt line and a
// checkpoint of another run are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fgsm, pgd } from '../../attacks/index.js';
import { evaluate, type EvaluateOptions } from '../../metrics/evaluate.js';
import { CHECKPOINT_FILE } from '../../metrics/checkpoint.js';
import { RecordsError } from '../../src/errors.js';
import type { Dataset } from '../../src/data/types.js';
import type { Report } from '../../src/report.js';
import { prototypeProblem } from '../helpers/models.js';
import { comparable } from './parts-compare.js';

describe('evaluate with a checkpoint', () => {
  const n = 50;
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  let dir: string;
  let reference: Report;
  const options: EvaluateOptions = { attacks: [fgsm(), pgd({ steps: 4 })], epsilons: [0.05, 0.15], seed: 4, batchSize: 8 };
  const lines = async (d: string): Promise<string[]> => (await readFile(join(d, CHECKPOINT_FILE), 'utf8')).split('\n');
  beforeAll(async () => {
    p = prototypeProblem({ n, d: 16, numClasses: 4, seed: 7 });
    data = { images: Float32Array.from(await p.x.data()), shape: [16], labels: p.labels, count: n, sha256: 'unknown:checkpoint-test', source: 'prototypes' };
    dir = await mkdtemp(join(tmpdir(), 'robustest-checkpoint-'));
    reference = await evaluate(p.model, data, options);
  });
  afterAll(async () => {
    p.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a header and one line per batch, and gives the report of a run without checkpoint', async () => {
    const cp = join(dir, 'plain');
    const r = await evaluate(p.model, data, { ...options, checkpoint: cp });
    expect(comparable(r)).toEqual(comparable(reference));
    const l = await lines(cp);
    expect(l).toHaveLength(1 + Math.ceil(n / 8) + 1); // header, 7 chunks, the empty string after the last newline
    expect(l.at(-1)).toBe('');
    const head = JSON.parse(l[0]!) as { kind: string; header: { runId: string; config: { seed: number }; data: { count: number } } };
    expect(head.kind).toBe('robustest-checkpoint');
    expect(head.header.config.seed).toBe(4);
    expect(head.header.data.count).toBe(n);
    const ranges = l.slice(1, -1).map((x) => JSON.parse(x) as { start: number; end: number; runId: string });
    expect(ranges.map((x) => [x.start, x.end])).toEqual([0, 8, 16, 24, 32, 40, 48].map((a) => [a, Math.min(n, a + 8)]));
    expect(ranges.every((x) => x.runId === head.header.runId)).toBe(true);
    // Evaluating again with the complete checkpoint evaluates nothing and gives the same report.
    const phases: string[] = [];
    const again = await evaluate(p.model, data, { ...options, checkpoint: cp, onProgress: (e) => phases.push(e.phase) });
    expect(phases).toEqual([]);
    expect(comparable(again)).toEqual(comparable(reference));
  });

  it('resumes a run stopped after any batch, a cut-short last line included, and ends with the uninterrupted report', async () => {
    for (const stopAt of [1, 3, 6]) {
      const cp = join(dir, `stop-${stopAt}`);
      let cleanBatches = 0;
      // Stop the run when the clean pass of chunk `stopAt` starts (its predecessors are in the checkpoint).
      const stop = (e: { phase: string }): void => {
        if (e.phase === 'clean' && ++cleanBatches > stopAt) throw new Error('stopped');
      };
      await expect(evaluate(p.model, data, { ...options, checkpoint: cp, onProgress: stop })).rejects.toThrow('stopped');
      expect(await lines(cp)).toHaveLength(1 + stopAt + 1);
      await appendFile(join(cp, CHECKPOINT_FILE), '{"kind":"robustest-part","format":1,"runId":"ab'); // a write cut short by a crash
      const resumed: number[] = [];
      const r = await evaluate(p.model, data, { ...options, checkpoint: cp, onProgress: (e) => e.phase === 'clean' && resumed.push(e.done) });
      expect(resumed).toHaveLength(Math.ceil(n / 8) - stopAt);
      expect(comparable(r)).toEqual(comparable(reference));
      const l = await lines(cp);
      expect(l).toHaveLength(1 + Math.ceil(n / 8) + 1);
      expect(l.slice(1, -1).every((x) => (JSON.parse(x) as { kind: string }).kind === 'robustest-part')).toBe(true);
    }
  });

  it('refuses a checkpoint of another configuration (naming the difference) unless restart, a corrupt header and a corrupt line', async () => {
    const cp = join(dir, 'other');
    await evaluate(p.model, data, { ...options, checkpoint: cp });
    const other = evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp });
    await expect(other).rejects.toThrow(RecordsError);
    await expect(evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp })).rejects.toThrow(
      /^checkpoint ".*other\/checkpoint\.jsonl": expected a checkpoint of this run, got one of another run \(seed 4 vs 5\); pass --restart \(restart: true\) to start over$/,
    );
    await expect(evaluate(p.model, data, { ...options, epsilons: [0.05], checkpoint: cp })).rejects.toThrow(
      /another run \(epsilons \{"linf":\[0.05,0.15\]\} vs \{"linf":\[0.05\]\}\)/,
    );
    const restarted = await evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp, restart: true });
    expect(restarted.provenance.seed).toBe(5);
    expect((JSON.parse((await lines(cp))[0]!) as { header: { config: { seed: number } } }).header.config.seed).toBe(5);

    const file = join(cp, CHECKPOINT_FILE);
    const good = await lines(cp);
    await writeFile(file, [good[0]!.replace('"robustest-checkpoint"', '"robustest-checkpo'), ...good.slice(1)].join('\n'));
    await expect(evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp })).rejects.toThrow(
      /^checkpoint ".*" line 1: expected a robustest checkpoint header, got a corrupt line \(pass --restart to start over\)$/,
    );
    await writeFile(file, [good[0]!.replace('"format":1', '"format":7'), ...good.slice(1)].join('\n'));
    await expect(evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp })).rejects.toThrow(
      /line 1: expected a robustest checkpoint header of format 1/,
    );
    await writeFile(file, [good[0]!, good[1]!, good[2]!.slice(0, 40), ...good.slice(3)].join('\n'));
    await expect(evaluate(p.model, data, { ...options, seed: 5, checkpoint: cp })).rejects.toThrow(
      /^checkpoint ".*" line 3: expected JSON, got .*\(a corrupt checkpoint: remove it or pass --restart\)$/,
    );
  });
});
