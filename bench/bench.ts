/**
 * Benchmark at book scale, side by side with Pandoc (issue 9; also the PDF-step ratio of issue 4
 * and the rebuild-after-one-edit figure of issue 8).
 *
 *   npm run bench -- [--runs 3] [--words 215000] [--seed mlip-1] [--dir DIR] [--skip pandoc,pdf,ratio,warm]
 *                    [--out report.md] [--no-warmup]
 *
 * Every build runs in its own process, measured from outside: wall time, CPU time (user + system
 * of the whole process tree) and peak memory of the tree (Chrome included), sampled every 100 ms.
 * Runs are interleaved (EPUB, PDF, both, Pandoc… then again), and the median is reported.
 * The generated book lives in the temporary folder and is reused while the generator is unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';
import {generateBook} from './generate.ts';
import {measure, type Measured} from './proc.ts';
import {EDIT} from './edit.ts';
import {bundled} from '../pipeline/bundle.mjs';
import {render, machine, s, mb, type Sample} from './report.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const MiB = 1024 ** 2;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main() {
  const {values} = parseArgs({
    options: {
      runs: {type: 'string', default: '3'},
      words: {type: 'string', default: '215000'},
      seed: {type: 'string', default: 'mlip-1'},
      dir: {type: 'string'},
      skip: {type: 'string', default: ''},
      out: {type: 'string'},
      'no-warmup': {type: 'boolean', default: false},
      help: {type: 'boolean', default: false},
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench -- [--runs N] [--words N] [--seed S] [--dir DIR] [--skip pandoc,pdf,ratio,warm] [--out FILE.md] [--no-warmup]\n');
    return;
  }
  const runs = Math.max(1, Number(values.runs));
  const skip = new Set(values.skip!.split(',').filter(Boolean));
  const info = machine();
  const hasPandoc = info.pandoc !== 'not installed' && !skip.has('pandoc');
  if (info.pandoc === 'not installed') log('pandoc is not installed (Debian/Ubuntu: apt-get install pandoc); the Pandoc rows are left out.');

  const book = await generateBook({...(values.dir ? {dir: values.dir} : {}), seed: values.seed!, words: Number(values.words), log});
  log(`${book.reused ? 'Reusing' : 'Generated'} ${book.dir}: ${book.words} words, ${book.images.total} images (${(book.images.bytes / MiB).toFixed(1)} MiB)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'book-bench-run-'));
  const editChapter = book.chapters[Math.floor(book.chapters.length / 2)]!;
  const editPath = path.join(book.dir, editChapter);
  const original = fs.readFileSync(editPath, 'utf8');
  const restore = () => fs.writeFileSync(editPath, original);
  process.on('SIGINT', () => {
    restore();
    process.exit(130);
  });

  const samples = new Map<string, Sample[]>();
  const add = (name: string, sample: Sample) => samples.set(name, [...(samples.get(name) ?? []), sample]);
  const check = (name: string, m: Measured) => {
    if (m.code !== 0) throw new Error(`${name} failed (exit ${m.code}):\n${m.stderr.slice(-3000)}`);
  };
  // Each build runs as the CLI does (pipeline/bin.js): bundled, or through tsx where no bundle can be written.
  const bundle = await bundled({'bench-worker': path.join(HERE, 'worker.ts')});
  const workerCommand = bundle ? [bundle['bench-worker']!] : [TSX, path.join(HERE, 'worker.ts')];
  log(bundle ? 'Builds run bundled, as pipeline/bin.js runs them.' : 'No bundle could be written: builds run through tsx.');
  const worker = async (name: string, job: Record<string, unknown>): Promise<Sample> => {
    const resultFile = path.join(work, `${name.replace(/\W+/g, '-')}.json`);
    const loadBefore = os.loadavg()[0]!;
    const m = await measure(process.execPath, [...workerCommand, JSON.stringify(job), resultFile], {cwd: ROOT, timeoutMs: 3_600_000});
    check(name, m);
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Record<string, unknown>;
    if (result.ok === false || (typeof result.errors === 'number' && result.errors > 0)) throw new Error(`${name}: the build reported errors`);
    return {wallMs: m.wallMs, cpuMs: Math.max(m.cpuMs ?? 0, m.sampledCpuMs), peakRss: m.peakRss, peakPss: m.peakPss, atPeak: m.atPeak, result, loadBefore};
  };
  const external = async (name: string, command: string, args: string[], cwd: string): Promise<Sample> => {
    const loadBefore = os.loadavg()[0]!;
    const m = await measure(command, args, {cwd, timeoutMs: 3_600_000});
    check(name, m);
    let result: Record<string, unknown> | undefined;
    try {
      result = JSON.parse(m.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    } catch {}
    return {wallMs: m.wallMs, cpuMs: Math.max(m.cpuMs ?? 0, m.sampledCpuMs), peakRss: m.peakRss, peakPss: m.peakPss, atPeak: m.atPeak, ...(result ? {result} : {}), loadBefore};
  };
  const build = (targets: string[], out: string, cacheDir?: string) => ({mode: 'build', manuscript: book.dir, out: path.join(work, out), targets, ...(cacheDir ? {cacheDir} : {})});

  // Pandoc reads the same Markdown; images are relative to the chapters (`../img/…`).
  const pandocOut = path.join(book.dir, '.bench-pandoc');
  fs.mkdirSync(pandocOut, {recursive: true});
  const chaptersDir = path.join(book.dir, 'chapters');
  const inputs = ['../front/dedication.md', '../front/preface.md', ...book.chapters.map((c) => `../${c}`), '../back/about-the-author.md'];
  const pandocCommon = ['-f', 'markdown', '--resource-path=.', '--toc', '--number-sections', '--citeproc', '--bibliography=../references/general.bib',
    '--metadata', 'title=A Generated Book of Machine Learning in Production', '--metadata', 'lang=en'];
  const pandocEpubArgs = [...pandocCommon, '-t', 'epub3', '--epub-cover-image=../img/cover.jpg', '-o', path.join(pandocOut, 'book.epub'), ...inputs];
  const pandocHtml = path.join(pandocOut, 'book.html');
  const pandocHtmlArgs = [...pandocCommon, '-t', 'html5', '-s', '-o', pandocHtml, ...inputs];

  try {
    if (!values['no-warmup']) {
      log('Warm-up (not measured): one EPUB build, so the tsx cache and the page cache are warm…');
      await worker('warmup', build(['epub'], 'warmup'));
    }
    for (let run = 1; run <= runs; run++) {
      log(`Run ${run} of ${runs}`);
      const step = async (name: string, fn: () => Promise<Sample>) => {
        const sample = await fn();
        add(name, sample);
        log(`  ${name.padEnd(28)} ${s(sample.wallMs).padStart(8)} wall  ${s(sample.cpuMs ?? NaN).padStart(8)} CPU  ${mb(sample.peakRss).padStart(9)} peak RSS  (load ${sample.loadBefore.toFixed(1)})`);
      };
      await step('ours-epub', () => worker(`epub-${run}`, build(['epub'], `epub-${run}`)));
      if (!skip.has('pdf')) {
        await step('ours-pdf', () => worker(`pdf-${run}`, build(['pdf'], `pdf-${run}`)));
        await step('ours-both', () => worker(`both-${run}`, build(['epub', 'pdf'], `both-${run}`)));
      }
      if (!skip.has('warm')) {
        // As `npm run build -- --only epub` with its build cache: a first build into an empty
        // cache, the same build again, then one after a one-chapter edit; each a fresh process.
        const cacheDir = path.join(work, `cache-${run}`);
        await step('ours-epub-cache-cold', () => worker(`cache-cold-${run}`, build(['epub'], `cache-cold-${run}`, cacheDir)));
        await step('ours-epub-cache-unchanged', () => worker(`cache-same-${run}`, build(['epub'], `cache-same-${run}`, cacheDir)));
        fs.writeFileSync(editPath, original + EDIT);
        try {
          await step('ours-epub-after-edit', () => worker(`edit-${run}`, build(['epub'], `edit-${run}`, cacheDir)));
        } finally {
          restore();
        }
        fs.rmSync(cacheDir, {recursive: true, force: true});
        // As the preview does: one process, the cache also in memory, a build, an edit, a build.
        const twiceCache = path.join(work, `cache-twice-${run}`);
        await step('ours-epub-twice', () => worker(`twice-${run}`, {mode: 'epub-twice', manuscript: book.dir, out: path.join(work, `twice-${run}`), chapter: editChapter, cacheDir: twiceCache}));
        fs.rmSync(twiceCache, {recursive: true, force: true});
      }
      if (hasPandoc) {
        await step('pandoc-epub', () => external('pandoc-epub', 'pandoc', pandocEpubArgs, chaptersDir));
        await step('pandoc-html', () => external('pandoc-html', 'pandoc', pandocHtmlArgs, chaptersDir));
        if (!skip.has('pdf')) {
          await step('pandoc-chrome-print', () => external('pandoc-chrome-print', process.execPath,
            [TSX, path.join(HERE, 'chrome-print.ts'), pandocHtml, path.join(pandocOut, 'book.pdf')], ROOT));
        }
      }
    }
    if (!skip.has('pdf') && !skip.has('ratio')) {
      log(`Issue 4: the whole PDF step vs one Chrome print of the same HTML, ${runs} run(s) in one process…`);
      const sample = await worker('pdf-ratio', {mode: 'pdf-ratio', manuscript: book.dir, runs});
      add('pdf-ratio', sample);
    }
  } finally {
    restore();
  }

  const report = render(info, book, samples, runs, skip, hasPandoc, {pandocEpubArgs, pandocHtmlArgs, editChapter});
  process.stdout.write(report);
  fs.writeFileSync(path.join(work, 'samples.json'), JSON.stringify(Object.fromEntries(samples), null, 2));
  if (values.out) fs.writeFileSync(values.out, report);
  log(`Raw samples: ${path.join(work, 'samples.json')}`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
