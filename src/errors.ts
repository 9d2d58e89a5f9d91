/**
 * The error hierarchy of robustest.
 *
 * Every error the library throws on purpose is a {@link RobustestError}; its subclasses say what kind of
 * problem it is, and every message has the form `where: expected X, got Y`, so a user can fix the input
 * without reading the source.
 *
 * @example
 * ```ts
 * import { ShapeError } from 'robustest';
 * try { await attack.run(model, x, labels, { epsilons: [0.1] }); }
 * catch (e) { if (e instanceof ShapeError) console.error(e.message); }
 * ```
 * @module
 */

/**
 * Stable, machine-readable reasons that refine an error's class (its `code`, such as `E_UNSUPPORTED`): match on
 * {@link RobustestError.reason}, never on a message. Set only where the library needs to tell cases apart.
 * - `onnxruntime-missing`: the optional peer onnxruntime-node could not be imported (or is not the expected module).
 * - `unsupported-operator`: an ONNX operator the importer cannot run.
 * - `no-gradient-rule`: an ONNX operator on the gradient path that the onnxruntime gradient engine cannot differentiate.
 * - `external-data`: a model stores tensors as external data where that is not supported.
 * - `onnxruntime-failed`: onnxruntime-node loaded but refused or failed to run a graph.
 * - `redis-unreachable`: the work queue's Redis server did not answer.
 * - `bullmq-missing`: the optional dependency bullmq (or ioredis) could not be imported.
 * - `other-run`: a work queue holds another run's jobs or results.
 * - `fingerprint-mismatch`: a queue worker's model or data differs (SHA-256) from the run's.
 * - `jobs-failed`: a queued run has jobs that failed for good.
 *
 * @example
 * ```ts
 * import { ERROR_REASONS, UnsupportedError } from 'robustest';
 * try { await withOnnxRuntimeGradients(bytes); }
 * catch (e) { if (e instanceof UnsupportedError && e.reason === ERROR_REASONS.onnxruntimeMissing) console.log('npm install onnxruntime-node'); }
 * ```
 */
export const ERROR_REASONS = Object.freeze({
  /** onnxruntime-node could not be imported. */
  onnxruntimeMissing: 'onnxruntime-missing',
  /** An ONNX operator the importer cannot run. */
  unsupportedOperator: 'unsupported-operator',
  /** An ONNX operator on the gradient path without a gradient rule. */
  noGradientRule: 'no-gradient-rule',
  /** Tensors stored as external data where they are not supported. */
  externalData: 'external-data',
  /** onnxruntime-node refused or failed to run a graph. */
  onnxruntimeFailed: 'onnxruntime-failed',
  /** The work queue's Redis server did not answer. */
  redisUnreachable: 'redis-unreachable',
  /** bullmq or ioredis (optional dependencies) could not be imported. */
  bullmqMissing: 'bullmq-missing',
  /** A work queue holds another run's jobs or results. */
  otherRun: 'other-run',
  /** A queue worker's model or data differs (SHA-256) from the run's. */
  fingerprintMismatch: 'fingerprint-mismatch',
  /** A queued run has jobs that failed for good. */
  jobsFailed: 'jobs-failed',
} as const);

/**
 * One of {@link ERROR_REASONS}.
 * @example
 * ```ts
 * const reason: ErrorReason = 'onnxruntime-missing';
 * ```
 */
export type ErrorReason = (typeof ERROR_REASONS)[keyof typeof ERROR_REASONS];

/** Base class of every error robustest throws on purpose. `code` is stable and machine-readable. */
export class RobustestError extends Error {
  /** A stable, machine-readable code of the error's class, such as `E_SHAPE`. */
  readonly code: string;
  /** A stable, machine-readable refinement of `code` where callers need to tell cases apart (see {@link ERROR_REASONS}); absent otherwise. */
  readonly reason?: ErrorReason;
  /**
   * @param message - `where: expected X, got Y`.
   * @param code - stable machine-readable code; subclasses set their own.
   * @param reason - optional refinement, one of {@link ERROR_REASONS}.
   */
  constructor(message: string, code = 'E_ROBUSTEST', reason?: ErrorReason) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (reason !== undefined) this.reason = reason;
  }
}

/** An output file cannot be written: its folder is a file, it is a directory, or the file system refuses it. */
export class OutputError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_OUTPUT');
  }
}

/** An option or argument has an invalid value (a negative epsilon, zero steps, an unknown attack name). */
export class ConfigError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_CONFIG');
  }
}

/** A tensor or array has the wrong rank, shape or length (inputs vs. the model, labels vs. inputs). */
export class ShapeError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_SHAPE');
  }
}

/** Input values lie outside the model's declared bounds. */
export class BoundsError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_BOUNDS');
  }
}

/** Input values (or model outputs) contain NaN or ±Infinity. */
export class NonFiniteError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_NON_FINITE');
  }
}

/** A label or target lies outside `[0, numClasses)` or is not an integer. */
export class LabelError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_LABEL');
  }
}

/** A model file is missing, unreadable, corrupt, or not a format robustest understands. */
export class ModelLoadError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_MODEL_LOAD');
  }
}

/** A data file (IDX, npy, image folder) is missing, truncated or malformed. */
export class DataLoadError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_DATA_LOAD');
  }
}

/** A feature is not supported: an ONNX operator, a backend that cannot load, an attack/model combination. */
export class UnsupportedError extends RobustestError {
  /**
   * @param message - `where: expected X, got Y`.
   * @param reason - optional refinement, one of {@link ERROR_REASONS}.
   */
  constructor(message: string, reason?: ErrorReason) {
    super(message, 'E_UNSUPPORTED', reason);
  }
}

/** A tfjs backend could not be initialised. */
export class BackendError extends RobustestError {
  /**
   * @param message - `where: expected X, got Y`.
   * @param reason - optional refinement, one of {@link ERROR_REASONS}.
   */
  constructor(message: string, reason?: ErrorReason) {
    super(message, 'E_BACKEND', reason);
  }
}

/**
 * The work queue (`robustest eval --queue`, `worker`, `collect`) cannot go on: Redis unreachable, bullmq missing, a
 * queue holding another run, a worker whose model or data differs from the run's, jobs that failed for good, or
 * stored results that overlap. {@link RobustestError.reason} tells these apart.
 */
export class QueueError extends RobustestError {
  /**
   * @param message - `where: expected X, got Y`.
   * @param reason - optional refinement, one of {@link ERROR_REASONS}.
   */
  constructor(message: string, reason?: ErrorReason) {
    super(message, 'E_QUEUE', reason);
  }
}

/**
 * Saved per-point records cannot be used: a checkpoint, a shard's partial report or a stored part that is corrupt,
 * belongs to another run (configuration, model or data), or parts that overlap or leave points uncovered.
 */
export class RecordsError extends RobustestError {
  /** @param message - `where: expected X, got Y`. */
  constructor(message: string) {
    super(message, 'E_RECORDS');
  }
}

/** Formats a value for an error message: short, and unambiguous about its type. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (Array.isArray(value)) {
    const inner = value.slice(0, 8).map(describe).join(', ');
    return `[${inner}${value.length > 8 ? ', …' : ''}]`;
  }
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
  }
  return String(value);
}
