/**
 * Gradient rules of element-wise operators (activations, arithmetic with broadcasting, Where, Cast, Max/Min/Mean), mirroring `ops/elementwise.ts`.
 * @internal
 * @module
 */
import { g0, where, type Rule, type RuleArgs } from './builder.js';

/** Vector–Jacobian products of this family, by ONNX operator. */
export const elementwiseRules: Record<string, Rule> = {};
const RULES = elementwiseRules;

function identity(a: RuleArgs): (string | undefined)[] {
  return [g0(a)];
}
for (const op of ['Identity', 'Dropout']) RULES[op] = identity;

RULES['Cast'] = (a) => {
  const to = a.n.int('to', 1);
  if (to !== 1) a.n.unsupported('a Cast to float32 on the gradient path');
  return [g0(a)];
};

RULES['Relu'] = (a) => {
  const { b, node } = a;
  const mask = b.save(b.fwdOp('Greater', [node.outputs[0]!, b.fwdScalar(0)])[0]!);
  return [where(b, mask, g0(a))];
};

RULES['LeakyRelu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 0.01);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  return [b.op1('Where', [mask, g, b.op1('Mul', [g, b.constant([alpha], [])])])];
};

RULES['PRelu'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('a constant slope');
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const scaled = b.unbroadcast(b.op1('Mul', [g, b.ref(node.inputs[1]!)]), node.outputs[0]!, node.outputs[0]!, a.where);
  return [b.op1('Where', [mask, g, scaled])];
};

RULES['Clip'] = (a) => {
  const { b, node } = a;
  if (b.opset >= 11 && (a.active[1] || a.active[2])) a.n.unsupported('constant bounds');
  // tfjs's clipByValue passes the gradient where lo <= x <= hi, i.e. exactly where clip(x) == x: one comparison.
  const mask = b.save(b.fwdOp('Equal', [node.inputs[0]!, node.outputs[0]!])[0]!);
  return [where(b, mask, g0(a)), undefined, undefined];
};

RULES['Sigmoid'] = (a) => {
  const { b, node } = a;
  const y = b.ref(node.outputs[0]!);
  return [b.op1('Mul', [g0(a), b.op1('Mul', [y, b.op1('Sub', [b.constant([1], []), y])])])];
};

RULES['Tanh'] = (a) => {
  const { b, node } = a;
  const y = b.ref(node.outputs[0]!);
  return [b.op1('Mul', [g0(a), b.op1('Sub', [b.constant([1], []), b.op1('Mul', [y, y])])])];
};

RULES['Exp'] = (a) => [a.b.op1('Mul', [g0(a), a.b.ref(a.node.outputs[0]!)])];
RULES['Log'] = (a) => [a.b.op1('Div', [g0(a), a.b.ref(a.node.inputs[0]!)])];
RULES['Sqrt'] = (a) => [a.b.op1('Div', [g0(a), a.b.op1('Mul', [a.b.ref(a.node.outputs[0]!), a.b.constant([2], [])])])];
RULES['Neg'] = (a) => [a.b.op1('Neg', [g0(a)])];
RULES['Abs'] = (a) => [a.b.op1('Mul', [g0(a), a.b.op1('Sign', [a.b.ref(a.node.inputs[0]!)])])];
RULES['Reciprocal'] = (a) => {
  const y = a.b.ref(a.node.outputs[0]!);
  return [a.b.op1('Neg', [a.b.op1('Mul', [g0(a), a.b.op1('Mul', [y, y])])])];
};
RULES['Softplus'] = (a) => [a.b.op1('Mul', [g0(a), a.b.op1('Sigmoid', [a.b.ref(a.node.inputs[0]!)])])];
RULES['Erf'] = (a) => {
  const { b } = a;
  const x = b.ref(a.node.inputs[0]!);
  const e = b.op1('Exp', [b.op1('Neg', [b.op1('Mul', [x, x])])]);
  return [b.op1('Mul', [g0(a), b.op1('Mul', [e, b.constant([2 / Math.sqrt(Math.PI)], [])])])];
};
RULES['Elu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Add', [b.ref(node.outputs[0]!), b.constant([alpha], [])])]);
  return [b.op1('Where', [mask, g, neg])];
};
RULES['HardSigmoid'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 0.2);
  const beta = a.n.float('beta', 0.5);
  const x = node.inputs[0]!;
  const lin = b.fwdOp('Add', [b.fwdOp('Mul', [x, b.fwdScalar(alpha)])[0]!, b.fwdScalar(beta)])[0]!;
  const mask = b.fwdOp('And', [b.fwdOp('Greater', [lin, b.fwdScalar(0)])[0]!, b.fwdOp('Less', [lin, b.fwdScalar(1)])[0]!])[0]!;
  return [where(b, b.save(mask), b.op1('Mul', [g0(a), b.constant([alpha], [])]))];
};
RULES['Pow'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('a constant exponent');
  const x = b.ref(node.inputs[0]!);
  const p = b.ref(node.inputs[1]!);
  const d = b.op1('Mul', [p, b.op1('Pow', [x, b.op1('Sub', [p, b.constant([1], [])])])]);
  return [b.unbroadcast(b.op1('Mul', [g0(a), d]), node.outputs[0]!, node.inputs[0]!, a.where)];
};

RULES['Add'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  return node.inputs.map((i, k) => (a.active[k] ? b.unbroadcast(g, node.outputs[0]!, i, a.where) : undefined));
};
RULES['Sum'] = RULES['Add'];
RULES['Sub'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  return [
    a.active[0] ? b.unbroadcast(g, node.outputs[0]!, node.inputs[0]!, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Neg', [g]), node.outputs[0]!, node.inputs[1]!, a.where) : undefined,
  ];
};
RULES['Mul'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const [x, y] = node.inputs as [string, string];
  return [
    a.active[0] ? b.unbroadcast(b.op1('Mul', [g, b.ref(y)]), node.outputs[0]!, x, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Mul', [g, b.ref(x)]), node.outputs[0]!, y, a.where) : undefined,
  ];
};
RULES['Div'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const [x, y] = node.inputs as [string, string];
  return [
    a.active[0] ? b.unbroadcast(b.op1('Div', [g, b.ref(y)]), node.outputs[0]!, x, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Neg', [b.op1('Div', [b.op1('Mul', [g, b.ref(node.outputs[0]!)]), b.ref(y)])]), node.outputs[0]!, y, a.where) : undefined,
  ];
};
RULES['Where'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const cond = b.ref(node.inputs[0]!);
  const zero = b.constant([0], []);
  return [
    undefined,
    a.active[1] ? b.unbroadcast(b.op1('Where', [cond, g, zero]), node.outputs[0]!, node.inputs[1]!, a.where) : undefined,
    a.active[2] ? b.unbroadcast(b.op1('Where', [cond, zero, g]), node.outputs[0]!, node.inputs[2]!, a.where) : undefined,
  ];
};
RULES['Expand'] = (a) => [a.b.unbroadcast(g0(a), a.node.outputs[0]!, a.node.inputs[0]!, a.where)];

RULES['Selu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1.67326319217681884765625);
  const gamma = a.n.float('gamma', 1.05070102214813232421875);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Add', [b.ref(node.outputs[0]!), b.constant([alpha * gamma], [])])]);
  return [b.op1('Where', [mask, b.op1('Mul', [g, b.constant([gamma], [])]), neg])];
};
RULES['Celu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1);
  const x = node.inputs[0]!;
  const mask = b.save(b.fwdOp('Greater', [x, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Exp', [b.op1('Div', [b.ref(x), b.constant([alpha], [])])])]);
  return [b.op1('Where', [mask, g, neg])];
};
RULES['ThresholdedRelu'] = (a) => {
  const { b, node } = a;
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(a.n.float('alpha', 1))])[0]!);
  return [where(b, mask, g0(a))];
};
RULES['Softsign'] = (a) => {
  const { b } = a;
  const d = b.op1('Add', [b.constant([1], []), b.op1('Abs', [b.ref(a.node.inputs[0]!)])]);
  return [b.op1('Div', [g0(a), b.op1('Mul', [d, d])])];
};
RULES['HardSwish'] = (a) => {
  // y = x·clip(x/6 + 1/2, 0, 1): slope 0 below −3, 1 above 3, (2x + 3)/6 between.
  const { b, node } = a;
  const x = node.inputs[0]!;
  const hi = b.save(b.fwdOp('Greater', [x, b.fwdScalar(3)])[0]!);
  const mid = b.save(b.fwdOp('Not', [b.fwdOp('Less', [x, b.fwdScalar(-3)])[0]!])[0]!);
  const g = g0(a);
  const slope = b.op1('Add', [b.op1('Mul', [b.ref(x), b.constant([1 / 3], [])]), b.constant([0.5], [])]);
  const inner = b.op1('Where', [hi, g, b.op1('Mul', [g, slope])]);
  return [where(b, mid, inner)];
};
RULES['Gelu'] = (a) => {
  const { b, node } = a;
  const x = b.ref(node.inputs[0]!);
  const g = g0(a);
  if (a.n.str('approximate', 'none') === 'tanh') {
    // y = x/2·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³): y' = (1 + t)/2 + x/2·(1 − t²)·√(2/π)(1 + 3·0.044715x²).
    const c = Math.sqrt(2 / Math.PI);
    const x2 = b.op1('Mul', [x, x]);
    const u = b.op1('Mul', [b.op1('Mul', [x, b.op1('Add', [b.constant([1], []), b.op1('Mul', [x2, b.constant([0.044715], [])])])]), b.constant([c], [])]);
    const t = b.op1('Tanh', [u]);
    const du = b.op1('Mul', [b.op1('Add', [b.constant([1], []), b.op1('Mul', [x2, b.constant([3 * 0.044715], [])])]), b.constant([c], [])]);
    const left = b.op1('Mul', [b.op1('Add', [b.constant([1], []), t]), b.constant([0.5], [])]);
    const right = b.op1('Mul', [b.op1('Mul', [b.op1('Mul', [x, b.constant([0.5], [])]), b.op1('Sub', [b.constant([1], []), b.op1('Mul', [t, t])])]), du]);
    return [b.op1('Mul', [g, b.op1('Add', [left, right])])];
  }
  // y = x·Φ(x): y' = Φ(x) + x·φ(x).
  const cdf = b.op1('Mul', [b.op1('Add', [b.constant([1], []), b.op1('Erf', [b.op1('Mul', [x, b.constant([Math.SQRT1_2], [])])])]), b.constant([0.5], [])]);
  const pdf = b.op1('Mul', [b.op1('Exp', [b.op1('Mul', [b.op1('Mul', [x, x]), b.constant([-0.5], [])])]), b.constant([1 / Math.sqrt(2 * Math.PI)], [])]);
  return [b.op1('Mul', [g, b.op1('Add', [cdf, b.op1('Mul', [x, pdf])])])];
};

/** Max/Min of several inputs: the gradient goes to the first input that attains the result (tfjs's tie rule). */
function extremumRule(a: RuleArgs): (string | undefined)[] {
  const { b, node } = a;
  const y = node.outputs[0]!;
  const g = g0(a);
  let taken: string | undefined;
  return node.inputs.map((x, k) => {
    const eq = b.fwdOp('Equal', [x, y])[0]!;
    const mask = taken ? b.fwdOp('And', [eq, b.fwdOp('Not', [taken])[0]!])[0]! : eq;
    taken = taken ? b.fwdOp('Or', [taken, eq])[0]! : eq;
    if (!a.active[k]) return undefined;
    return b.unbroadcast(where(b, b.save(mask), g), y, x, a.where);
  });
}
RULES['Max'] = extremumRule;
RULES['Min'] = extremumRule;
RULES['Mean'] = (a) => {
  const { b, node } = a;
  const g = b.op1('Mul', [g0(a), b.constant([1 / node.inputs.length], [])]);
  return node.inputs.map((x, k) => (a.active[k] ? b.unbroadcast(g, node.outputs[0]!, x, a.where) : undefined));
};
