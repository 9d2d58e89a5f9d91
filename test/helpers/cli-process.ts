/**
 * The robustest CLI as separate OS processes, for tests that need real processes (queue workers killed with -9):
 * `bin/robustest.js` when dist/ is a build of the current sources (as after `npm ci`, whose `prepare` builds it),
 * else the sources through tsx (`test/queue/cli-entry.ts`), so a stale dist/ never tests old code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Whether dist/ holds an output at least as new as every source of the built folders. */
export function distIsCurrent(): boolean {
  return ['src', 'attacks', 'metrics', 'defenses'].every((folder) =>
    sources(join(ROOT, folder)).every((src) => {
      const out = join(ROOT, 'dist', src.slice(ROOT.length + 1).replace(/\.ts$/, '.js'));
      return existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;
    }),
  );
}

let how: { readonly args: readonly string[]; readonly label: string } | undefined;

/** Starts the CLI with `node ...args` from now on (a benchmark's own build, say). */
export function useCli(args: readonly string[], label: string): void {
  how = { args, label };
}

/** How the CLI is started here: node's arguments before the CLI's, and a label for test names. */
export function cliLaunch(): { readonly args: readonly string[]; readonly label: string } {
  how ??= distIsCurrent()
    ? { args: [join(ROOT, 'bin', 'robustest.js')], label: 'built CLI (bin/robustest.js)' }
    : { args: ['--import', 'tsx', join(ROOT, 'test', 'queue', 'cli-entry.ts')], label: 'CLI from the sources through tsx (dist/ is not current)' };
  return how;
}

/** A running CLI process with its output so far. */
export interface CliProcess {
  /** The process. */
  readonly child: ChildProcess;
  /** Its stdout so far. */
  readonly out: () => string;
  /** Its stderr so far. */
  readonly err: () => string;
  /** Resolves with the exit code (or the signal's name) when it exits. */
  readonly exited: Promise<number | string>;
  /** Resolves with the first stderr line matching `re` (rejects if the process exits first). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
}

/** Starts `robustest ARGS` in the repository root. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [...cliLaunch().args, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const m = w.re.exec(err);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    check();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of waiters.splice(0))
        w.reject(new Error(`robustest ${args.join(' ')} exited (${code ?? signal}) before printing ${w.re}: ${err.slice(-500)}`));
      resolve(code ?? signal ?? -1);
    }),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
        if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`robustest ${args.join(' ')} has exited`));
      }),
  };
}

/** Runs `robustest ARGS` to the end. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | string; out: string; err: string }> {
  const p = startCli(args, env);
  const code = await p.exited;
  return { code, out: p.out(), err: p.err() };
}
