/**
 * The projected-gradient loop that FGSM, FGM, BIM and PGD share: an optional random start in the ball, then
 * `steps` steps of `stepSize` along the steepest-ascent direction of the loss for the norm (sign of the gradient
 * for Linf, the normalised gradient for L2), each followed by a projection onto the ball and the bounds.
 * @internal
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type PerturbContext } from '../src/runner.js';
import { randomInBall, selectSamples, steepestDirection, checkNorm, type Norm } from '../src/norms.js';
import { LOSS_NAMES, type LossName } from '../src/losses.js';
import { ConfigError, describe } from '../src/errors.js';
import { requireInt, requirePositive } from '../src/validate.js';

/** Settings of the shared projected-gradient loop (every field resolved). */
export interface IterativeSettings {
  readonly name: string;
  readonly norm: Norm;
  readonly steps: number;
  /** Absolute step size, or undefined to use `relStepSize · epsilon`. */
  readonly stepSize: number | undefined;
  readonly relStepSize: number;
  readonly randomStart: boolean;
  readonly restarts: number;
  readonly earlyStop: boolean;
  readonly checkEvery: number;
  readonly loss: LossName;
}

/** Validates the fields every iterative attack shares. */
export function checkIterative(s: IterativeSettings): void {
  const w = s.name;
  checkNorm(s.norm, w);
  requireInt(s.steps, 1, w, 'steps');
  if (s.stepSize !== undefined) requirePositive(s.stepSize, w, 'stepSize');
  requirePositive(s.relStepSize, w, 'relStepSize');
  requireInt(s.restarts, 1, w, 'restarts');
  requireInt(s.checkEvery, 1, w, 'checkEvery');
  if (typeof s.randomStart !== 'boolean') throw new ConfigError(`${w}: expected randomStart to be a boolean, got ${describe(s.randomStart)}`);
  if (typeof s.earlyStop !== 'boolean') throw new ConfigError(`${w}: expected earlyStop to be a boolean, got ${describe(s.earlyStop)}`);
  if (!LOSS_NAMES.includes(s.loss)) throw new ConfigError(`${w}: expected loss to be one of ${LOSS_NAMES.join(', ')}, got ${describe(s.loss)}`);
}

async function perturb(s: IterativeSettings, ctx: PerturbContext): Promise<tf.Tensor> {
  const { model, x, epsilon } = ctx;
  const alpha = s.stepSize ?? s.relStepSize * epsilon;
  let adv = tf.tidy(() => (s.randomStart ? ctx.project(tf.add(x, randomInBall(x.shape, epsilon, s.norm, ctx.rngs))) : tf.clone(x)));
  // Samples that already succeeded stop moving when earlyStop is on.
  let done: tf.Tensor1D | undefined = s.earlyStop ? tf.zeros([x.shape[0]!], 'bool') : undefined;
  for (let step = 0; step < s.steps; step++) {
    const { value, grad } = await model.valueAndGrad(adv, ctx.loss);
    ctx.trace(value);
    const prev = adv;
    adv = tf.tidy(() => {
      const next = ctx.project(tf.add(prev, tf.mul(steepestDirection(grad, s.norm), alpha)));
      return done ? selectSamples(done, prev, next) : next;
    });
    tf.dispose([value, grad, prev]);
    if (done && ((step + 1) % s.checkEvery === 0 || step + 1 === s.steps)) {
      const prevDone = done;
      const current = adv;
      const [nextDone, allDone] = tf.tidy(() => {
        const d = tf.logicalOr(prevDone, ctx.isSuccess(model.logits(current)));
        return [d, tf.all(d)] as const;
      });
      prevDone.dispose();
      done = nextDone as tf.Tensor1D;
      const finished = (await allDone.data())[0] === 1;
      allDone.dispose();
      if (finished) break;
    }
  }
  done?.dispose();
  return adv;
}

/**
 * Builds an attack from resolved settings. The recorded config is the settings without the name, and without
 * `stepSize` when it is unset; `fields` narrows it to the ones the factory exposes.
 */
export function iterativeAttack(s: IterativeSettings, fields?: readonly (keyof IterativeSettings)[]): Attack {
  checkIterative(s);
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'name' || v === undefined || (fields && !fields.includes(k as keyof IterativeSettings))) continue;
    config[k] = v;
  }
  return defineAttack({
    kind: 'fixed-epsilon',
    name: s.name,
    norm: s.norm,
    config,
    loss: s.loss,
    restarts: s.restarts,
    perturb: (ctx) => perturb(s, ctx),
  });
}
