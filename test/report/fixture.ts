// A small, realistic report used by the report tests. Built fresh on each call so tests may mutate it.
import { REPORT_VERSION, type Report } from '../../src/report.js';

const zero = { mean: 0, median: 0, max: 0 };

export function fixtureReport(): Report {
  return {
    version: REPORT_VERSION,
    kind: 'robustest-report',
    count: 100,
    cleanAccuracy: 0.98,
    cleanCi: { lower: 0.9300, upper: 0.9945, level: 0.95 },
    curve: [
      { epsilon: 0, robustAccuracy: 0.98, robustCount: 98, ci: { lower: 0.93, upper: 0.9945, level: 0.95 } },
      { epsilon: 8 / 255, robustAccuracy: 0.62, robustCount: 62, ci: { lower: 0.5221, upper: 0.7088, level: 0.95 } },
      { epsilon: 0.3, robustAccuracy: 0.05, robustCount: 5, ci: { lower: 0.0215, upper: 0.1118, level: 0.95 } },
    ],
    attacks: [
      {
        name: 'fgsm', norm: 'linf', epsilon: 8 / 255, robustAccuracy: 0.7, ci: { lower: 0.6042, upper: 0.7811, level: 0.95 },
        successRate: 28 / 98, attacked: 98, succeeded: 28, meanL2: 0.8712, meanLinf: 8 / 255,
        norms: { l0: { mean: 700, median: 712, max: 784 }, l1: { mean: 21.9, median: 22.3, max: 24.6 }, l2: { mean: 0.8712, median: 0.88, max: 0.98 }, linf: { mean: 8 / 255, median: 8 / 255, max: 8 / 255 } },
        seconds: 0.4213,
      },
      {
        name: 'pgd', norm: 'linf', epsilon: 8 / 255, robustAccuracy: 0.62, ci: { lower: 0.5221, upper: 0.7088, level: 0.95 },
        successRate: 8 / 70, attacked: 70, succeeded: 8, meanL2: 0.6523, meanLinf: 0.03137,
        norms: { l0: { mean: 600, median: 610, max: 700 }, l1: { mean: 15, median: 15.2, max: 18 }, l2: { mean: 0.6523, median: 0.64, max: 0.8 }, linf: { mean: 0.03137, median: 0.03137, max: 0.03137 } },
        seconds: 12.3456,
      },
      {
        name: 'pgd', norm: 'linf', epsilon: 0.3, robustAccuracy: 0.05, ci: { lower: 0.0215, upper: 0.1118, level: 0.95 },
        successRate: 93 / 98, attacked: 98, succeeded: 93, meanL2: 4.1, meanLinf: 0.3,
        norms: { l0: zero, l1: zero, l2: { mean: 4.1, median: 4, max: 5.5 }, linf: { mean: 0.3, median: 0.3, max: 0.3 } },
        seconds: 15,
      },
    ],
    perClass: [
      { label: 0, name: 'zero', count: 40, cleanAccuracy: 1, robust: [{ epsilon: 0, robustAccuracy: 1 }, { epsilon: 8 / 255, robustAccuracy: 0.75 }, { epsilon: 0.3, robustAccuracy: 0.1 }] },
      { label: 1, name: 'one', count: 30, cleanAccuracy: 0.9667, robust: [{ epsilon: 0, robustAccuracy: 0.9667 }, { epsilon: 8 / 255, robustAccuracy: 0.6 }, { epsilon: 0.3, robustAccuracy: 0.0333 }] },
      { label: 2, count: 20, cleanAccuracy: 0.95, robust: [{ epsilon: 0, robustAccuracy: 0.95 }, { epsilon: 8 / 255, robustAccuracy: 0.5 }, { epsilon: 0.3, robustAccuracy: 0 }] },
      { label: 3, name: 'three', count: 10, cleanAccuracy: 1, robust: [{ epsilon: 0, robustAccuracy: 1 }, { epsilon: 8 / 255, robustAccuracy: 0.4 }, { epsilon: 0.3, robustAccuracy: 0 }] },
      { label: 4, name: 'four', count: 0, cleanAccuracy: 0, robust: [{ epsilon: 0, robustAccuracy: 0 }, { epsilon: 8 / 255, robustAccuracy: 0 }, { epsilon: 0.3, robustAccuracy: 0 }] },
    ],
    warnings: [{ code: 'probability-output', message: 'net: outputs look like probabilities (every row in [0, 1] summing to 1)' }],
    provenance: {
      library: { name: 'robustest', version: '0.1.0' },
      tfjs: '4.22.0',
      node: 'v20.19.0',
      platform: 'linux-x64',
      backend: 'cpu',
      seed: 42,
      command: 'robustest eval --model model.json --data test.idx',
      model: {
        name: 'mnist-cnn', engine: 'tfjs', source: 'assets/mnist/model.json',
        sha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        bounds: [0, 1], inputShape: [28, 28, 1], layout: 'NHWC', numClasses: 10,
        preprocessing: { mean: [0.1307], std: [0.3081] },
      },
      data: { source: 'assets/mnist/t10k', sha256: 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210', count: 100 },
      attacks: [
        { name: 'fgsm', norm: 'linf', config: {} },
        { name: 'pgd', norm: 'linf', config: { steps: 40, stepSize: 0.01, restarts: 1 } },
      ],
      epsilons: [0, 8 / 255, 0.3],
      batchSize: 100,
      cascade: true,
      startedAt: '2026-11-26T05:00:00.000Z',
      finishedAt: '2026-11-26T05:00:28.250Z',
      seconds: 28.25,
    },
  };
}
