/**
 * The operator contract of the importer: how a node's attributes are read and what an operator implementation
 * looks like.
 * @internal
 * @module
 */
import type * as tf from '../tf.js';
import { ModelLoadError, ShapeError, UnsupportedError } from '../errors.js';
import { oneLine, quote } from '../files.js';
import { DEFAULT_MAX_ELEMENTS } from '../model-options.js';
import type { Attribute, HostTensor, OnnxNode } from './proto.js';
import type { Value } from './value.js';

/** A node with typed attribute access and the opset it runs under. */
export class OpNode {
  /** `onnx: node 'NAME' (OpType, opset N)`, the prefix of every message about this node. */
  readonly where: string;
  /** Tensors derived once at load time from constant inputs by {@link OpDef.prepare} (owned by the executor). */
  readonly prepared = new Map<string, tf.Tensor>();

  /**
   * @param node - the decoded node.
   * @param opset - the default domain's opset.
   * @param maxElements - the largest output, in elements, that a shape-building operator (Range, ConstantOfShape,
   *   Expand, Tile, Pad, Gather) may create, checked before allocating; default {@link DEFAULT_MAX_ELEMENTS}.
   */
  constructor(
    readonly node: OnnxNode,
    readonly opset: number,
    readonly maxElements: number = DEFAULT_MAX_ELEMENTS,
  ) {
    this.where = `onnx: node ${quote(node.name)} (${oneLine(node.opType)}, opset ${opset})`;
  }

  /**
   * Checks, before anything is allocated, that `shape` is a list of non-negative integers with at most
   * {@link OpNode.maxElements} elements in all.
   * @throws {@link ShapeError} naming this node otherwise.
   */
  checkElements(shape: readonly number[], what = 'an output'): void {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      this.shapeError(`${what} shape of non-negative integers, got [${shape.slice(0, 8).join(', ')}]`);
    let n = 1;
    for (const d of shape) n *= d;
    if (n > this.maxElements) {
      this.shapeError(`${what} of at most ${this.maxElements} elements (the maxElements limit), got [${shape.slice(0, 8).join(', ')}] = ${n} elements`);
    }
  }

  private get(name: string): Attribute | undefined {
    return this.node.attributes.get(name);
  }

  /** Whether the attribute is present. */
  has(name: string): boolean {
    return this.node.attributes.has(name);
  }

  private wrong(name: string, expected: string, a: Attribute): never {
    throw new ModelLoadError(`${this.where}: expected attribute ${quote(name)} to be ${expected}, got ${a.kind}`);
  }

  /** An integer attribute. */
  int(name: string, def: number): number {
    const a = this.get(name);
    if (!a) return def;
    if (a.kind !== 'int') this.wrong(name, 'an int', a);
    return a.value;
  }

  /** A float attribute. */
  float(name: string, def: number): number {
    const a = this.get(name);
    if (!a) return def;
    if (a.kind === 'int') return a.value;
    if (a.kind !== 'float') this.wrong(name, 'a float', a);
    return a.value;
  }

  /** A string attribute. */
  str(name: string, def: string): string {
    const a = this.get(name);
    if (!a) return def;
    if (a.kind !== 'string') this.wrong(name, 'a string', a);
    return a.value;
  }

  /** A list-of-ints attribute, or `def` when absent. */
  ints(name: string): number[] | undefined;
  ints(name: string, def: number[]): number[];
  ints(name: string, def?: number[]): number[] | undefined {
    const a = this.get(name);
    if (!a) return def;
    if (a.kind === 'int') return [a.value];
    if (a.kind !== 'ints') this.wrong(name, 'a list of ints', a);
    return [...a.value];
  }

  /** A list-of-floats attribute, or `undefined` when absent. */
  floats(name: string): number[] | undefined {
    const a = this.get(name);
    if (!a) return undefined;
    if (a.kind === 'float') return [a.value];
    if (a.kind === 'ints') return [...a.value];
    if (a.kind !== 'floats') this.wrong(name, 'a list of floats', a);
    return [...a.value];
  }

  /** A tensor attribute. */
  tensor(name: string): HostTensor | undefined {
    const a = this.get(name);
    if (!a) return undefined;
    if (a.kind !== 'tensor') this.wrong(name, 'a tensor', a);
    return a.value;
  }

  /** Throws an {@link UnsupportedError} about this node. */
  unsupported(what: string): never {
    throw new UnsupportedError(`${this.where}: expected ${what}`);
  }

  /** Throws a {@link ShapeError} about this node. */
  shapeError(what: string): never {
    throw new ShapeError(`${this.where}: expected ${what}`);
  }

  /** The required input `i`. */
  input(inputs: readonly (Value | undefined)[], i: number): Value {
    const v = inputs[i];
    if (!v) throw new ModelLoadError(`${this.where}: expected input ${i} to be given, got none`);
    return v;
  }
}

/** One operator implementation. */
export interface OpDef {
  /** Oldest opset version this implementation follows (default 1). */
  readonly since?: number;
  /** Load-time validation of attributes (throws {@link UnsupportedError} for what is not implemented). */
  check?(n: OpNode): void;
  /** Computes the outputs; inputs are aligned with the node's inputs (undefined for omitted optional ones). */
  run(n: OpNode, inputs: readonly (Value | undefined)[]): readonly (Value | undefined)[];
  /**
   * Derives tensors from the node's constant inputs once at load time (a transposed weight matrix, a kernel in
   * the layout tfjs wants); `constants` holds the constant inputs, undefined elsewhere. Runs inside `tf.tidy`;
   * the returned tensors are kept, stored in {@link OpNode.prepared} and freed with the model.
   */
  prepare?(n: OpNode, constants: readonly (Value | undefined)[]): Record<string, tf.Tensor> | undefined;
  /** False for operators whose result must not be precomputed at load time even with constant inputs. */
  readonly foldable?: boolean;
}
