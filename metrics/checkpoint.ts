/**
 * Checkpoints: an evaluation's finished chunks of per-point records, appended durably to one file so that a run
 * killed at any moment (kill -9, a lost machine) resumes from its last complete chunk.
 *
 * The file is JSON lines: line 1 is a header `{ kind: 'robustest-checkpoint', format, header }` holding the run's
 * full identity ({@link RunHeader}: configuration, model and data SHA-256, environment), written atomically (temporary
 * file, fsync, rename); every further line is one {@link EvaluationPart}, appended and fsynced before the next
 * chunk starts. On reopening, a last line cut short by a crash (no final newline) is dropped and the file truncated
 * to its last complete line; a header that does not parse, or a complete line that does not, is refused; a header
 * of another run is refused with the differences (`restart` starts over).
 * @module
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordsError, describe } from '../src/errors.js';
import { writeFileAtomic } from '../src/write.js';
import { decodePart, headerDifferences, PARTS_FORMAT, type EvaluationPart, type RangeState, type RunHeader } from './part-data.js';

/** The checkpoint file's name in its folder (a shard's is `checkpoint-shard-I-of-N.jsonl`). */
export const CHECKPOINT_FILE = 'checkpoint.jsonl';

/** The first line of a checkpoint file. */
export interface CheckpointHeaderLine {
  /** Always `robustest-checkpoint`. */
  readonly kind: 'robustest-checkpoint';
  /** The parts format. */
  readonly format: number;
  /** The run. */
  readonly header: RunHeader;
}

/** An open checkpoint: the records it already held, and a way to append more. */
export interface Checkpoint {
  /** The file. */
  readonly path: string;
  /** The records of the chunks it held when opened (decoded, checked against the run). */
  readonly parts: readonly RangeState[];
  /** Appends one chunk's records durably (write, then fsync). */
  append(part: EvaluationPart): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

/** The contents of a checkpoint file as read. */
export interface CheckpointContents {
  /** The run the file belongs to. */
  readonly header: RunHeader;
  /** The parts of its complete lines, parsed (not yet checked against a run). */
  readonly parts: readonly unknown[];
  /** Byte length of the complete lines (where a cut-short last line starts). */
  readonly validBytes: number;
  /** Whether the last line was cut short. */
  readonly truncated: boolean;
}

/**
 * Reads a checkpoint file: its header and the parts of its complete lines.
 *
 * @param path - the file.
 * @returns its contents.
 * @throws {@link RecordsError} when the header is missing or corrupt, or a complete line is not JSON.
 */
export async function readCheckpoint(path: string): Promise<CheckpointContents> {
  const bytes = await readFile(path);
  const lastNewline = bytes.lastIndexOf(0x0a);
  const validBytes = lastNewline + 1;
  const lines = bytes.subarray(0, validBytes).toString('utf8').split('\n').slice(0, -1);
  const where = (i: number): string => `checkpoint ${JSON.stringify(path)} line ${i + 1}`;
  const parse = (line: string, i: number): unknown => {
    try {
      return JSON.parse(line) as unknown;
    } catch {
      throw new RecordsError(`${where(i)}: expected JSON, got ${describe(line.slice(0, 40))} (a corrupt checkpoint: remove it or pass --restart)`);
    }
  };
  if (lines.length === 0) throw new RecordsError(`${where(0)}: expected a robustest checkpoint header, got an empty file (pass --restart to start over)`);
  let head: CheckpointHeaderLine;
  try {
    head = JSON.parse(lines[0]!) as CheckpointHeaderLine;
  } catch {
    throw new RecordsError(`${where(0)}: expected a robustest checkpoint header, got a corrupt line (pass --restart to start over)`);
  }
  const h = head?.header;
  if (
    !head ||
    head.kind !== 'robustest-checkpoint' ||
    head.format !== PARTS_FORMAT ||
    !h ||
    h.kind !== 'robustest-run' ||
    typeof h.runId !== 'string' ||
    !h.config ||
    !h.model ||
    !h.data ||
    !h.environment
  ) {
    throw new RecordsError(
      `${where(0)}: expected a robustest checkpoint header of format ${PARTS_FORMAT}, got ${describe(head)} (pass --restart to start over)`,
    );
  }
  return { header: h, parts: lines.slice(1).map((l, i) => parse(l, i + 1)), validBytes, truncated: validBytes < bytes.length };
}

/**
 * Opens the checkpoint of a run in `dir`: creates it (header only) when absent or when `restart` is set, else reads
 * it, checks that it belongs to the same run, drops a cut-short last line, and returns the chunks it holds.
 *
 * @param dir - the checkpoint folder (created if missing).
 * @param header - the run.
 * @param options - `restart`: start over, replacing any checkpoint (default `false`); `file`: the file name in `dir`
 *   (default {@link CHECKPOINT_FILE}).
 * @returns the open checkpoint; the caller closes it.
 * @throws {@link RecordsError} for a corrupt checkpoint or one of another run; `OutputError` when it cannot be written.
 * @example
 * ```ts
 * import { runHeader } from 'robustest/metrics';
 * const header = await runHeader(model, data, { attacks: [fgsm()], epsilons: [0.1] });
 * const checkpoint = await openCheckpoint('runs/cnn', header);
 * console.log(`${checkpoint.parts.length} chunks already done`);
 * await checkpoint.close();
 * ```
 */
export async function openCheckpoint(dir: string, header: RunHeader, options: { restart?: boolean; file?: string } = {}): Promise<Checkpoint> {
  const path = join(dir, options.file ?? CHECKPOINT_FILE);
  const exists = await readFile(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw new RecordsError(`checkpoint ${JSON.stringify(path)}: expected a readable file, got ${e.code ?? e.message}`);
    },
  );
  let parts: RangeState[] = [];
  if (!exists || options.restart) {
    const line: CheckpointHeaderLine = { kind: 'robustest-checkpoint', format: PARTS_FORMAT, header };
    await writeFileAtomic(path, JSON.stringify(line) + '\n');
  } else {
    const contents = await readCheckpoint(path);
    if (contents.header.runId !== header.runId) {
      const diff = headerDifferences(contents.header, header);
      throw new RecordsError(
        `checkpoint ${JSON.stringify(path)}: expected a checkpoint of this run, got one of another run (${diff.join(', ')}); pass --restart (restart: true) to start over`,
      );
    }
    parts = contents.parts.map((p, i) => decodePart(p, header, `checkpoint ${JSON.stringify(path)} line ${i + 2}`));
    if (contents.truncated) {
      const h = await open(path, 'r+');
      try {
        await h.truncate(contents.validBytes);
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  let handle: FileHandle | undefined = await open(path, 'a');
  return {
    path,
    parts,
    append: async (part) => {
      if (!handle) throw new RecordsError(`checkpoint ${JSON.stringify(path)}: expected an open checkpoint, got a closed one`);
      await handle.write(JSON.stringify(part) + '\n');
      await handle.sync();
    },
    close: async () => {
      const h = handle;
      handle = undefined;
      await h?.close();
    },
  };
}
