/**
 * The command line: the `book` bin, help per command, --version, exit codes, progress as plain
 * lines in CI or a live list on a terminal, the end summary, the --json report, the cache
 * switches and `clean`.
 */
import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {Writable} from 'node:stream';
import {spawnSync} from 'node:child_process';
import {createProgress, isInteractive} from '../pipeline/progress.ts';
import {FIXTURES, ROOT, tempDir} from './helpers.ts';

const MINI = path.join(FIXTURES, 'mini');
const MISTAKES = path.join(FIXTURES, 'mistakes');
const BIN = path.join(ROOT, 'pipeline', 'bin.js');

function book(args: string[], options: {cwd?: string; env?: Record<string, string>} = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT, encoding: 'utf8', env: {...process.env, CI: 'true', SOURCE_DATE_EPOCH: '1700000000', ...options.env},
  });
}

interface Report {
  command: string;
  ok: boolean;
  exitCode: number;
  outputs: {path: string; bytes: number; pages?: number; cached: boolean}[];
  counts: {errors: number; warnings: number};
  diagnostics: {file: string; line: number | null; column: number | null; severity: string; message: string; ruleId: string | null}[];
  timings: Record<string, number>;
  cache: {docs: {hits: number; misses: number}; epub?: string} | null;
}

describe('the book command', () => {
  it('should run through the package.json bin with npx', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {version: string; bin: Record<string, string>};
    expect(pkg.bin.book).toBe('pipeline/bin.js');
    expect(fs.statSync(BIN).mode & 0o111).not.toBe(0);
    const run = spawnSync('npx', ['--no', '--offline', 'book', '--version'], {cwd: ROOT, encoding: 'utf8'});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(pkg.version);
  });

  it('should give help for each command and exit 0', () => {
    const main = book(['--help']);
    expect(main.status).toBe(0);
    for (const command of ['build', 'check', 'preview', 'clean']) expect(main.stdout).toContain(`  ${command}`);
    expect(main.stdout).toMatch(/Exit codes:[\s\S]*0 +success[\s\S]*1 +problems in the manuscript[\s\S]*2 +usage or environment/);
    const options: Record<string, string[]> = {
      build: ['--out DIR', '--only epub|pdf', '--json', '--no-cache', '--frail'],
      check: ['--gates', '--json', '--frail'],
      preview: ['--port N', '--epub', '--pdf', '127.0.0.1'],
      clean: ['--out DIR', '--cache-dir DIR'],
    };
    for (const [command, expected] of Object.entries(options)) {
      const run = book([command, '--help']);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`Usage: book ${command}`);
      for (const text of expected) expect(run.stdout).toContain(text);
    }
    expect(book(['help', 'preview']).stdout).toContain('Usage: book preview');
  });

  it('should reject options of another command and unknown commands with exit code 2', () => {
    const wrong = book(['clean', '--port', '80']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('`--port` is not an option of `clean`');
    expect(book(['publish']).status).toBe(2);
    expect(book(['preview', '--port', 'many']).status).toBe(2);
  });

  it('should print plain progress lines, a summary and a JSON report in CI, and take unchanged work from the cache', () => {
    const work = tempDir('book-cli-');
    const args = ['build', '--only', 'epub', '--manuscript', MINI, '--out', path.join(work, 'dist'), '--cache-dir', path.join(work, 'cache'), '--json'];
    const first = book(args, {cwd: work});
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/\u001b\[/);
    expect(first.stderr).toMatch(/^ {2}load +\d+ ms {2}\(0 of \d+ documents from the cache\)$/m);
    expect(first.stderr).toMatch(/^ {2}epub +\d+ ms$/m);
    expect(first.stderr).toMatch(/^ {2}wrote .*a-small-test-book\.epub \(\d+ KB\)$/m);
    expect(first.stderr).toMatch(/^Built in \d+\.\d s: 0 error\(s\), 0 warning\(s\)$/m);
    const report = JSON.parse(first.stdout) as Report;
    expect(report).toMatchObject({command: 'build', ok: true, exitCode: 0, counts: {errors: 0, warnings: 0}});
    expect(report.outputs).toEqual([expect.objectContaining({path: path.join(work, 'dist', 'a-small-test-book.epub'), cached: false})]);
    expect(Object.keys(report.timings)).toEqual(['load', 'epub', 'write']);
    expect(report.cache?.docs.hits).toBe(0);

    const second = book(args, {cwd: work});
    expect(second.status).toBe(0);
    const again = JSON.parse(second.stdout) as Report;
    expect(again.cache?.docs.misses).toBe(0);
    expect(again.outputs[0]!.cached).toBe(true);
    expect(second.stderr).toMatch(/wrote .*\.epub \(\d+ KB\) unchanged, from the cache/);
    expect(fs.readFileSync(again.outputs[0]!.path).equals(fs.readFileSync(report.outputs[0]!.path))).toBe(true);

    const uncached = book([...args.filter((a) => !a.includes('cache')), '--no-cache', '--out', path.join(work, 'plain')], {cwd: work});
    expect(uncached.status).toBe(0);
    expect((JSON.parse(uncached.stdout) as Report).cache).toBeNull();
    expect(fs.existsSync(path.join(work, '.cache'))).toBe(false);

    const clean = book(['clean', '--out', path.join(work, 'dist'), '--cache-dir', path.join(work, 'cache')], {cwd: work});
    expect(clean.status).toBe(0);
    expect(fs.existsSync(path.join(work, 'dist'))).toBe(false);
    expect(fs.existsSync(path.join(work, 'cache'))).toBe(false);
  });

  it('should not remove a folder that is not a build cache', () => {
    const work = tempDir('book-cli-');
    fs.writeFileSync(path.join(work, 'precious.txt'), 'keep me');
    const run = book(['clean', '--out', path.join(work, 'dist'), '--cache-dir', work]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('not a build cache');
    expect(fs.existsSync(path.join(work, 'precious.txt'))).toBe(true);
  });

  it('should report manuscript problems in the JSON report with their place, and exit 1', () => {
    const work = tempDir('book-cli-');
    const run = book(['check', '--manuscript', MISTAKES, '--json', '--cache-dir', path.join(work, 'cache')], {cwd: work});
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({command: 'check', ok: false, exitCode: 1, counts: {errors: 8, warnings: 2}});
    expect(report.diagnostics).toContainEqual(expect.objectContaining({
      line: 5, column: 1, severity: 'error', ruleId: 'missing-image', message: expect.stringContaining('Cannot find image'),
    }));
    expect(report.diagnostics.every((d) => d.file.endsWith('.md') || d.file.endsWith('.yaml') || d.file.endsWith('.bib'))).toBe(true);
  });

  it('should report a usage error in JSON too, with exit code 2', () => {
    const run = book(['build', '--only', 'mobi', '--json']);
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ok: false, exitCode: 2, error: expect.stringContaining('--only')});
  });
});

describe('progress output', () => {
  const terminal = () => {
    let text = '';
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    Object.assign(stream, {
      isTTY: true, columns: 100,
      cursorTo: (x: number) => (text += `\u001b[${x + 1}G`, true),
      moveCursor: (_x: number, y: number) => (text += y < 0 ? `\u001b[${-y}A` : '', true),
      clearLine: () => (text += '\u001b[2K', true),
    });
    return {stream, text: () => text};
  };

  it('should be a live list of stages with spinners and times on a terminal', () => {
    const {stream, text} = terminal();
    const progress = createProgress({stream, interactive: true});
    progress.onStage('load', 'start');
    progress.onStage('load', 'end', 1234, '3 of 4 documents from the cache');
    progress.onStage('epub', 'start');
    progress.line('a note');
    progress.onStage('epub', 'end', 56);
    progress.stop();
    const output = text();
    expect(output).toMatch(/load +read and parse the manuscript +1\.2 s {2}3 of 4 documents from the cache/);
    expect(output).toMatch(/epub +package the EPUB +56 ms/);
    expect(output).toContain('a note');
    expect(output).toMatch(/\u001b\[/);
  });

  it('should be plain when CI is set, when stderr is not a terminal, or never with --quiet', () => {
    const {stream} = terminal();
    expect(isInteractive(stream, {})).toBe(true);
    expect(isInteractive(stream, {CI: 'true'})).toBe(false);
    expect(isInteractive(stream, {CI: '1'})).toBe(false);
    expect(isInteractive(stream, {TERM: 'dumb'})).toBe(false);
    expect(isInteractive({isTTY: false} as NodeJS.WriteStream, {})).toBe(false);
    expect(isInteractive({isTTY: true, columns: 0} as NodeJS.WriteStream, {})).toBe(false);
    const quiet = terminal();
    const progress = createProgress({stream: quiet.stream, quiet: true});
    progress.onStage('load', 'end', 1);
    progress.line('x');
    expect(quiet.text()).toBe('');
  });
});
