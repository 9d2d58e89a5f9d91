/**
 * The work queue: elastic workers on BullMQ and Redis (`robustest eval --queue`, `robustest worker`,
 * `robustest collect`). bullmq and ioredis are optional dependencies, imported only when a queue is used.
 * @module
 */
export { parseQueueUrl, type QueueAddress } from './url.js';
export {
  checkParts,
  chunkRanges,
  jobId,
  parseManifest,
  rangeField,
  runKeys,
  short,
  type IndexRange,
  type JobData,
  type Json,
  type RunManifest,
  type StoredPart,
} from './protocol.js';
export {
  checkQueue,
  clearRun,
  enqueueRun,
  runProgress,
  runWorker,
  waitForRun,
  type CollectedRun,
  type ConnectOptions,
  type EnqueueOptions,
  type EnqueueSummary,
  type RangeExecutor,
  type RunProgress,
  type WaitOptions,
  type WorkerEvent,
  type WorkerOptions,
  type WorkerSummary,
} from './queue.js';
