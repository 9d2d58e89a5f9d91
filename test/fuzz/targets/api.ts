// Fuzz target: the numeric API. attack.run (every registered attack, through createAttack) and evaluate on a tiny
// linear model, with hostile options (counts, step sizes, norms, losses), epsilons, seeds, labels, targets and
// inputs (NaN, out of bounds, wrong shapes).
import fc from 'fast-check';
import * as tf from '../../../src/tf.js';
import { fromFunction } from '../../../src/model.js';
import { ATTACK_NAMES, createAttack } from '../../../attacks/registry.js';
import { evaluate } from '../../../metrics/evaluate.js';
import type { FuzzTarget } from '../harness.js';

const hostile = <T>(valid: T[], bad: unknown[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom<unknown>(...valid) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(...bad) },
  );

const BAD_NUMBERS = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e9, 2 ** 53, '3', null, [], {}];

export interface ApiCase {
  kind: 'attack' | 'evaluate';
  attack: string;
  options: Record<string, unknown>;
  epsilons: unknown;
  seed: unknown;
  n: number;
  labels: unknown;
  targets: unknown;
  x: 'valid' | 'nan' | 'out-of-bounds' | 'wrong-shape' | 'empty';
  batchSize: unknown;
  ciLevel: unknown;
}

export const apiTarget: FuzzTarget<ApiCase> = {
  name: 'api',
  arbitrary: fc.record({
    kind: fc.constantFrom('attack' as const, 'attack' as const, 'evaluate' as const),
    attack: fc.constantFrom(...ATTACK_NAMES),
    options: fc.record(
      {
        norm: hostile(['linf', 'l2', 'l1', 'l0'], ['lp', '', 'LINF', 2, null]),
        steps: hostile([1, 2, 3], BAD_NUMBERS),
        stepSize: hostile([0.01, 0.1], [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY, 1e308, '0.1']),
        restarts: hostile([1, 2], [0, -1, 1e6, 1.5, Number.NaN]),
        queries: hostile([5, 20], [0, -1, 1e12, Number.NaN, 2 ** 53]),
        loss: hostile(['ce', 'margin', 'dlr'], ['mse', '', 1, null]),
        earlyStop: hostile([true, false], ['yes', 1, null]),
      },
      { requiredKeys: [] },
    ),
    epsilons: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom<unknown>([0.1], [0, 0.05, 0.3], [1]) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<unknown>([], [-0.1], [Number.NaN], [Number.POSITIVE_INFINITY], [1e308], 0.1, null, ['0.1'], { linf: [0.1] }, { lp: [0.1] }),
      },
    ),
    seed: hostile([0, 7], [-1, 1.5, Number.NaN, 2 ** 53, '1', null]),
    n: fc.integer({ min: 1, max: 3 }),
    labels: fc.oneof(
      { weight: 4, arbitrary: fc.constant<unknown>('valid') },
      { weight: 1, arbitrary: fc.constantFrom<unknown>([3], [-1], [1.5], [Number.NaN], [], null, 'x', [0, 0, 0, 0, 0]) },
    ),
    targets: fc.oneof(
      { weight: 6, arbitrary: fc.constant<unknown>(undefined) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>('valid', [3], [-1], [0.5], null) },
    ),
    x: fc.constantFrom(
      'valid' as const,
      'valid' as const,
      'valid' as const,
      'nan' as const,
      'out-of-bounds' as const,
      'wrong-shape' as const,
      'empty' as const,
    ),
    batchSize: hostile([1, 2, 64], [0, -1, 1.5, Number.NaN, 1e9, '2']),
    ciLevel: hostile([0.95], [0, 1, 1.5, -0.5, Number.NaN, '0.9']),
  }),
  prepare() {},
  async run(c) {
    const w = tf.tensor2d([1, -1, 0.5, 0.2, 0.3, -0.4, -0.6, 0.9, 0.1, 0.7, -0.2, 0.4], [4, 3]);
    const model = fromFunction((x) => tf.matMul(x as tf.Tensor2D, w), { numClasses: 3, inputShape: [4], weights: [w], bounds: [0, 1] });
    const n = c.x === 'empty' ? 0 : c.n;
    const values = Array.from({ length: n * 4 }, (_, i) => ((i * 7) % 10) / 10);
    if (c.x === 'nan' && values.length > 0) values[0] = Number.NaN;
    if (c.x === 'out-of-bounds' && values.length > 0) values[0] = 2;
    const x =
      c.x === 'wrong-shape'
        ? tf.tensor2d(
            Array.from({ length: n * 5 }, () => 0.5),
            [n, 5],
          )
        : tf.tensor(values, [n, 4]);
    const labels = c.labels === 'valid' ? Array.from({ length: n }, (_, i) => i % 3) : c.labels;
    const targets = c.targets === 'valid' ? Array.from({ length: n }, (_, i) => (i + 1) % 3) : c.targets;
    try {
      const attack = createAttack(c.attack, c.options as never);
      if (c.kind === 'attack') {
        const result = await attack.run(model, x, labels as never, {
          epsilons: c.epsilons as never,
          ...(c.seed !== undefined ? { seed: c.seed as never } : {}),
          ...(targets !== undefined ? { targets: targets as never } : {}),
        });
        tf.dispose(result as never);
      } else {
        await evaluate(
          model,
          { x, labels: labels as never },
          {
            attacks: [attack],
            epsilons: c.epsilons as never,
            ...(c.seed !== undefined ? { seed: c.seed as never } : {}),
            ...(c.batchSize !== undefined ? { batchSize: c.batchSize as never } : {}),
            ...(c.ciLevel !== undefined ? { ciLevel: c.ciLevel as never } : {}),
          },
        );
      }
    } finally {
      x.dispose();
      model.dispose();
      w.dispose();
    }
  },
  describe: (c) =>
    JSON.stringify(c, (_, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? String(v) : Array.isArray(v) && v.length > 20 ? `[${v.length} values]` : v,
    ),
};
