/**
 * Node only: encodes a report's kept examples (`Report.examples`) as PNG with sharp, for the HTML rendering's image
 * grid. The renderers themselves import nothing from Node; this module is the one place that does image encoding,
 * and it loads sharp only when called (no static Node import), so importing it anywhere is harmless.
 * @module
 */
import type { Report } from './report.js';
import type { ExampleImages } from './report-html.js';
import { ConfigError } from './errors.js';
import { decodeBase64 } from './report-format.js';
import { loadSharp, type SharpFactory } from './sharp.js';

async function png(sharp: SharpFactory, pixels: Uint8Array, [height, width, channels]: readonly [number, number, number]): Promise<string> {
  const bytes = await sharp(pixels, { raw: { width, height, channels: channels as 1 | 3 } })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .png({ compressionLevel: 9, adaptiveFiltering: true, palette: false })
    .toBuffer();
  return `data:image/png;base64,${bytes.toString('base64')}`;
}

/**
 * The perturbation `adversarial − clean` of two 8-bit images as an 8-bit image: mid-grey (128) where nothing
 * changed, scaled so that the largest change reaches black or white (per image; a zero perturbation stays flat).
 *
 * @param clean - the clean image's bytes.
 * @param adversarial - the adversarial image's bytes, same length.
 * @returns the amplified perturbation, same length.
 * @example
 * ```ts
 * import { amplifyPerturbation } from 'robustest';
 * amplifyPerturbation(new Uint8Array([10, 10]), new Uint8Array([20, 5])); // Uint8Array [255, 64]
 * ```
 */
export function amplifyPerturbation(clean: Uint8Array, adversarial: Uint8Array): Uint8Array {
  let max = 0;
  for (let i = 0; i < clean.length; i++) max = Math.max(max, Math.abs(adversarial[i]! - clean[i]!));
  const out = new Uint8Array(clean.length).fill(128);
  if (max === 0) return out;
  const scale = 127 / max;
  for (let i = 0; i < clean.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(128 + (adversarial[i]! - clean[i]!) * scale)));
  return out;
}

/**
 * Encodes every kept example of a report (`Report.examples`) as PNG data URIs with sharp: the clean input, the
 * adversarial input and the perturbation amplified by {@link amplifyPerturbation}, at their stored size (the
 * HTML scales them up without smoothing). Node only.
 *
 * @param report - a report; one without examples gives an empty list.
 * @returns one entry per example, for `renderHtml(report, { images })`.
 * @throws {@link ConfigError} when an example's bytes do not match the stored shape, or sharp cannot be loaded.
 * @example
 * ```ts
 * import { renderExampleImages, renderHtml } from 'robustest';
 * const html = renderHtml(report, { images: await renderExampleImages(report) });
 * ```
 */
export async function renderExampleImages(report: Report): Promise<ExampleImages[]> {
  const ex = report.examples;
  if (ex === undefined || ex.items.length === 0) return [];
  const [height, width, channels] = ex.shape;
  if (channels !== 1 && channels !== 3) throw new ConfigError(`renderExampleImages: expected 1 or 3 channels, got ${channels}`);
  const size = height * width * channels;
  const sharp = await loadSharp((reason) => new ConfigError(`renderExampleImages: expected the sharp package to encode PNG, got ${reason}`));
  const decode = (b64: string, index: number, what: string): Uint8Array => {
    const bytes = decodeBase64(b64);
    if (bytes.length !== size) {
      throw new ConfigError(
        `renderExampleImages: expected ${size} bytes (${ex.shape.join('×')}) for the ${what} image of example #${index}, got ${bytes.length}`,
      );
    }
    return bytes;
  };
  const out: ExampleImages[] = [];
  for (const e of ex.items) {
    const clean = decode(e.clean, e.index, 'clean');
    const entry: { index: number; clean: string; adversarial?: string; perturbation?: string } = { index: e.index, clean: await png(sharp, clean, ex.shape) };
    if (e.adversarial !== undefined) {
      const adv = decode(e.adversarial, e.index, 'adversarial');
      entry.adversarial = await png(sharp, adv, ex.shape);
      entry.perturbation = await png(sharp, amplifyPerturbation(clean, adv), ex.shape);
    }
    out.push(entry);
  }
  return out;
}
