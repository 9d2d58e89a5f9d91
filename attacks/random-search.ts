/**
 * Random search: a query-based sanity baseline, Linf and L2.
 *
 * Reference: the repeated additive-noise baselines of Foolbox (`LinfRepeatedAdditiveUniformNoiseAttack`,
 * `L2RepeatedAdditiveUniformNoiseAttack`; J. Rauber, W. Brendel, M. Bethge, "Foolbox: A Python toolbox to
 * benchmark the robustness of machine learning models", 2017, https://arxiv.org/abs/1707.04131). It is a sanity
 * baseline, not a strong attack: a model that random noise fools at epsilon is not robust at epsilon, but one
 * that resists it may still fall to any real attack.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type QueryContext } from '../src/runner.js';
import { selectSamples, checkNorm, type Norm } from '../src/norms.js';
import { LOSS_NAMES, type LossName } from '../src/losses.js';
import { normalPerSample, uniformPerSample } from '../src/rng.js';
import { ConfigError, describe } from '../src/errors.js';
import { requireInt } from '../src/validate.js';

/** Configuration of {@link randomSearch}. Every field is optional. */
export interface RandomSearchConfig {
  /**
   * Threat model. `'linf'`: random corners of the cube (every coordinate `±ε`, the strongest random Linf noise);
   * `'l2'`: uniform on the sphere of radius ε. Default `'linf'`.
   */
  norm?: Norm;
  /** Random draws per sample and epsilon (so at most that many queries per sample and epsilon). Default `100`. */
  samples?: number;
  /** Loss that ranks draws that do not fool the model (the best one is returned). Default `'margin'`. */
  loss?: LossName;
}

interface Settings {
  readonly norm: Norm;
  readonly samples: number;
  readonly loss: LossName;
}

/** One random point per sample on the surface of the epsilon ball around `x` (before projection into the bounds). */
function draw(s: Settings, ctx: QueryContext): tf.Tensor {
  const { x, epsilon, rngs } = ctx;
  const sampleShape = x.shape.slice(1);
  return tf.tidy(() => {
    if (s.norm === 'linf') {
      const u = uniformPerSample(rngs, sampleShape, 0, 1);
      return tf.add(x, tf.where(tf.less(u, 0.5), tf.fill(u.shape, -epsilon), tf.fill(u.shape, epsilon)));
    }
    const n = x.shape[0]!;
    const g = tf.reshape(normalPerSample(rngs, sampleShape), [n, -1]);
    const unit = tf.div(g, tf.maximum(tf.norm(g, 'euclidean', 1, true), 1e-12));
    return tf.add(x, tf.reshape(tf.mul(unit, epsilon), x.shape));
  });
}

async function search(s: Settings, ctx: QueryContext): Promise<tf.Tensor> {
  const n = ctx.x.shape[0]!;
  // Per sample: the best draw so far (a success, else the highest loss), and whether it still searches.
  let best: { x: tf.Tensor; loss: tf.Tensor1D } | undefined;
  const active = new Array<boolean>(n).fill(true);
  try {
    for (let k = 0; k < s.samples && active.includes(true); k++) {
      // Every sample draws at every round (inactive ones too), so a sample's k-th draw does not depend on the others.
      const candidate = tf.tidy(() => ctx.project(draw(s, ctx)));
      let logits: tf.Tensor2D;
      try {
        logits = await ctx.query(candidate, active);
      } catch (e) {
        candidate.dispose();
        throw e;
      }
      const prev = best;
      const mask = active.slice();
      const [next, success] = tf.tidy(() => {
        const loss = ctx.loss(logits);
        const ok = ctx.isSuccess(logits);
        if (!prev) return [{ x: tf.clone(candidate), loss }, ok] as const;
        // Only a sample still searching may change its best: a success, or a higher loss.
        const searching = tf.tensor1d(
          mask.map((m) => (m ? 1 : 0)),
          'bool',
        );
        const take = tf.logicalAnd(searching, tf.logicalOr(ok, tf.greater(loss, prev.loss))) as tf.Tensor1D;
        return [{ x: selectSamples(take, candidate, prev.x), loss: tf.where(take, loss, prev.loss) as tf.Tensor1D }, ok] as const;
      });
      tf.dispose([candidate, logits]);
      if (prev) tf.dispose([prev.x, prev.loss]);
      best = next;
      const fooled = await success.data();
      success.dispose();
      for (let i = 0; i < n; i++) if (active[i] && fooled[i] === 1) active[i] = false;
    }
  } catch (e) {
    if (best) tf.dispose([best.x, best.loss]);
    throw e;
  }
  best!.loss.dispose();
  return best!.x;
}

/**
 * Random search: per sample, up to `samples` random points of the epsilon ball (Linf: random corners, every
 * coordinate `x ± ε`; L2: uniform on the sphere of radius ε), each projected into the bounds and queried once;
 * a sample stops at its first draw that fools the model (its later queries are neither made nor counted), else
 * it keeps the draw of highest loss. It sees only the model's scores through the runner's counted `query`, so it
 * runs on a {@link QueryModel} as well. A sanity baseline (after Foolbox's repeated additive-noise attacks), not
 * a strong attack: use it to catch gradient masking (a model that random noise fools more easily than PGD does).
 *
 * Kind `query` (scores, fixed-epsilon search): `EpsilonResult.queries` holds the queries per sample, at most
 * `samples`. Each round queries the whole batch once (one draw per sample; the runner's `query` takes one
 * candidate per input) and reads one bool per sample back to stop the fooled ones. Untargeted, or targeted when
 * `run` gets `targets`.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Reference: https://arxiv.org/abs/1707.04131.
 *
 * @param config - see {@link RandomSearchConfig}; defaults: Linf, 100 samples, margin loss.
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons, seed })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `samples: 0`).
 * @example
 * ```ts
 * const result = await randomSearch({ samples: 50 }).run(model, x, labels, { epsilons: [0.1, 0.3], seed: 0 });
 * console.log(result.results.map((r) => r.queries));
 * result.dispose();
 * ```
 */
export function randomSearch(config: RandomSearchConfig = {}): Attack {
  const s: Settings = {
    norm: config.norm ?? 'linf',
    samples: config.samples ?? 100,
    loss: config.loss ?? 'margin',
  };
  checkNorm(s.norm, 'random-search');
  requireInt(s.samples, 1, 'random-search', 'samples');
  if (!LOSS_NAMES.includes(s.loss)) throw new ConfigError(`random-search: expected loss to be one of ${LOSS_NAMES.join(', ')}, got ${describe(s.loss)}`);
  return defineAttack({
    kind: 'query',
    output: 'scores',
    search: 'fixed-epsilon',
    restarts: 1,
    name: 'random-search',
    norm: s.norm,
    config: { ...s },
    loss: s.loss,
    attack: (ctx) => search(s, ctx),
  });
}
