/**
 * `robustest merge part-*.json -o report.json`: merges the partial reports of `robustest eval --shard i/n` into the
 * run's report, after checking that they belong to one run (same configuration, model and data hashes, backend) and
 * cover every point exactly once. No model is loaded.
 * @internal
 * @module
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { RecordsError } from '../errors.js';
import { checkOutputPath, writeFileAtomic } from '../write.js';
import { renderMarkdown, renderText } from '../report-markdown.js';
import { mergePartialReports } from '../../metrics/parts.js';
import type { CommandContext } from './common.js';

/** Parsed `robustest merge` options. */
interface MergeFlags {
  output?: string;
  markdown?: string;
  quiet?: boolean;
  verbose?: boolean;
}

/** Adds `merge` to the program. */
export function registerMerge(program: Command, context: CommandContext): void {
  program
    .command('merge')
    .description(
      'Merge the partial reports of `robustest eval --shard i/n` into the run’s report (the report one process gives, except timings); ' +
        'refuses parts of different runs, overlapping parts and missing points',
    )
    .argument('<parts...>', 'partial reports written by eval --shard ... --json')
    .option('-o, --output <file>', 'write the merged JSON report here')
    .option('--json <file>', 'same as --output')
    .option('--markdown <file>', 'write the Markdown report here')
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .action(async (files: string[], flags: MergeFlags & { json?: string }) => {
      context.setVerbose(Boolean(flags.verbose));
      const { io } = context;
      const output = flags.output ?? flags.json;
      if (output !== undefined) await checkOutputPath(output, '--output');
      if (flags.markdown !== undefined) await checkOutputPath(flags.markdown, '--markdown');
      const reports = await Promise.all(
        files.map(async (name) => {
          const text = await readFile(name, 'utf8').catch((e: NodeJS.ErrnoException) => {
            throw new RecordsError(`merge: expected a readable partial report at ${JSON.stringify(name)}, got ${e.code ?? e.message}`);
          });
          try {
            return { name, value: JSON.parse(text) as unknown };
          } catch {
            throw new RecordsError(`merge: expected JSON in ${JSON.stringify(name)}, got a file that does not parse (cut short?)`);
          }
        }),
      );
      const report = mergePartialReports(reports, { command: ['robustest', ...context.argv].join(' ') });
      if (!flags.quiet) io.stdout(renderText(report));
      if (output !== undefined) {
        await writeFileAtomic(output, JSON.stringify(report, null, 2) + '\n');
        if (!flags.quiet) io.stdout(`JSON report: ${output}\n`);
      }
      if (flags.markdown !== undefined) {
        await writeFileAtomic(flags.markdown, renderMarkdown(report));
        if (!flags.quiet) io.stdout(`Markdown report: ${flags.markdown}\n`);
      }
      context.setExitCode(0);
    });
}
