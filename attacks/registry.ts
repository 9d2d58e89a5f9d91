/**
 * Attacks by name, for the CLI and configuration files: one table ({@link ATTACKS}) from name to factory,
 * kind, norms and the generic options each attack accepts. A new attack is its own file plus one row here; the
 * CLI's `--attack` and `--help` read the table.
 * @module
 */
import type { Attack, AttackKind } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import type { LossName } from '../src/losses.js';
import { ConfigError, describe } from '../src/errors.js';
import { fgsm, fgm } from './fgsm.js';
import { bim } from './bim.js';
import { pgd } from './pgd.js';
import { apgd, apgdT } from './apgd.js';
import { deepfool } from './deepfool.js';
import { fmn } from './fmn.js';
import { miFgsm } from './mi-fgsm.js';
import { randomSearch } from './random-search.js';
import { square } from './square.js';
import { hopSkipJump } from './hop-skip-jump.js';
import { fab } from './fab.js';
import { cw } from './carlini-wagner.js';

/** Options {@link createAttack} passes on to the attack; each attack takes those its {@link AttackRegistryEntry.options} list and ignores the rest. */
export interface AttackOptions {
  /** Threat model. Default: the attack's own ({@link AttackRegistryEntry.defaultNorm}); a norm the attack does not support is a `ConfigError`. */
  norm?: Norm;
  /** Steps of iterative attacks. */
  steps?: number;
  /** Absolute step size of iterative attacks. */
  stepSize?: number;
  /** Restarts (PGD). */
  restarts?: number;
  /** Per-sample early stop (BIM, PGD). */
  earlyStop?: boolean;
  /** Loss (a key of `LOSSES`). */
  loss?: LossName;
  /** Query budget per sample of black-box attacks (Square, HopSkipJump, random search). */
  queries?: number;
}

/** One generic option an attack accepts, for help texts and configuration checks. */
export interface AttackOptionSpec {
  /** The value's type. */
  readonly type: 'integer' | 'number' | 'boolean' | 'string';
  /** One line: what it does and its default for this attack. */
  readonly description: string;
}

/** One row of {@link ATTACKS}. */
export interface AttackRegistryEntry {
  /** The attack's name (the key of its row). */
  readonly name: string;
  /** One line: what it is, and its paper. */
  readonly summary: string;
  /** Its kind. */
  readonly kind: AttackKind;
  /** The norms it supports. */
  readonly norms: readonly Norm[];
  /** The norm it uses when none is given. */
  readonly defaultNorm: Norm;
  /** The generic options ({@link AttackOptions} keys other than `norm`) it accepts. */
  readonly options: Readonly<Partial<Record<Exclude<keyof AttackOptions, 'norm'>, AttackOptionSpec>>>;
  /** Builds the attack from resolved options (the norm already checked against {@link AttackRegistryEntry.norms}). */
  readonly create: (options: AttackOptions & { norm: Norm }) => Attack;
}

function pick<K extends keyof AttackOptions>(options: AttackOptions, keys: readonly K[]): Pick<AttackOptions, K> {
  const out: Partial<AttackOptions> = {};
  for (const k of keys) if (options[k] !== undefined) Object.assign(out, { [k]: options[k] });
  return out as Pick<AttackOptions, K>;
}

const loss: AttackOptionSpec = { type: 'string', description: 'loss to maximise: ce, margin or dlr (default ce)' };
const earlyStop: AttackOptionSpec = { type: 'boolean', description: 'stop moving a sample once it is adversarial (default false)' };

/** The row of an untargeted APGD with a fixed loss (`apgd-ce`, `apgd-dlr`). */
function apgdRow(name: string, loss: LossName, summary: string): AttackRegistryEntry {
  return {
    name,
    summary,
    kind: 'fixed-epsilon',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'iterations (default 100)' },
      restarts: { type: 'integer', description: 'random restarts; per sample the best is kept (default 1)' },
    },
    create: (o) => apgd({ norm: o.norm, loss, ...pick(o, ['steps', 'restarts']) }),
  };
}

/**
 * The registered attacks, by name. Each row gives the factory, the kind, the supported norms and the generic
 * options it accepts.
 *
 * @example
 * ```ts
 * for (const [name, entry] of Object.entries(ATTACKS)) console.log(name, entry.kind, entry.norms.join('/'), entry.summary);
 * ```
 */
export const ATTACKS: Readonly<Record<string, AttackRegistryEntry>> = Object.freeze({
  fgsm: {
    name: 'fgsm',
    summary: 'Fast Gradient Sign Method, one step of size ε (Goodfellow et al. 2015)',
    kind: 'fixed-epsilon',
    norms: ['linf'],
    defaultNorm: 'linf',
    options: { loss },
    create: (o) => fgsm(pick(o, ['loss'])),
  },
  fgm: {
    name: 'fgm',
    summary: 'Fast Gradient Method, one L2 step of length ε (Goodfellow et al. 2015; Miyato et al. 2016)',
    kind: 'fixed-epsilon',
    norms: ['l2'],
    defaultNorm: 'l2',
    options: { loss },
    create: (o) => fgm(pick(o, ['loss'])),
  },
  bim: {
    name: 'bim',
    summary: 'Basic Iterative Method, PGD without random start (Kurakin et al. 2017)',
    kind: 'fixed-epsilon',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'gradient steps (default 10)' },
      stepSize: { type: 'number', description: 'absolute step size (default 0.2·ε)' },
      earlyStop,
      loss,
    },
    create: (o) => bim({ norm: o.norm, ...pick(o, ['steps', 'stepSize', 'earlyStop', 'loss']) }),
  },
  pgd: {
    name: 'pgd',
    summary: 'Projected Gradient Descent with random start (Madry et al. 2018)',
    kind: 'fixed-epsilon',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'gradient steps (default 40)' },
      stepSize: { type: 'number', description: 'absolute step size (default 2.5·ε/steps)' },
      restarts: { type: 'integer', description: 'random restarts; per sample the best is kept (default 1)' },
      earlyStop,
      loss,
    },
    create: (o) => pgd({ norm: o.norm, ...pick(o, ['steps', 'stepSize', 'restarts', 'earlyStop', 'loss']) }),
  },
  'apgd-ce': apgdRow('apgd-ce', 'ce', 'Auto-PGD on cross-entropy: momentum, step size halved at checkpoints, no step size to tune (Croce & Hein 2020)'),
  'apgd-dlr': apgdRow('apgd-dlr', 'dlr', 'Auto-PGD on the Difference of Logits Ratio, invariant to logit scaling; needs 3 classes (Croce & Hein 2020)'),
  'apgd-t': {
    name: 'apgd-t',
    summary: 'Auto-PGD on the targeted DLR loss towards each of the 9 most likely other classes; needs 4 classes (Croce & Hein 2020)',
    kind: 'fixed-epsilon',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'iterations per target class (default 100)' },
      restarts: { type: 'integer', description: 'random restarts, each over all target classes (default 1)' },
    },
    create: (o) => apgdT({ norm: o.norm, ...pick(o, ['steps', 'restarts']) }),
  },
  'mi-fgsm': {
    name: 'mi-fgsm',
    summary: 'Momentum Iterative FGSM, steps of ε/steps along an accumulated L1-normalised gradient (Dong et al. 2018)',
    kind: 'fixed-epsilon',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'gradient steps, each of size ε/steps (default 10)' },
      loss,
    },
    create: (o) => miFgsm({ norm: o.norm, ...pick(o, ['steps', 'loss']) }),
  },
  deepfool: {
    name: 'deepfool',
    summary: 'DeepFool, minimum-norm steps to the nearest linearised boundary (Moosavi-Dezfooli et al. 2016)',
    kind: 'minimum-norm',
    norms: ['l2', 'linf'],
    defaultNorm: 'l2',
    options: { steps: { type: 'integer', description: 'maximum linearisation steps (default 50)' } },
    create: (o) => deepfool({ norm: o.norm, ...pick(o, ['steps']) }),
  },
  fmn: {
    name: 'fmn',
    summary: 'Fast Minimum-Norm attack, gradient steps inside an adaptive norm constraint (Pintor et al. 2021)',
    kind: 'minimum-norm',
    norms: ['l2', 'linf'],
    defaultNorm: 'l2',
    options: { steps: { type: 'integer', description: 'gradient steps, each one gradient and one forward pass (default 100)' } },
    create: (o) => fmn({ norm: o.norm, ...pick(o, ['steps']) }),
  },
  'random-search': {
    name: 'random-search',
    summary: 'random points of the ball, a query-only sanity baseline (after Foolbox; Rauber et al. 2017)',
    kind: 'query',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      loss: { type: 'string', description: 'loss ranking draws that do not fool: ce, margin or dlr (default margin)' },
      queries: { type: 'integer', description: 'random draws (queries) per input (default 100)' },
    },
    create: (o) => randomSearch({ norm: o.norm, ...pick(o, ['loss']), ...(o.queries !== undefined ? { samples: o.queries } : {}) }),
  },
  square: {
    name: 'square',
    summary: 'Square Attack, score-based random search with square updates (Andriushchenko et al. 2020)',
    kind: 'query',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      queries: { type: 'integer', description: 'query budget per input and restart (default 5000)' },
      restarts: { type: 'integer', description: 'runs on the points not yet fooled; per point the best is kept (default 1)' },
    },
    create: (o) => square({ norm: o.norm, ...pick(o, ['queries', 'restarts']) }),
  },
  'hop-skip-jump': {
    name: 'hop-skip-jump',
    summary: 'HopSkipJump, decision-based (labels only) minimum-norm search along the boundary (Chen et al. 2020)',
    kind: 'query',
    norms: ['l2', 'linf'],
    defaultNorm: 'l2',
    options: {
      queries: { type: 'integer', description: 'decisions (queries) per input, initialisation included (default 5000)' },
      steps: { type: 'integer', description: 'iterations at most: gradient estimate, step, binary search (default 64)' },
    },
    create: (o) => hopSkipJump({ norm: o.norm, ...pick(o, ['queries', 'steps']) }),
  },
  fab: {
    name: 'fab',
    summary: 'Fast Adaptive Boundary attack, minimum-norm projections onto the nearest linearised boundary (Croce & Hein 2020)',
    kind: 'minimum-norm',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'iterations per run, each C − 1 gradient calls (default 100)' },
      restarts: { type: 'integer', description: 'runs, the later ones from random starts; per point the smallest is kept (default 1)' },
    },
    create: (o) => fab({ norm: o.norm, ...pick(o, ['steps', 'restarts']) }),
  },
  'fab-t': {
    name: 'fab-t',
    summary: "FAB-T, FAB targeted at the 9 most likely other classes, AutoAttack's version (Croce & Hein 2020)",
    kind: 'minimum-norm',
    norms: ['linf', 'l2'],
    defaultNorm: 'linf',
    options: {
      steps: { type: 'integer', description: 'iterations per target class and run, one gradient call each (default 100)' },
      restarts: { type: 'integer', description: 'runs per target class, the later ones from random starts (default 1)' },
    },
    create: (o) => fab({ norm: o.norm, targeted: true, ...pick(o, ['steps', 'restarts']) }),
  },
  cw: {
    name: 'cw',
    summary: 'Carlini–Wagner L2, Adam in tanh space with a per-sample binary search over the constant c (Carlini & Wagner 2017)',
    kind: 'minimum-norm',
    norms: ['l2'],
    defaultNorm: 'l2',
    options: { steps: { type: 'integer', description: 'Adam steps per binary-search step, 9 search steps (default 1000)' } },
    create: (o) => cw(pick(o, ['steps'])),
  },
});

/** Names accepted by {@link createAttack}: the keys of {@link ATTACKS}, in order. */
export const ATTACK_NAMES: readonly string[] = Object.freeze(Object.keys(ATTACKS));

/** A name of {@link ATTACKS}. */
export type AttackName = keyof typeof ATTACKS;

/**
 * The row of {@link ATTACKS} for a name.
 *
 * @param name - an attack name.
 * @throws {@link ConfigError} for an unknown name.
 * @example
 * ```ts
 * attackEntry('fgm').norms; // ['l2']
 * ```
 */
export function attackEntry(name: string): AttackRegistryEntry {
  const entry = Object.prototype.hasOwnProperty.call(ATTACKS, name) ? ATTACKS[name] : undefined;
  if (!entry) throw new ConfigError(`attack: expected one of ${ATTACK_NAMES.join(', ')}, got ${describe(name)}`);
  return entry;
}

/**
 * Builds an attack from its name and generic options (the CLI's `--attack` list). The name always means that
 * attack: `fgsm` is L∞ and `fgm` is L2, and a norm that contradicts the attack is an error, never a silent switch
 * to another attack. Options the attack does not take are ignored, so one set of options serves a list.
 *
 * @param name - one of {@link ATTACK_NAMES}.
 * @param options - shared options; `norm` defaults to the attack's own.
 * @throws {@link ConfigError} for an unknown name, a norm the attack does not support, or an invalid option.
 * @example
 * ```ts
 * const attacks = ['fgsm', 'pgd'].map((n) => createAttack(n, { steps: 40 }));
 * createAttack('fgm').norm; // 'l2'
 * ```
 */
export function createAttack(name: string, options: AttackOptions = {}): Attack {
  const entry = attackEntry(name);
  const norm = options.norm ?? entry.defaultNorm;
  if (!entry.norms.includes(norm)) {
    throw new ConfigError(`${name}: expected norm ${entry.norms.map((n) => `'${n}'`).join(' or ')} (${entry.summary}), got ${describe(norm)}`);
  }
  return entry.create({ ...options, norm });
}
