/**
 * `eval --defense`: the defense flags (`--defense`, `--eot`, `--no-adaptive`) and the step that puts the transforms in
 * front of the loaded model. The default is the honest evaluation: BPDA through non-differentiable transforms and EOT
 * over random ones; `--no-adaptive` asks for the non-adaptive one (the report then warns `non-adaptive-defense`).
 * @internal
 * @module
 */
import { ConfigError } from '../errors.js';
import { defend, parseDefense } from '../../defenses/index.js';
import type { CliIO } from './common.js';
import type { RunSetup } from './run-setup.js';

/** The defense flags of `robustest eval`. */
export interface DefenseFlags {
  /** `--defense jpeg:75,bits:4`. */
  defense?: string;
  /** `--eot <n>`: EOT draws per gradient for random transforms (default 10). */
  eot?: number;
  /** False with `--no-adaptive`. Default true. */
  adaptive?: boolean;
}

/** The transforms `--defense` accepts, for the help text. */
export const DEFENSE_HELP =
  'comma-separated input transforms put in front of the model, e.g. jpeg:75,bits:4: jpeg:QUALITY (1-100), bits:B (1-8), median:K (2-9), noise:SIGMA, resize-pad[:SCALE] (default 1.11), tv[:WEIGHT] (default 0.05); attacked adaptively (BPDA through jpeg and bits, EOT over noise and resize-pad) unless --no-adaptive';

/**
 * Refuses `--defense` with `--queue`: queue workers rebuild the run from the flags that define it, which do not carry
 * the defense, so they would evaluate the undefended model.
 *
 * @throws `ConfigError` for `--defense` with `--queue`.
 */
export function checkDefenseFlags(flags: DefenseFlags & { queue?: string }): void {
  if (flags.defense !== undefined && flags.queue !== undefined) {
    throw new ConfigError('--defense: expected a local run (queue workers would evaluate the undefended model), got --queue');
  }
}

/**
 * Puts the `--defense` transforms in front of the run's model; returns the run unchanged without `--defense`.
 *
 * @throws `ConfigError` for `--eot` or `--no-adaptive` without `--defense`, or a bad `--defense` list.
 */
export function applyDefenseFlags(run: RunSetup, flags: DefenseFlags, io: CliIO, quiet: boolean): RunSetup {
  if (flags.defense === undefined) {
    if (flags.eot !== undefined) throw new ConfigError('--eot: expected --defense with a random transform, got no --defense');
    if (flags.adaptive === false) throw new ConfigError('--no-adaptive: expected --defense, got no --defense');
    return run;
  }
  const transforms = parseDefense(flags.defense);
  const adaptive = flags.adaptive !== false;
  const model = defend(run.model, transforms, {
    gradient: adaptive ? 'bpda' : 'exact',
    seed: run.options.seed ?? 0,
    ...(adaptive ? (flags.eot !== undefined ? { eotSamples: flags.eot } : {}) : { eotSamples: 1 }),
  });
  if (!quiet) {
    const d = model.defense;
    const how = [
      d.nonDifferentiable
        ? d.gradient === 'bpda'
          ? 'BPDA through the non-differentiable transforms'
          : "the non-differentiable transforms' own (zero) gradients"
        : '',
      d.random ? (d.eotSamples > 1 ? `EOT over ${d.eotSamples} draws` : 'one draw per gradient (no EOT)') : '',
    ].filter((s) => s.length > 0);
    io.stderr(`robustest: defense ${d.transforms.join(',')} (${how.join(', ') || 'exact gradients'})${d.adaptive ? '' : ' — NON-ADAPTIVE'}\n`);
  }
  return { ...run, model, dispose: () => run.dispose() };
}
