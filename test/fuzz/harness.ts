// The fuzz harness shared by the vitest suites (fixed seed, a few hundred cases) and the long-run driver
// (test/fuzz/run.ts): a target turns a generated case into files in a fresh folder and calls a loader; every
// outcome must be a success or a one-line RobustestError, within a time budget, and no file outside the case's
// folder may be opened, read or stat'ed (a canary beside the folder, which hostile references point at, shows it).
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { RobustestError } from '../../src/errors.js';
import { recordAccesses, type Access } from './fs-spy.js';

/** Where a case runs. */
export interface FuzzContext {
  /** The case's own folder (empty at the start); the loader is given it or a file in it. */
  readonly dir: string;
  /** A file outside `dir` that hostile references (`../canary.bin`, symlinks, absolute paths) point at. */
  readonly canary: string;
}

/** A loader under fuzz. */
export interface FuzzTarget<C> {
  readonly name: string;
  /** Generates cases. */
  readonly arbitrary: fc.Arbitrary<C>;
  /** Writes the case's files into `ctx.dir` (outside the recorded window). */
  prepare(c: C, ctx: FuzzContext): Promise<void> | void;
  /** Calls the loader (and, on success, uses and disposes the result); the recorded window. */
  run(c: C, ctx: FuzzContext): Promise<void>;
  /** A short description of the case for failure reports. */
  describe(c: C): string;
}

/** What one case did. */
export type Outcome = { kind: 'ok' } | { kind: 'typed'; code: string } | { kind: 'failure'; why: string };

/** A temporary root holding the canary and one folder per case. */
export class FuzzRoot {
  readonly root: string;
  readonly canary: string;
  private n = 0;

  constructor() {
    this.root = realpathSync(mkdtempSync(join(tmpdir(), 'robustest-fuzz-')));
    this.canary = join(this.root, 'canary.bin');
    // Bytes that parse as weights, IDX or npy data alike would still never be read: the canary is checked by path.
    writeFileSync(this.canary, new Uint8Array(4096).fill(7));
  }

  /** A fresh, empty case folder. */
  caseDir(): string {
    const dir = join(this.root, `case-${this.n++}`);
    mkdirSync(dir);
    return dir;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function insideOrEqual(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** The accesses that left the case folder (within the fuzz root; library files elsewhere are not the loader's input). */
export function escapes(accesses: readonly Access[], root: FuzzRoot, dir: string): Access[] {
  return accesses.filter((a) => {
    let real = a.path;
    try {
      real = realpathSync(a.path);
    } catch {
      // a path that does not exist was not read
    }
    const underRoot = insideOrEqual(root.root, a.path) || insideOrEqual(root.root, real);
    if (!underRoot) return false;
    if (a.path === root.canary || real === root.canary) return true;
    return !insideOrEqual(dir, a.path) || (!insideOrEqual(dir, real) && a.kind !== 'stat');
  });
}

/** Runs one case: prepare, run within `timeoutMs`, classify. Never throws. */
export async function runCase<C>(target: FuzzTarget<C>, c: C, root: FuzzRoot, timeoutMs = 20_000): Promise<Outcome> {
  const dir = root.caseDir();
  const ctx: FuzzContext = { dir, canary: root.canary };
  try {
    await target.prepare(c, ctx);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HangError(`no outcome within ${timeoutMs} ms`)), timeoutMs);
    });
    const rssBefore = process.resourceUsage().maxRSS;
    const { result, accesses } = await recordAccesses(() => Promise.race([target.run(c, ctx), timeout]));
    clearTimeout(timer);
    const rssAfter = process.resourceUsage().maxRSS;
    // maxRSS only grows: a case that raises the process's peak above the budget is the one that needed it.
    if (rssAfter > rssBefore && rssAfter > MAX_RSS_KIB) return { kind: 'failure', why: `memory: peak RSS rose to ${Math.round(rssAfter / 1024)} MiB` };
    const out = escapes(accesses, root, dir);
    if (out.length > 0) return { kind: 'failure', why: `read outside the folder: ${out.map((a) => `${a.kind} ${a.path}`).join(', ')}` };
    if (result.status === 'fulfilled') return { kind: 'ok' };
    const e = result.reason as unknown;
    if (e instanceof HangError) return { kind: 'failure', why: `hang: ${e.message}` };
    if (!(e instanceof RobustestError)) {
      const name = e instanceof Error ? e.constructor.name : typeof e;
      return { kind: 'failure', why: `untyped ${name}: ${String(e instanceof Error ? e.message : e).slice(0, 400)}` };
    }
    if (/[\n\r]/.test(e.message)) return { kind: 'failure', why: `multi-line ${e.name}: ${JSON.stringify(e.message.slice(0, 400))}` };
    return { kind: 'typed', code: e.code };
  } catch (e) {
    return { kind: 'failure', why: `harness: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

class HangError extends Error {}

/** The memory budget: a case may not raise the process's peak RSS above it. 1 GiB unless ROBUSTEST_FUZZ_MAX_RSS_MIB says. */
const MAX_RSS_KIB = Number(process.env['ROBUSTEST_FUZZ_MAX_RSS_MIB'] ?? 1024) * 1024;

/** Tally of a run. */
export interface Tally {
  cases: number;
  ok: number;
  typed: Record<string, number>;
  failures: { index: number; case: string; why: string }[];
  /** The slowest case. */
  slowest: { index: number; ms: number; case: string };
}

/** Runs `cases` generated cases of `target` from `seed`, in order; `onCase` sees each index before it runs. */
export async function fuzz<C>(
  target: FuzzTarget<C>,
  options: {
    seed: number;
    cases: number;
    skip?: number;
    /** Stop before this index. Default: `cases`. */
    until?: number;
    timeoutMs?: number;
    onCase?: (i: number) => void;
    onOutcome?: (i: number, outcome: Outcome, ms: number, description: string) => void;
  },
): Promise<Tally> {
  const root = new FuzzRoot();
  const tally: Tally = { cases: 0, ok: 0, typed: {}, failures: [], slowest: { index: -1, ms: 0, case: '' } };
  try {
    const cases = fc.sample(target.arbitrary, { seed: options.seed, numRuns: options.cases });
    for (let i = options.skip ?? 0; i < Math.min(cases.length, options.until ?? cases.length); i++) {
      options.onCase?.(i);
      const c = cases[i]!;
      const t0 = performance.now();
      const outcome = await runCase(target, c, root, options.timeoutMs);
      const ms = performance.now() - t0;
      if (ms > tally.slowest.ms) tally.slowest = { index: i, ms: Math.round(ms), case: target.describe(c) };
      options.onOutcome?.(i, outcome, ms, target.describe(c));
      tally.cases++;
      if (outcome.kind === 'ok') tally.ok++;
      else if (outcome.kind === 'typed') tally.typed[outcome.code] = (tally.typed[outcome.code] ?? 0) + 1;
      else tally.failures.push({ index: i, case: target.describe(c), why: outcome.why });
    }
  } finally {
    root.dispose();
  }
  return tally;
}
