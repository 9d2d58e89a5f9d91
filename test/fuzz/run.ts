// The long-run fuzz driver: `npm run fuzz -- --cases 10000 [--target tfjs,onnx,...] [--seed 1] [--timeout 20000] [--chunk 1000]`.
// Each target runs in child processes of --chunk cases each (a child's peak RSS bounds each of its cases'); the parent restarts a
// child that crashes or stops reporting progress (a hang), records the case it was on, and goes on after it.
// Prints one JSON summary per target and exits 1 if any case failed, hung or crashed.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fuzz, type Outcome, type Tally } from './harness.js';
import { TARGETS } from './targets/index.js';
import * as tf from '../../src/tf.js';

tf.env().set('PROD', true);

interface Args {
  cases: number;
  targets: string[];
  seed: number;
  timeout: number;
  child?: string;
  skip: number;
  /** Cases a child runs before it exits and a fresh one goes on (so that one case's peak RSS is not another's). */
  chunk: number;
}

function parse(argv: string[]): Args {
  const args: Args = { cases: 1000, targets: Object.keys(TARGETS), seed: 1, timeout: 20_000, skip: 0, chunk: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    const num = (): number => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`fuzz: expected ${k} to be a non-negative integer, got ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    if (k === '--cases') args.cases = num();
    else if (k === '--seed') args.seed = num();
    else if (k === '--timeout') args.timeout = num();
    else if (k === '--skip') args.skip = num();
    else if (k === '--chunk') args.chunk = Math.max(1, num());
    else if (k === '--child') {
      args.child = v ?? '';
      i++;
    } else if (k === '--target') {
      args.targets = (v ?? '').split(',');
      i++;
      for (const t of args.targets)
        if (!(t in TARGETS)) throw new Error(`fuzz: expected targets among ${Object.keys(TARGETS).join(', ')}, got ${JSON.stringify(t)}`);
    } else throw new Error(`fuzz: unknown argument ${JSON.stringify(k)}`);
  }
  return args;
}

/** Child: runs one target, reporting each case index before it runs and the tally at the end. */
async function child(args: Args): Promise<void> {
  const target = TARGETS[args.child!]!;
  await fuzz(target, {
    seed: args.seed,
    cases: args.cases,
    skip: args.skip,
    until: args.skip + args.chunk,
    timeoutMs: args.timeout,
    onCase: (i) => process.stdout.write(`case ${i}\n`),
    onOutcome: (i, outcome, ms, description) =>
      process.stdout.write(
        `out ${JSON.stringify({ i, outcome, ms: Math.round(ms), description, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
      ),
  });
  process.stdout.write('done\n');
  process.exit(0);
}

interface Summary extends Tally {
  target: string;
  seconds: number;
  maxRssMiB: number;
  restarts: number;
  /** The case during which the child's peak RSS grew most (the likeliest heaviest case), and by how much. */
  biggestRssJump: { index: number; fromMiB: number; toMiB: number; case: string };
  /** Set when the run was stopped (SIGTERM or SIGINT) before all its cases ran. */
  stoppedEarly?: boolean;
}

/** The target running now and its child, so that SIGTERM can print what was done. */
let running: { total: Summary; t0: number; kill: () => void } | undefined;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (running) {
      running.kill();
      running.total.stoppedEarly = true;
      running.total.seconds = Math.round((performance.now() - running.t0) / 1000);
      process.stdout.write(`${JSON.stringify(running.total)}\n`);
    }
    process.exit(2);
  });
}

async function runTarget(name: string, args: Args): Promise<Summary> {
  const t0 = performance.now();
  const total: Summary = {
    target: name,
    cases: 0,
    ok: 0,
    typed: {},
    failures: [],
    slowest: { index: -1, ms: 0, case: '' },
    seconds: 0,
    maxRssMiB: 0,
    restarts: 0,
    biggestRssJump: { index: -1, fromMiB: 0, toMiB: 0, case: '' },
  };
  let skip = 0;
  while (skip < args.cases) {
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--child',
        name,
        '--cases',
        String(args.cases),
        '--seed',
        String(args.seed),
        '--timeout',
        String(args.timeout),
        '--skip',
        String(skip),
        '--chunk',
        String(args.chunk),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    running = { total, t0, kill: () => proc.kill('SIGKILL') };
    let current = skip;
    let done = false;
    let previousRss = 0;
    let buffered = '';
    let started = false;
    let last = performance.now();
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        last = performance.now();
        if (line.startsWith('case ')) {
          current = Number(line.slice(5));
          started = true;
        } else if (line === 'done') done = true;
        else if (line.startsWith('out ')) {
          const o = JSON.parse(line.slice(4)) as { i: number; outcome: Outcome; ms: number; description: string; maxRssMiB: number };
          total.cases++;
          if (o.outcome.kind === 'ok') total.ok++;
          else if (o.outcome.kind === 'typed') total.typed[o.outcome.code] = (total.typed[o.outcome.code] ?? 0) + 1;
          else total.failures.push({ index: o.i, case: o.description, why: o.outcome.why });
          if (o.ms > total.slowest.ms) total.slowest = { index: o.i, ms: o.ms, case: o.description };
          if (previousRss > 0 && o.maxRssMiB - previousRss > total.biggestRssJump.toMiB - total.biggestRssJump.fromMiB) {
            total.biggestRssJump = { index: o.i, fromMiB: previousRss, toMiB: o.maxRssMiB, case: o.description };
          }
          previousRss = o.maxRssMiB;
          total.maxRssMiB = Math.max(total.maxRssMiB, o.maxRssMiB);
        }
      }
    });
    const watchdog = setInterval(() => {
      // A child gets three minutes to start (tsx, tfjs and sharp load slowly on a busy machine), then the case timeout + 30 s.
      if (performance.now() - last > (started ? args.timeout + 30_000 : 180_000)) proc.kill('SIGKILL');
    }, 1000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => proc.on('exit', (c, s) => res([c, s])));
    clearInterval(watchdog);
    if (done) {
      skip = Math.min(args.cases, skip + args.chunk);
      continue;
    }
    // The child died or hung on case `current`: count it as a failure and go on after it.
    total.cases++;
    total.failures.push({
      index: current,
      case: `(seed ${args.seed})`,
      why: signal === 'SIGKILL' ? 'hang: no progress, child killed' : `crash: exit ${code} ${signal ?? ''}`,
    });
    total.restarts++;
    skip = current + 1;
  }
  total.seconds = Math.round((performance.now() - t0) / 1000);
  return total;
}

const args = parse(process.argv.slice(2));
if (args.child) await child(args);
else {
  let failed = false;
  for (const name of args.targets) {
    const s = await runTarget(name, args);
    failed ||= s.failures.length > 0;
    process.stdout.write(`${JSON.stringify(s)}\n`);
  }
  process.exit(failed ? 1 : 0);
}
