/**
 * Gradient rules of Resize and Upsample (nearest-neighbour upsampling by integer factors), mirroring `ops/resize.ts`.
 * @internal
 * @module
 */
import { g0, int, type Rule, type RuleArgs } from './builder.js';

/** Vector–Jacobian products of this family, by ONNX operator. */
export const resizeRules: Record<string, Rule> = {};
const RULES = resizeRules;

function resizeScales(a: RuleArgs): number[] {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const yd = b.dims(node.outputs[0]!, a.where);
  return xd.map((d, i) => yd[i]! / d);
}
/** Nearest-neighbour upsampling by integer factors (UpSampling2D): each input feeds a block; its gradient is the block's sum. */
function upsampleRule(a: RuleArgs): (string | undefined)[] {
  const { b, node } = a;
  const mode = a.n.str('mode', 'nearest');
  if (mode !== 'nearest') a.n.unsupported(`nearest mode, got ${mode}`);
  // Integer upsampling replicates pixels for half-pixel centres rounded to nearest, and for asymmetric floor.
  const coord = a.b.opset < 11 ? 'asymmetric' : a.n.str('coordinate_transformation_mode', 'half_pixel');
  const rounding = a.b.opset < 11 ? 'floor' : a.n.str('nearest_mode', 'round_prefer_floor');
  const replicates =
    ((coord === 'half_pixel' || coord === 'pytorch_half_pixel') && rounding.startsWith('round')) || (coord === 'asymmetric' && rounding === 'floor');
  if (!replicates) a.n.unsupported(`a coordinate transformation that replicates pixels, got ${coord} with ${rounding}`);
  const scales = resizeScales(a);
  if (scales.some((s) => !Number.isInteger(s) || s < 1)) a.n.unsupported(`integer upsampling factors, got ${scales.join(', ')}`);
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const batch = b.batchAxes(X);
  const view: number[] = [];
  xd.forEach((d, i) => view.push(batch.includes(i) ? -1 : d, scales[i]!));
  const shaped = b.op1('Reshape', [g0(a), b.constant(view, [view.length], 'int64')]);
  const axes = xd.map((_, i) => 2 * i + 1);
  return [b.op1('ReduceSum', [shaped, b.constant(axes, [axes.length], 'int64')], { keepdims: int(0) }), ...node.inputs.slice(1).map(() => undefined)];
}
RULES['Resize'] = upsampleRule;
RULES['Upsample'] = upsampleRule;
