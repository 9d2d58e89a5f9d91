/**
 * The CLI's `--defense` syntax: a comma-separated list of `name:parameter` transforms, parsed into
 * {@link InputTransform}s.
 * @module
 */
import { ConfigError } from '../src/errors.js';
import { jpeg } from './jpeg.js';
import { bitDepth, gaussianNoise, medianSmoothing, randomResizePad, tvDenoise, type InputTransform } from './transforms.js';

/** One transform of {@link DEFENSE_TRANSFORMS}. */
export interface DefenseTransformEntry {
  /** What the parameter after the colon means. */
  readonly parameter: string;
  /** Builds the transform from the parameter (undefined when none was given). */
  readonly build: (p: number | undefined) => InputTransform;
}

/**
 * The transforms `--defense` accepts, by name: what the parameter means, and the factory.
 * `jpeg:Q` (quality 1–100), `bits:B` (1–8 bits), `median:K` (window 2–9), `noise:S` (σ > 0), `resize-pad:R` (canvas
 * scale > 1, optional: default 1.11), `tv:W` (total-variation weight > 0, optional: default 0.05).
 *
 * @example
 * ```ts
 * console.log(Object.keys(DEFENSE_TRANSFORMS).join(', ')); // jpeg, bits, median, noise, resize-pad, tv
 * ```
 */
export const DEFENSE_TRANSFORMS: Readonly<Record<string, DefenseTransformEntry>> = Object.freeze({
  jpeg: { parameter: 'quality, an integer in [1, 100]', build: (p) => jpeg(required('jpeg', p)) },
  bits: { parameter: 'bits, an integer in [1, 8]', build: (p) => bitDepth(required('bits', p)) },
  median: { parameter: 'window size, an integer in [2, 9]', build: (p) => medianSmoothing(required('median', p)) },
  noise: { parameter: 'sigma, a positive number', build: (p) => gaussianNoise(required('noise', p)) },
  'resize-pad': { parameter: 'canvas scale > 1 (default 1.11)', build: (p) => randomResizePad(p) },
  tv: { parameter: 'weight > 0 (default 0.05)', build: (p) => tvDenoise(p === undefined ? {} : { weight: p }) },
});

function required(name: string, p: number | undefined): number {
  if (p === undefined) throw new ConfigError(`--defense: expected ${name}:<${DEFENSE_TRANSFORMS[name]!.parameter}>, got ${name} without a parameter`);
  return p;
}

/**
 * Parses a `--defense` value such as `jpeg:75,bits:4` into transforms, in order.
 *
 * @param spec - comma-separated `name[:parameter]` items; names from {@link DEFENSE_TRANSFORMS}.
 * @throws {@link ConfigError} for an empty list, an unknown name, a parameter that is not a number, or one out of range
 *   (the factory's error names the option).
 * @example
 * ```ts
 * const transforms = parseDefense('jpeg:75,bits:4');
 * const defended = defend(model, transforms);
 * ```
 */
export function parseDefense(spec: string): InputTransform[] {
  const items = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new ConfigError(`--defense: expected a list such as jpeg:75,bits:4, got '${spec}'`);
  return items.map((item) => {
    const [name = '', param, ...rest] = item.split(':');
    const entry = DEFENSE_TRANSFORMS[name];
    if (!entry || rest.length > 0) {
      throw new ConfigError(`--defense: expected one of ${Object.keys(DEFENSE_TRANSFORMS).join(', ')} (as name:parameter), got '${item}'`);
    }
    let value: number | undefined;
    if (param !== undefined) {
      value = Number(param);
      if (param.trim() === '' || !Number.isFinite(value))
        throw new ConfigError(`--defense: expected ${name}'s parameter to be a number (${entry.parameter}), got '${param}'`);
    }
    return entry.build(value);
  });
}
