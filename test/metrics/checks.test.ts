import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { ATTACK_NAMES } from '../../attacks/registry.js';
import { ConfigError, ShapeError } from '../../src/errors.js';
import { MODEL_WARNING_CODES } from '../../src/model.js';
import {
  DATA_RANGE_SLIVER,
  WARNING_CODES,
  WARNING_SEVERITY,
  checkDataRange,
  nonFiniteGradientFraction,
  severeWarnings,
  severityOf,
  withSeverity,
  checkGradients,
  checkOutputs,
  looksLikeLogProbabilities,
  looksLikeProbabilities,
  softmaxHeadWarning,
  warning,
  zeroGradientFraction,
} from '../../metrics/checks.js';

const LOGITS = [
  [2.0, -1.0, 0.5],
  [-0.3, 0.8, 0.1],
  [4.0, 4.0, -2.0],
  [0.2, 0.1, 0.3],
];

/** Runs fn and asserts it left no tensor behind. */
async function noLeak<T>(fn: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('looksLikeProbabilities / looksLikeLogProbabilities', () => {
  it('recognises softmax outputs and rejects logits', async () => {
    const logits = tf.tensor2d(LOGITS);
    const probs = tf.softmax(logits);
    const logProbs = tf.logSoftmax(logits);
    expect(await noLeak(() => looksLikeProbabilities(probs))).toBe(true);
    expect(await noLeak(() => looksLikeProbabilities(logits))).toBe(false);
    expect(await noLeak(() => looksLikeProbabilities(logProbs))).toBe(false);
    expect(await noLeak(() => looksLikeLogProbabilities(logProbs))).toBe(true);
    expect(await noLeak(() => looksLikeLogProbabilities(logits))).toBe(false);
    expect(await noLeak(() => looksLikeLogProbabilities(probs))).toBe(false);
    tf.dispose([logits, probs, logProbs]);
  });

  it('rejects rows in [0, 1] that do not sum to 1, and negative rows whose exponentials do not', async () => {
    const unnormalised = tf.tensor2d([
      [0.2, 0.3, 0.1],
      [0.5, 0.5, 0],
    ]);
    const almost = tf.tensor2d([[0.3333, 0.3333, 0.3334]]); // sums to 1 exactly
    const offByMore = tf.tensor2d([[0.5, 0.5, 0.01]]); // sum 1.01
    expect(await looksLikeProbabilities(unnormalised)).toBe(false);
    expect(await looksLikeProbabilities(almost)).toBe(true);
    expect(await looksLikeProbabilities(offByMore)).toBe(false);
    const negative = tf.tensor2d([[-1, -2, -3]]);
    expect(await looksLikeLogProbabilities(negative)).toBe(false);
    tf.dispose([unnormalised, almost, offByMore, negative]);
  });

  it('is false for an empty batch and rejects other ranks', async () => {
    const empty = tf.zeros([0, 3]) as tf.Tensor2D;
    expect(await looksLikeProbabilities(empty)).toBe(false);
    expect(await looksLikeLogProbabilities(empty)).toBe(false);
    const v = tf.tensor1d([0.5, 0.5]) as unknown as tf.Tensor2D;
    await expect(looksLikeProbabilities(v)).rejects.toThrow(ShapeError);
    await expect(looksLikeLogProbabilities(v)).rejects.toThrow('looksLikeLogProbabilities: expected logits of rank 2 [N, C], got shape [2]');
    tf.dispose([empty, v]);
  });
});

describe('zeroGradientFraction', () => {
  it('counts samples whose gradient is zero everywhere', async () => {
    const grad = tf.tensor3d([
      [
        [0, 0],
        [0, 0],
      ],
      [
        [0, 1e-9],
        [0, 0],
      ],
      [
        [0, 0],
        [0, 0],
      ],
      [
        [-2, 3],
        [0, 1],
      ],
    ]);
    expect(await noLeak(() => zeroGradientFraction(grad))).toBe(0.5);
    grad.dispose();
  });

  it('is 0 for an empty batch and rejects scalars', async () => {
    const empty = tf.zeros([0, 5]);
    expect(await zeroGradientFraction(empty)).toBe(0);
    const s = tf.scalar(0);
    await expect(zeroGradientFraction(s)).rejects.toThrow(ShapeError);
    tf.dispose([empty, s]);
  });

  it('sees masked gradients through a hard threshold', async () => {
    // A model that rounds its input has a zero input-gradient everywhere: the classic masking case.
    const x = tf.tensor2d([
      [0.2, 0.7],
      [0.9, 0.1],
    ]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.round(t), 3)))(x);
    expect(await zeroGradientFraction(g)).toBe(1);
    tf.dispose([x, g]);
  });
});

describe('warnings', () => {
  it('builds warnings with kebab-case codes', () => {
    expect(warning('zero-gradients', 'm')).toEqual({ code: 'zero-gradients', message: 'm', severity: 'severe' });
    expect(warning('my-own-check', 'm')).toEqual({ code: 'my-own-check', message: 'm', severity: 'info' });
    expect(() => warning('Zero Gradients', 'm')).toThrow(ConfigError);
    expect(() => warning('zero-gradients', '')).toThrow('warning: expected message to be a non-empty string, got ""');
    expect(WARNING_CODES).toEqual({
      probabilityOutput: 'probability-output',
      logProbabilityOutput: 'log-probability-output',
      zeroGradients: 'zero-gradients',
      nonFiniteGradients: 'non-finite-gradients',
      softmaxHead: 'softmax-head',
      randomizedModel: 'randomized-model',
      nonMonotoneCurve: 'non-monotone-curve',
      noCorrectPoints: 'no-correct-points',
      notConverged: 'not-converged',
      dataRangeMismatch: 'data-range-mismatch',
      iterativeWeakerThanSingleStep: 'iterative-weaker-than-single-step',
      blackBoxBeatsWhiteBox: 'black-box-beats-white-box',
      unboundedAttackFails: 'unbounded-attack-fails',
      restartsMatter: 'restarts-matter',
      transferBeatsWhiteBox: 'transfer-beats-white-box',
      nonAdaptiveDefense: 'non-adaptive-defense',
    });
    expect(softmaxHeadWarning('mnist').code).toBe('softmax-head');
    expect(softmaxHeadWarning('mnist').message).toMatch(/^mnist: /);
  });

  it('checkOutputs reports probability and log-probability outputs, nothing for logits', async () => {
    const logits = tf.tensor2d(LOGITS);
    const probs = tf.softmax(logits);
    const logProbs = tf.logSoftmax(logits);
    const p = await noLeak(() => checkOutputs(probs, { name: 'net' }));
    expect(p).toHaveLength(1);
    expect(p[0]?.code).toBe('probability-output');
    expect(p[0]?.message).toMatch(/^net: outputs look like probabilities/);
    const lp = await noLeak(() => checkOutputs(logProbs));
    expect(lp.map((w) => w.code)).toEqual(['log-probability-output']);
    expect(await noLeak(() => checkOutputs(logits))).toEqual([]);
    tf.dispose([logits, probs, logProbs]);
  });

  it('checkGradients warns above the threshold only', async () => {
    const grad = tf.tensor2d([
      [0, 0],
      [1, 0],
      [0, 2],
      [0, 1],
    ]); // 25% zero
    expect(await noLeak(() => checkGradients(grad))).toHaveLength(1); // default threshold 0.1
    const w = await checkGradients(grad, { threshold: 0.1, name: 'net' });
    expect(w[0]?.code).toBe('zero-gradients');
    expect(w[0]?.message).toMatch(/^net: 25\.0% of samples have an all-zero input gradient/);
    expect(await checkGradients(grad, { threshold: 0.25 })).toEqual([]);
    await expect(checkGradients(grad, { threshold: 2 })).rejects.toThrow('checkGradients: expected threshold to be a number in [0, 1], got 2');
    grad.dispose();
  });
});

describe('severity', () => {
  it('gives every code robustest or a model wrapper emits a severity; gradient-masking signs are severe', () => {
    for (const code of Object.values(WARNING_CODES)) expect(WARNING_SEVERITY[code], code).toMatch(/^(severe|info)$/);
    for (const code of Object.values(MODEL_WARNING_CODES).filter((c) => c !== 'softmax-removed'))
      expect(WARNING_SEVERITY[code], code).toMatch(/^(severe|info)$/);
    const severe = Object.entries(WARNING_SEVERITY)
      .filter(([, s]) => s === 'severe')
      .map(([c]) => c)
      .sort();
    expect(severe).toEqual(
      [
        'zero-gradients',
        'non-finite-gradients',
        'black-box-beats-white-box',
        'iterative-weaker-than-single-step',
        'unbounded-attack-fails',
        'probability-output',
        'softmax-kept',
        'randomized-model',
        'not-converged',
        'transfer-beats-white-box',
        'restarts-matter',
        'non-monotone-curve',
        'data-range-mismatch',
        'non-adaptive-defense',
      ].sort(),
    );
    expect(severityOf('softmax-head')).toBe('info');
    expect(severityOf('constructor')).toBe('info'); // not an inherited property
    expect(withSeverity({ code: 'not-converged', message: 'm' }).severity).toBe('severe');
    expect(withSeverity({ code: 'not-converged', message: 'm', severity: 'info' }).severity).toBe('info');
    const ws = [warning('softmax-head', 'a'), warning('zero-gradients', 'b'), { code: 'probability-output', message: 'c' }];
    expect(severeWarnings(ws).map((w) => w.code)).toEqual(['zero-gradients', 'probability-output']);
  });

  it("WARNING_CODES's TSDoc gives each code's severity as the table does", () => {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'metrics', 'checks.ts'), 'utf8');
    const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export const WARNING_CODES\b/.exec(text)?.[1] ?? '';
    // `code` — severity: (not `[severity]:`, which Markdown and typedoc read as a link reference definition)
    const wrong = Object.values(WARNING_CODES).filter((code) => !doc.includes(`\`${code}\` — ${WARNING_SEVERITY[code]}: `));
    expect(wrong).toEqual([]);
  });
});

describe('non-finite gradients', () => {
  it('counts samples with a NaN or infinite component, and checkGradients warns on one', async () => {
    const grad = tf.tensor2d([
      [0, NaN],
      [1, 2],
      [Infinity, 0],
      [0, 0],
    ]);
    expect(await noLeak(() => nonFiniteGradientFraction(grad))).toBe(0.5);
    const w = await noLeak(() => checkGradients(grad, { name: 'net' }));
    expect(w.map((x) => x.code)).toEqual(['zero-gradients', 'non-finite-gradients']);
    expect(w[1]!.message).toMatch(/^net: 50\.0% of samples have a NaN or infinite input gradient/);
    expect(w[1]!.severity).toBe('severe');
    expect(await checkGradients(grad, { nonFiniteThreshold: 0.5, threshold: 0.5 })).toEqual([]);
    await expect(checkGradients(grad, { nonFiniteThreshold: -1 })).rejects.toThrow(
      'checkGradients: expected nonFiniteThreshold to be a number in [0, 1], got -1',
    );
    const fine = tf.tensor2d([
      [1, 0],
      [0, -2],
    ]);
    expect(await checkGradients(fine)).toEqual([]);
    tf.dispose([grad, fine]);
  });

  it('sees the infinite gradient of a square root at 0', async () => {
    const x = tf.tensor2d([
      [0, 0.5],
      [0.25, 0.5],
    ]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.sqrt(t)))(x);
    expect(await nonFiniteGradientFraction(g)).toBe(0.5);
    tf.dispose([x, g]);
  });
});

describe('checkDataRange', () => {
  it('fires for 0–1 data under bounds [0, 255] and for data scaled twice', async () => {
    const x = tf.tensor2d([
      [0, 0.5, 1],
      [0.2, 0.9, 0.1],
    ]);
    const w = await noLeak(() => checkDataRange(x, [0, 255], { name: 'net' }));
    expect(w.map((v) => v.code)).toEqual(['data-range-mismatch']);
    expect(w[0]!.message).toMatch(/^net: the data spans \[0, 1\], only 0\.4% of the model's bounds \[0, 255\]/);
    const twice = tf.div(x, 255);
    expect((await checkDataRange(twice, [0, 1])).map((v) => v.code)).toEqual(['data-range-mismatch']);
    tf.dispose([x, twice]);
  });

  it('fires for raw [0, 1] data under normalised bounds', async () => {
    const x = tf.tensor2d([[0, 0.3, 1]]);
    const w = await checkDataRange(x, [-2.1, 2.6]);
    expect(w).toHaveLength(1);
    expect(w[0]!.message).toMatch(/bounds \[-2\.1, 2\.6\] look normalised, but every input lies in \[0, 1\]/);
    x.dispose();
  });

  it('is silent on data that fills its bounds, MNIST-like data (mean near 0.13), normalised data and constant data', async () => {
    const mnist = tf.tensor2d([[0, 0, 0, 0, 0, 0, 0.3, 1]]);
    const normalised = tf.tensor2d([[-1.8, 0.2, 2.4]]);
    const constant = tf.zeros([2, 3]);
    const wide = tf.tensor2d([[0, 13, 255]]);
    expect(await checkDataRange(mnist, [0, 1])).toEqual([]);
    expect(await checkDataRange(normalised, [-2.1, 2.6])).toEqual([]);
    expect(await checkDataRange(constant, [0, 255])).toEqual([]);
    expect(await checkDataRange(wide, [0, 255])).toEqual([]);
    expect(DATA_RANGE_SLIVER).toBe(0.05);
    tf.dispose([mnist, normalised, constant, wide]);
  });
});

describe('checks docs and advice', () => {
  it("WARNING_CODES's TSDoc lists every code", () => {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'metrics', 'checks.ts'), 'utf8');
    const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export const WARNING_CODES\b/.exec(text)?.[1] ?? '';
    const missing = Object.values(WARNING_CODES).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('warnings suggest only attacks robustest has', async () => {
    const logits = tf.tensor2d(LOGITS);
    const probs = tf.softmax(logits);
    const logProbs = tf.logSoftmax(logits);
    const zero = tf.zeros([4, 3]);
    const messages = [...(await checkOutputs(probs)), ...(await checkOutputs(logProbs)), ...(await checkGradients(zero)), softmaxHeadWarning('net')].map((w) =>
      w.message.toLowerCase(),
    );
    tf.dispose([logits, probs, logProbs, zero]);
    expect(messages).toHaveLength(4);
    const wellKnown = ['square', 'hopskipjump', 'apgd', 'autoattack', 'carlini', 'cw', 'deepfool', 'fab', 'fmn', 'bpda', 'eot', 'spsa', 'jsma', 'mi-fgsm'];
    const absent = wellKnown.filter((name) => !(ATTACK_NAMES as readonly string[]).includes(name));
    const suggested = messages.flatMap((m) => absent.filter((name) => new RegExp(`\\b${name}\\b`).test(m)).map((name) => `${name} in "${m}"`));
    expect(suggested).toEqual([]);
  });
});
