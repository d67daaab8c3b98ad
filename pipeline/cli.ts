/**
 * argv → build() → report → exit code.
 * Exit codes: 0 ok, 1 manuscript errors, 2 usage or environment errors.
 */
import {parseArgs} from 'node:util';
import path from 'node:path';
import fs from 'node:fs/promises';
import {reporter} from 'vfile-reporter';
import {countsOf, diagnosticsOf} from './util/messages.ts';
import {PRINT_PROFILES, type PrintProfile} from './config/schema.ts';
import type {VFile} from 'vfile';
// The pipeline is imported when a command needs it, so that --help and --version answer at once.
import type {Target, BuildResult} from './build.ts';
import type {BuildCache} from './cache/index.ts';
import {DEFAULT_CACHE_DIR, looksLikeCache} from './cache/store.ts';
import {createProgress, formatMs} from './progress.ts';
import {OutputError} from './io/output.ts';

const EXIT_CODES = `Exit codes:
  0  success
  1  problems in the manuscript (each reported with file and line), or warnings with --frail
  2  usage or environment problems (unknown option, no Chrome, unwritable output folder…)`;

const ENVIRONMENT = `Environment:
  SOURCE_DATE_EPOCH  Seconds since 1970 used for every date in the outputs
                     (default: the book's publication date)
  CI                 When set (or when stderr is not a terminal), progress is plain lines
  BOOK_CACHE_DIR     Default for --cache-dir`;

const HELP = `Usage: book <command> [options]

Commands:
  build     Build the EPUB and the print PDF into the output folder (the default)
  check     Check the manuscript without building anything
  preview   Serve the book as HTML on 127.0.0.1 and reload the page after each save
  clean     Remove the output folder and the build cache

Run \`book <command> --help\` for the options of a command.

Options:
  --help             Show this help
  --version          Show the version

${ENVIRONMENT}

${EXIT_CODES}`;

const COMMON = `  --manuscript DIR   Manuscript folder holding book.yaml (default: manuscript)
  --no-cache         Build everything; do not read or write the build cache
  --cache-dir DIR    Build cache folder (default: ${DEFAULT_CACHE_DIR})
  --quiet            Only print problems
  --debug            Show stack traces of unexpected errors
  --help             Show this help`;

const COMMAND_HELP: Record<string, string> = {
  build: `Usage: book build [options]

Builds <out>/<book-slug>.epub and <out>/<book-slug>.pdf. Unchanged chapters, and an unchanged
EPUB or PDF, are taken from the build cache; the outputs are the same bytes as without it.

Options:
  --out DIR          Output folder (default: dist)
  --only epub|pdf    Build one output only
  --print-profile P  Also make the print file of profile P: kdp, pdfx (with the cover), or
                     screen (checks the screen PDF); repeat or separate with commas
  --frail            Treat warnings as errors (exit 1)
  --json             Print a JSON report (outputs, diagnostics, stage timings) on stdout
${COMMON}

${ENVIRONMENT}

${EXIT_CODES}`,
  check: `Usage: book check [options]

Checks the manuscript (configuration, Markdown, references, images) without building.

Options:
  --frail            Treat warnings as errors (exit 1)
  --gates            Also build the EPUB and run EPUBCheck and Ace by DAISY on it
  --json             Print a JSON report (diagnostics, stage timings) on stdout
${COMMON}

${EXIT_CODES}`,
  preview: `Usage: book preview [options]

Serves the book as HTML on http://127.0.0.1:<port>/ (chapters, figures, navigation) and
reloads the page in the browser after each save. Problems are shown in the terminal and on
the page. Stop with Ctrl+C.

Options:
  --port N           Port to listen on (default: 4173; 0 picks a free one)
  --host ADDR        Address to listen on (default: 127.0.0.1, this computer only)
  --epub             Also rebuild the EPUB in the background after each change
  --pdf              Also rebuild the PDF in the background after each change
  --out DIR          Output folder of the background builds (default: dist)
${COMMON}

Exit codes:
  0  stopped with Ctrl+C
  2  usage or environment problems (port in use, no manuscript…)`,
  clean: `Usage: book clean [options]

Removes the output folder and the build cache.

Options:
  --out DIR          Output folder (default: dist)
  --cache-dir DIR    Build cache folder (default: ${DEFAULT_CACHE_DIR})
  --quiet            Print nothing
  --help             Show this help

${EXIT_CODES}`,
};

/** Which options each command takes (besides --help, --version, --debug). */
const ALLOWED: Record<string, string[]> = {
  build: ['manuscript', 'out', 'only', 'frail', 'json', 'no-cache', 'cache-dir', 'quiet', 'print-profile'],
  // --out and --only are accepted and ignored, as before (scripts pass them to both commands).
  check: ['manuscript', 'frail', 'gates', 'json', 'no-cache', 'cache-dir', 'quiet', 'out', 'only'],
  preview: ['manuscript', 'port', 'host', 'epub', 'pdf', 'out', 'no-cache', 'cache-dir', 'quiet'],
  clean: ['out', 'cache-dir', 'quiet'],
};

class UsageError extends Error {}

const OPTIONS = {
  manuscript: {type: 'string', default: 'manuscript'},
  out: {type: 'string', default: 'dist'},
  only: {type: 'string'},
  'print-profile': {type: 'string', multiple: true},
  frail: {type: 'boolean', default: false},
  gates: {type: 'boolean', default: false},
  json: {type: 'boolean', default: false},
  'no-cache': {type: 'boolean', default: false},
  'cache-dir': {type: 'string'},
  port: {type: 'string'},
  host: {type: 'string'},
  epub: {type: 'boolean', default: false},
  pdf: {type: 'boolean', default: false},
  quiet: {type: 'boolean', default: false},
  debug: {type: 'boolean', default: false},
  help: {type: 'boolean', default: false},
  version: {type: 'boolean', default: false},
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({args: argv, allowPositionals: true, strict: true, tokens: true, options: OPTIONS});
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const {values, positionals, tokens} = parsed;
  if (positionals[0] === 'help' || values.help) {
    const topic = positionals[0] === 'help' ? positionals[1] : positionals[0];
    process.stdout.write(`${(topic && COMMAND_HELP[topic]) || HELP}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'build';
  if (values.version) {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as {version: string};
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`Unexpected argument \`${positionals[1]}\``);
  if (!ALLOWED[command]) throw new UsageError(`Unknown command \`${command}\``);
  for (const token of tokens ?? []) {
    if (token.kind === 'option' && !['help', 'version', 'debug'].includes(token.name) && !ALLOWED[command].includes(token.name)) {
      throw new UsageError(`\`--${token.name}\` is not an option of \`${command}\``);
    }
  }
  const cacheDir = values['cache-dir'] ?? process.env.BOOK_CACHE_DIR ?? DEFAULT_CACHE_DIR;

  if (command === 'clean') {
    if (!looksLikeCache(cacheDir)) throw new UsageError(`\`${cacheDir}\` holds files that are not a build cache; not removing it`);
    await fs.rm(values.out, {recursive: true, force: true});
    await fs.rm(cacheDir, {recursive: true, force: true});
    if (!values.quiet) process.stderr.write(`Removed ${values.out} and the build cache (${cacheDir})\n`);
    return 0;
  }
  if (command === 'preview') return preview(values, cacheDir);

  let targets: Target[] = ['epub', 'pdf'];
  if (values.only !== undefined) {
    if (values.only !== 'epub' && values.only !== 'pdf') throw new UsageError(`--only takes \`epub\` or \`pdf\`, not \`${values.only}\``);
    targets = [values.only];
  }
  const printProfiles = values['print-profile']?.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  for (const profile of printProfiles ?? []) {
    if (!(PRINT_PROFILES as readonly string[]).includes(profile)) throw new UsageError(`--print-profile takes ${PRINT_PROFILES.map((p) => `\`${p}\``).join(', ')}, not \`${profile}\``);
  }
  const sourceDateEpoch = parseEpoch(process.env.SOURCE_DATE_EPOCH);
  const progress = createProgress({quiet: values.quiet});
  const log = (line: string) => progress.line(line);
  const {build, TEMPLATES} = await import('./build.ts');
  const {BuildCache} = await import('./cache/index.ts');
  const cache = values['no-cache'] ? undefined : new BuildCache({dir: cacheDir, templates: TEMPLATES, warn: log});
  const started = performance.now();
  // Ctrl+C or SIGTERM: stop at once. Exit hooks close Chrome and remove the staging folder, so
  // the previous outputs stay as they were.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      progress.stop();
      process.stderr.write(`\nbook: interrupted (${signal}); ${command === 'check' ? 'nothing was written' : `the previous outputs in ${values.out} are kept`}\n`);
      process.exit(code);
    });
  }
  let result: BuildResult;
  try {
    result = await build({
      manuscript: values.manuscript,
      out: values.out,
      targets,
      checkOnly: command === 'check',
      ...(printProfiles ? {printProfiles: printProfiles as PrintProfile[]} : {}),
      ...(sourceDateEpoch !== undefined ? {sourceDateEpoch} : {}),
      ...(cache ? {cache} : {}),
      onStage: progress.onStage,
    });
  } finally {
    progress.stop();
  }
  const report = reporter(result.files, {quiet: true});
  if (report) process.stderr.write(`${report}\n`);
  const {errors, warnings} = counts(result.files);
  for (const output of result.outputs) {
    log(`  wrote ${output.path} (${(output.bytes / 1024).toFixed(0)} KB${output.pages ? `, ${output.pages} pages` : ''})${output.cached ? ' unchanged, from the cache' : ''}`);
  }
  const durationMs = Math.round(performance.now() - started);
  log(`${command === 'check' ? 'Checked' : result.ok ? 'Built' : result.outputs.length > 0 ? 'Built with errors' : 'Failed'} in ${(durationMs / 1000).toFixed(1)} s: ${errors} error(s), ${warnings} warning(s)`);
  let code = 0;
  if (!result.ok || errors > 0) code = 1;
  else if (values.frail && warnings > 0) code = 1;
  else if (command === 'check' && values.gates) code = await runGates(values.manuscript, log, cache);
  if (values.json) process.stdout.write(`${JSON.stringify(jsonReport(command, result, code, durationMs), null, 2)}\n`);
  return code;
}

function counts(files: VFile[]) {
  const {errors, warnings} = countsOf(files);
  return {errors, warnings};
}

/** The machine-readable report of `--json`. */
function jsonReport(command: string, result: BuildResult, exitCode: number, durationMs: number) {
  return {
    command,
    ok: exitCode === 0,
    exitCode,
    durationMs,
    outputs: result.outputs.map((o) => ({path: o.path, bytes: o.bytes, ...(o.pages ? {pages: o.pages} : {}), cached: o.cached === true})),
    counts: counts(result.files),
    diagnostics: diagnosticsOf(result.files).map((d) => ({
      file: d.file, line: d.line ?? null, column: d.column ?? null, endLine: d.endLine ?? null, endColumn: d.endColumn ?? null,
      severity: d.severity, message: d.message, ruleId: d.ruleId ?? null, source: d.source ?? null,
    })),
    timings: result.timings,
    cache: result.cache ?? null,
  };
}

async function preview(values: Values, cacheDir: string): Promise<number> {
  const port = values.port === undefined ? 4173 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a number from 0 to 65535, not \`${values.port}\``);
  const {startPreview} = await import('./preview/index.ts');
  const targets: Target[] = [...(values.epub ? ['epub' as const] : []), ...(values.pdf ? ['pdf' as const] : [])];
  // Ctrl+C (or SIGTERM) stops the preview; a second one stops it at once.
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  let server;
  try {
    server = await startPreview({
      manuscript: values.manuscript, port, host: values.host ?? '127.0.0.1', out: values.out, targets,
      cache: !values['no-cache'], cacheDir, quiet: values.quiet,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`Port ${port} is in use; choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new UsageError(`Cannot listen on ${values.host ?? '127.0.0.1'}:${port} (${code})`);
    throw error;
  }
  await stopped;
  await server.close();
  // Nothing is left to do; do not wait for stray handles (a browser's open connection).
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  return 0;
}

/** Builds the EPUB into a temporary folder and runs EPUBCheck and Ace on it. */
async function runGates(manuscript: string, log: (line: string) => void, cache?: BuildCache): Promise<number> {
  const {epubcheckGate, aceGate} = await import('./gates.ts');
  const {build} = await import('./build.ts');
  const os = await import('node:os');
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'book-gates-'));
  try {
    const epoch = parseEpoch(process.env.SOURCE_DATE_EPOCH);
    const built = await build({manuscript, out, targets: ['epub'], ...(epoch !== undefined ? {sourceDateEpoch: epoch} : {}), ...(cache ? {cache} : {})});
    const epub = built.outputs[0]?.path;
    if (!epub) return 1;
    let failed = false;
    for (const gate of [epubcheckGate, aceGate]) {
      const started = performance.now();
      const result = await gate(epub);
      log(`  ${result.gate.padEnd(9)} ${result.ok ? 'passed' : `failed: ${result.problems.length} problem(s)`} (${formatMs(Math.round(performance.now() - started))})`);
      for (const problem of result.problems) process.stderr.write(`    ${problem}\n`);
      failed ||= !result.ok;
    }
    return failed ? 1 : 0;
  } finally {
    await fs.rm(out, {recursive: true, force: true});
  }
}

/** The latest SOURCE_DATE_EPOCH: the end of 2099 (zip timestamps in the EPUB stop there). */
const MAX_EPOCH = 4_102_444_799;

function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,12}$/.test(value.trim()) || Number(value.trim()) > MAX_EPOCH) {
    throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (at most ${MAX_EPOCH}, the end of 2099), not \`${value}\``);
  }
  return Number(value.trim());
}

const debug = process.argv.includes('--debug');
const json = process.argv.includes('--json');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    const chrome = await import('./targets/pdf/chrome.ts').catch(() => undefined);
    let message: string;
    if (error instanceof UsageError) {
      message = error.message;
      process.stderr.write(`book: ${error.message}\nRun with --help for usage.\n`);
    } else if (error instanceof OutputError || (error instanceof Error && error.constructor.name === 'GhostscriptNotFoundError') || (chrome && (error instanceof chrome.ChromeNotFoundError || error instanceof chrome.PrintTimeoutError))) {
      message = error.message;
      process.stderr.write(`book: ${error.message}\n`);
      if (debug) process.stderr.write(`${error.stack}\n`);
    } else {
      const err = error as NodeJS.ErrnoException;
      const hint = err.code === 'EACCES' || err.code === 'EROFS' ? ' (is the output folder writable?)' : err.code === 'ENOSPC' ? ' (the disk is full)' : '';
      message = `${err.message ?? String(error)}${hint}`;
      process.stderr.write(`book: ${message}\n`);
      if (debug) process.stderr.write(`${err.stack}\n`);
      else process.stderr.write('Run with --debug for details.\n');
    }
    if (json) process.stdout.write(`${JSON.stringify({ok: false, exitCode: 2, error: message}, null, 2)}\n`);
    process.exitCode = 2;
  },
);
