/**
 * argv → build() → report → exit code.
 * Exit codes: 0 ok, 1 manuscript errors, 2 usage or environment errors.
 */
import {parseArgs} from 'node:util';
import path from 'node:path';
import fs from 'node:fs/promises';
import {reporter} from 'vfile-reporter';
import {build, type Target} from './build.ts';
import {ChromeNotFoundError, PrintTimeoutError} from './targets/pdf/chrome.ts';

const HELP = `Usage: book <command> [options]

Commands:
  build     Build the EPUB and the print PDF into the output folder
  check     Check the manuscript without building anything
  clean     Remove the output folder

Options:
  --manuscript DIR   Manuscript folder holding book.yaml (default: manuscript)
  --out DIR          Output folder (default: dist)
  --only epub|pdf    Build one output only
  --frail            Treat warnings as errors (exit 1)
  --gates            With check: also build the EPUB and run EPUBCheck and Ace on it
  --quiet            Only print problems
  --debug            Show stack traces of unexpected errors
  --help             Show this help
  --version          Show the version

Environment:
  SOURCE_DATE_EPOCH  Seconds since 1970 used for every date in the outputs
                     (default: the book's publication date)

Exit codes: 0 success, 1 problems in the manuscript, 2 usage or environment errors.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        manuscript: {type: 'string', default: 'manuscript'},
        out: {type: 'string', default: 'dist'},
        only: {type: 'string'},
        frail: {type: 'boolean', default: false},
        gates: {type: 'boolean', default: false},
        quiet: {type: 'boolean', default: false},
        debug: {type: 'boolean', default: false},
        help: {type: 'boolean', default: false},
        version: {type: 'boolean', default: false},
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const {values, positionals} = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as {version: string};
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'build';
  if (positionals.length > 1) throw new UsageError(`Unexpected argument \`${positionals[1]}\``);
  if (!['build', 'check', 'clean'].includes(command)) throw new UsageError(`Unknown command \`${command}\``);

  if (command === 'clean') {
    await fs.rm(values.out!, {recursive: true, force: true});
    if (!values.quiet) process.stderr.write(`Removed ${values.out}\n`);
    return 0;
  }

  let targets: Target[] = ['epub', 'pdf'];
  if (values.only !== undefined) {
    if (values.only !== 'epub' && values.only !== 'pdf') throw new UsageError(`--only takes \`epub\` or \`pdf\`, not \`${values.only}\``);
    targets = [values.only];
  }
  const sourceDateEpoch = parseEpoch(process.env.SOURCE_DATE_EPOCH);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };
  const started = performance.now();
  const result = await build({
    manuscript: values.manuscript!,
    out: values.out!,
    targets,
    checkOnly: command === 'check',
    ...(sourceDateEpoch !== undefined ? {sourceDateEpoch} : {}),
    onStage: (stage, event, ms) => {
      if (event === 'end') log(`  ${stage.padEnd(8)} ${String(ms).padStart(6)} ms`);
    },
  });
  const report = reporter(result.files, {quiet: true});
  if (report) process.stderr.write(`${report}\n`);
  const warnings = result.files.reduce((n, f) => n + f.messages.filter((m) => m.fatal === false).length, 0);
  const errors = result.files.reduce((n, f) => n + f.messages.filter((m) => m.fatal === true).length, 0);
  for (const output of result.outputs) {
    log(`  wrote ${output.path} (${(output.bytes / 1024).toFixed(0)} KB${output.pages ? `, ${output.pages} pages` : ''})`);
  }
  log(`${command === 'check' ? 'Checked' : result.ok ? 'Built' : 'Failed'} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${errors} error(s), ${warnings} warning(s)`);
  if (!result.ok || errors > 0) return 1;
  if (values.frail && warnings > 0) return 1;
  if (command === 'check' && values.gates) return runGates(values.manuscript!, log);
  return 0;
}

/** Builds the EPUB into a temporary folder and runs EPUBCheck and Ace on it. */
async function runGates(manuscript: string, log: (line: string) => void): Promise<number> {
  const {epubcheckGate, aceGate} = await import('./gates.ts');
  const os = await import('node:os');
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'book-gates-'));
  try {
    const built = await build({manuscript, out, targets: ['epub'], ...(parseEpoch(process.env.SOURCE_DATE_EPOCH) !== undefined ? {sourceDateEpoch: parseEpoch(process.env.SOURCE_DATE_EPOCH)!} : {})});
    const epub = built.outputs[0]?.path;
    if (!epub) return 1;
    let failed = false;
    for (const gate of [epubcheckGate, aceGate]) {
      const result = await gate(epub);
      log(`  ${result.gate.padEnd(9)} ${result.ok ? 'passed' : `failed: ${result.problems.length} problem(s)`}`);
      for (const problem of result.problems) process.stderr.write(`    ${problem}\n`);
      failed ||= !result.ok;
    }
    return failed ? 1 : 0;
  } finally {
    await fs.rm(out, {recursive: true, force: true});
  }
}

function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,12}$/.test(value.trim())) {
    throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not \`${value}\``);
  }
  return Number(value.trim());
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`book: ${error.message}\nRun with --help for usage.\n`);
    } else if (error instanceof ChromeNotFoundError || error instanceof PrintTimeoutError) {
      process.stderr.write(`book: ${error.message}\n`);
    } else {
      const err = error as NodeJS.ErrnoException;
      const hint = err.code === 'EACCES' || err.code === 'EROFS' ? ' (is the output folder writable?)' : err.code === 'ENOSPC' ? ' (the disk is full)' : '';
      process.stderr.write(`book: ${err.message ?? String(error)}${hint}\n`);
      if (debug) process.stderr.write(`${err.stack}\n`);
      else process.stderr.write('Run with --debug for details.\n');
    }
    process.exitCode = 2;
  },
);
