/**
 * The `robustest` command line: one module per command under `src/cli/` (`eval.ts`, ...), each registering itself
 * on the program; this module parses the arguments and maps errors to exit codes.
 *
 * Exit codes: 0 success; 1 a robust accuracy fell below `--min-robust-accuracy`, or a severe pitfall check fired
 * with `--min-robust-accuracy` and without `--allow-warnings`; 2 a usage or input error (one
 * line on stderr; the stack with `--verbose`); 3 an unexpected internal error.
 * @module
 */
import { Command, CommanderError } from 'commander';
import { RobustestError } from '../errors.js';
import { libraryVersion } from '../package-info.js';
import { suggestOption, type CliIO, type CommandContext, type RegisterCommand } from './common.js';
import { registerEval } from './eval.js';
import { registerMerge } from './merge.js';
import { registerWorker } from './worker.js';
import { registerCollect } from './collect.js';
import { registerInit } from './init.js';
import { registerReport } from './report.js';
import { registerCompare } from './compare.js';
import { registerTrain } from './train.js';
import { registerCertify } from './certify.js';

export type { CliIO } from './common.js';
export { suggestOption } from './common.js';

/** Every command, in the order `--help` lists them. */
const COMMANDS: readonly RegisterCommand[] = [
  registerEval,
  registerMerge,
  registerReport,
  registerCompare,
  registerInit,
  registerWorker,
  registerCollect,
  registerTrain,
  registerCertify,
];

/**
 * A whole error message on one line, whatever it quotes: line breaks (a tfjs-layers message, a file name with a
 * newline) become spaces and other control characters are escaped, so stderr in CI holds exactly one line per error.
 * The CLI's last guard; the library quotes foreign names itself (`oneLine`/`quote` in src/files.ts).
 */
function messageOnOneLine(message: string): string {
  return (
    message
      .replace(/\s*[\r\n]+\s*/g, ' ')
      // eslint-disable-next-line no-control-regex -- control characters are exactly what this escapes
      .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .trim()
  );
}

function buildProgram(context: CommandContext): Command {
  const { io } = context;
  const program = new Command('robustest')
    .description('Adversarial-robustness testing for TensorFlow.js and ONNX classifiers.')
    .version(libraryVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showHelpAfterError(false)
    .showSuggestionAfterError(false); // commander suggests across commands (--epsilon → --version): main() suggests instead
  for (const register of COMMANDS) register(program, context);
  return program;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @param argv - arguments, e.g. `['eval', '--eps', '0.1']`.
 * @param io - output sinks and environment; defaults to the process's.
 * @returns 0 on success, 1 below `--min-robust-accuracy`, 2 on usage or input errors, 3 on internal errors.
 * @example
 * ```ts
 * const code = await main(['eval', '--limit', '100', '--json', 'report.json']);
 * ```
 */
export async function main(argv: readonly string[], io?: Partial<CliIO>): Promise<number> {
  const sinks: CliIO = {
    stdout: io?.stdout ?? ((s) => void process.stdout.write(s)),
    stderr: io?.stderr ?? ((s) => void process.stderr.write(s)),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
    env: io?.env ?? process.env,
  };
  let code = 0;
  let verbose = argv.includes('--verbose');
  const program = buildProgram({
    io: sinks,
    argv,
    setExitCode: (c) => {
      code = c;
    },
    setVerbose: (v) => {
      verbose = v;
    },
  });
  try {
    if (argv.length === 0) {
      sinks.stdout(program.helpInformation());
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      let message = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      const unknown = e.code === 'commander.unknownOption' ? /unknown option '([^']+)'/.exec(message)?.[1] : undefined;
      if (unknown !== undefined) {
        const command = program.commands.find((c) => argv.includes(c.name())) ?? program;
        const suggestion = suggestOption(
          unknown,
          [...command.options.map((o) => o.long ?? ''), '--help'].filter((l) => l !== ''),
        );
        if (suggestion !== undefined) message += ` (Did you mean ${suggestion}?)`;
      }
      sinks.stderr(`robustest: ${message}\n`);
      return 2;
    }
    if (e instanceof RobustestError) {
      sinks.stderr(`robustest: ${messageOnOneLine(e.message)}\n`);
      if (verbose && e.stack) sinks.stderr(e.stack + '\n');
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    sinks.stderr(`robustest: internal error: ${messageOnOneLine(err.message)}\n`);
    if (verbose && err.stack) sinks.stderr(err.stack + '\n');
    return 3;
  }
}
