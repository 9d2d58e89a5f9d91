/**
 * `robustest certify`: randomized-smoothing certification (Cohen et al. 2019) of a model on data (the bundled MNIST
 * demo by default): per input the smoothed prediction or abstention and the certified L2 radius, and certified
 * accuracy at a list of radii, printed and optionally written as JSON.
 * @internal
 * @module
 */
import type { Command } from 'commander';
import { checkOutputPath, writeFileAtomic } from '../write.js';
import { libraryVersion } from '../package-info.js';
import { certifiedAccuracy, certify, type CertifiedAccuracy, type CertifyResult } from '../../defenses/index.js';
import { modelProvenance } from '../../metrics/evaluate.js';
import type { Provenance } from '../report.js';
import { integer, numberList, positive, type CliIO, type CommandContext } from './common.js';
import { wholeData, addRunOptions, setupRun, type RunFlags } from './run-setup.js';

/** Parsed `robustest certify` options. */
export interface CertifyFlags extends RunFlags {
  sigma: number;
  n0: number;
  n: number;
  alpha: number;
  radii: number[];
  json?: string;
  verbose?: boolean;
}

/** The JSON that `robustest certify --json` writes. */
export interface CertificationReport {
  /** Always `robustest-certification`. */
  readonly kind: 'robustest-certification';
  /** Library, backend, seed, command line, model and data. */
  readonly provenance: {
    readonly library: string;
    readonly backend: string;
    readonly seed: number;
    readonly command: string;
    readonly model: Provenance['model'];
    readonly data: { readonly source: string; readonly sha256: string; readonly count: number };
  };
  /** σ, n0, n, α, draws per forward pass, seed. */
  readonly config: CertifyResult['config'];
  /** Certified accuracy at each radius (radius 0: the smoothed classifier's accuracy). */
  readonly certifiedAccuracy: readonly CertifiedAccuracy[];
  /** Fraction of inputs on which the smoothed classifier abstained. */
  readonly abstainRate: number;
  /** Wall-clock seconds of the certification, and inputs certified per second. */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** Per input: its label and its certificate. */
  readonly certificates: readonly { label: number; prediction: number; radius: number; pALower: number; count: number }[];
}

/** Adds `certify` to the program. */
export function registerCertify(program: Command, context: CommandContext): void {
  addRunOptions(
    program
      .command('certify')
      .description(
        'Certify a model with randomized smoothing (Cohen et al. 2019): per input the smoothed prediction (or abstain) and ' +
          'its certified L2 radius, and certified accuracy at --radii. The attack options do not apply. With no --model/--data it certifies the bundled MNIST demo.',
      ),
  )
    .requiredOption('--sigma <s>', 'standard deviation of the Gaussian noise, in input units', positive('--sigma'))
    .option('--n0 <n>', 'noisy draws that select the class', integer('--n0', 1, 10_000_000), 100)
    .option('--n <n>', 'noisy draws that estimate its probability (Cohen et al.: 100,000)', integer('--n', 1, 10_000_000), 10_000)
    .option('--alpha <a>', 'probability that a certificate is wrong, in (0, 1)', Number, 0.001)
    .option('--radii <list>', 'radii at which to report certified accuracy', numberList('--radii', 0), [0, 0.25, 0.5, 0.75, 1])
    .option('--json <file>', 'write the certification report (JSON) here')
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .action(async (_flags: CertifyFlags, command: Command) => {
      const flags = command.opts<CertifyFlags>();
      context.setVerbose(Boolean(flags.verbose));
      context.setExitCode(await runCertify(flags, context.io, context.argv));
    });
}

async function runCertify(flags: CertifyFlags, io: CliIO, argv: readonly string[]): Promise<number> {
  if (flags.json !== undefined) await checkOutputPath(flags.json, '--json');
  const say = (s: string): void => {
    if (!flags.quiet) io.stdout(s);
  };
  const run = await setupRun(flags, io, argv);
  try {
    // Certification holds its samples whole (it reads each n times); a streamed set is read here.
    const data = await wholeData(run.data);
    const total = data.count;
    const result = await certify(run.model, data, {
      sigma: flags.sigma,
      n0: flags.n0,
      n: flags.n,
      alpha: flags.alpha,
      batchSize: flags.batchSize,
      seed: flags.seed,
      ...(io.isTTY && !flags.quiet ? { onProgress: (done: number) => io.stderr(`\rcertify ${done}/${total}`) } : {}),
    });
    if (io.isTTY && !flags.quiet) io.stderr('\n');
    const curve = certifiedAccuracy(result, data.labels, flags.radii);
    const abstained = result.certificates.filter((c) => c.prediction < 0).length;
    const perSecond = total / Math.max(result.seconds, 1e-9);
    say(
      [
        `robustest certify: ${run.model.name} (${run.model.engine})`,
        `${total} samples · backend ${run.backend} · σ = ${flags.sigma} · n0 = ${flags.n0} · n = ${flags.n} · α = ${flags.alpha} · seed ${flags.seed} · ${result.seconds.toFixed(2)} s (${perSecond.toFixed(2)} samples/s)`,
        `abstained: ${((100 * abstained) / total).toFixed(1)}% (${abstained}/${total})`,
        '',
        '  L2 radius  certified acc.',
        ...curve.map((c) => `  ${String(c.radius).padStart(9)}  ${`${(100 * c.accuracy).toFixed(1)}%`.padStart(14)}`),
        '',
      ].join('\n'),
    );
    if (flags.json !== undefined) {
      const report: CertificationReport = {
        kind: 'robustest-certification',
        provenance: {
          library: `robustest ${libraryVersion()}`,
          backend: run.backend,
          seed: flags.seed,
          command: ['robustest', ...argv].join(' '),
          model: await modelProvenance(run.model, run.options.modelSource),
          data: { source: data.source, sha256: data.sha256, count: total },
        },
        config: result.config,
        certifiedAccuracy: curve,
        abstainRate: abstained / total,
        seconds: result.seconds,
        samplesPerSecond: perSecond,
        certificates: result.certificates.map((c, i) => ({ label: data.labels[i]!, ...c })),
      };
      await writeFileAtomic(flags.json, JSON.stringify(report, null, 2) + '\n');
      say(`JSON report: ${flags.json}\n`);
    }
    return 0;
  } finally {
    run.dispose();
  }
}
