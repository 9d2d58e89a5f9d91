/**
 * The in-memory dataset every loader returns.
 * @module
 */
import type { Bounds, Layout } from '../model.js';

/**
 * A labelled batch of inputs held on the host (not as tensors), scaled into a model's bounds.
 * `images` is laid out sample after sample, each of `shape`.
 */
export interface Dataset {
  /** Inputs, `count × prod(shape)` float32 values inside the loader's target bounds. */
  readonly images: Float32Array;
  /** Shape of one input, without the batch dimension. */
  readonly shape: readonly number[];
  /** Integer class labels, one per input. */
  readonly labels: Int32Array;
  /** Number of inputs. */
  readonly count: number;
  /** SHA-256 (hex) of the bytes the inputs and labels were read from (after `limit`), for provenance. */
  readonly sha256: string;
  /** Where the data came from (a path or a description). */
  readonly source: string;
  /**
   * Class names in label order (`classNames[label]`), when known: an image folder's subfolder names, or the
   * `classNames` option of `loadData`. `evaluate` puts them in the report's per-class entries.
   */
  readonly classNames?: readonly string[];
}

/** Options every loader takes. */
export interface LoadOptions {
  /** Bounds to scale raw values into: uint8 data maps 0..255 linearly onto them. Default `[0, 1]`. */
  bounds?: Bounds;
  /** Keep only the first `limit` samples. Default: all. */
  limit?: number;
  /** Shape one input must have (e.g. the model's `inputShape`); reshaped when only a unit channel axis differs. Default: as stored. */
  inputShape?: readonly number[];
  /** Layout of `inputShape`, used to place the channel axis. Default: inferred from `inputShape`. */
  layout?: Layout;
}

/** One slice of a {@link DataSource}: inputs and labels of samples `[start, end)`, on the host. */
export interface DataBatch {
  /** Inputs, `(end − start) × prod(shape)` float32 values inside the source's bounds. */
  readonly images: Float32Array;
  /** Integer class labels, one per input. */
  readonly labels: Int32Array;
}

/**
 * A dataset read lazily, a slice at a time, so that evaluating it needs memory for one batch rather than for the
 * whole set: what the streaming loaders return for data too large to hold (ImageNet's validation set is 30 GB as
 * float32). Everything but the samples themselves is known up front.
 *
 * @example
 * ```ts
 * import type { DataSource } from 'robustest';
 * async function firstLabel(source: DataSource): Promise<number> {
 *   const batch = await source.read(0, 1);
 *   return batch.labels[0]!;
 * }
 * ```
 */
export interface DataSource {
  /** Number of samples. */
  readonly count: number;
  /** Shape of one input, without the batch dimension. */
  readonly shape: readonly number[];
  /** SHA-256 (hex) of the bytes the inputs and labels are read from (after `limit`), for provenance. */
  readonly sha256: string;
  /** Where the data comes from (a path or a description). */
  readonly source: string;
  /** Class names in label order, when known. */
  readonly classNames?: readonly string[];
  /**
   * Reads samples `[start, end)` (global indices, `0 ≤ start ≤ end ≤ count`). Reads in increasing order are the
   * fast path; any order is allowed. The caller owns the returned arrays.
   */
  read(start: number, end: number): Promise<DataBatch>;
  /** Releases open files. Reads after it fail. */
  close(): Promise<void>;
}
