/**
 * The author's loop at book scale (issue 8): on a generated 600-page book, how long a rebuild of
 * the EPUB takes after one chapter edit, against a cold build, and how soon the preview serves
 * an edit. Prints figures; asserts nothing.
 *
 *   npm run bench:incremental -- [--words 215000] [--seed mlip-1] [--runs 3] [--keep]
 *
 * The generated book (pipeline/bench/generate.ts) is copied to a temporary folder, so that the
 * edits here never touch the copy other benchmarks reuse. Builds run as `book build --only epub`
 * in new processes (what an author runs), measured from outside, with the stage timings from
 * --json; the in-process rebuild (what the preview does) is measured too.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';
import {generateBook} from './generate.ts';
import {EDIT} from './edit.ts';
import {measure} from './proc.ts';
import {build, TEMPLATES} from '../pipeline/build.ts';
import {BuildCache} from '../pipeline/cache/index.ts';
import {startPreview} from '../pipeline/preview/index.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'pipeline', 'bin.js');

interface Run {
  wallMs: number;
  /** User + system CPU time of the process: what it costs on an otherwise idle machine. */
  cpuMs?: number;
  timings: Record<string, number>;
  docs?: {hits: number; misses: number};
  cached: boolean;
  bytes: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function cliBuild(manuscript: string, out: string, cacheDir: string, extra: string[] = []): Promise<Run> {
  const run = await measure(process.execPath, [BIN, 'build', '--only', 'epub', '--json', '--quiet', '--manuscript', manuscript, '--out', out, '--cache-dir', cacheDir, ...extra], {
    env: {...process.env, CI: '1', SOURCE_DATE_EPOCH: '1700000000'},
  });
  if (run.code !== 0) throw new Error(`book build failed (${run.code}):\n${run.stderr}\n${run.stdout.slice(0, 2000)}`);
  const report = JSON.parse(run.stdout) as {timings: Record<string, number>; outputs: {bytes: number; cached: boolean}[]; cache: {docs: {hits: number; misses: number}} | null};
  return {
    wallMs: Math.round(run.wallMs), ...(run.cpuMs !== undefined ? {cpuMs: Math.round(run.cpuMs)} : {}),
    timings: report.timings, ...(report.cache ? {docs: report.cache.docs} : {}), cached: report.outputs[0]!.cached, bytes: report.outputs[0]!.bytes,
  };
}

const loadAverage = () => os.loadavg().map((n) => n.toFixed(1)).join(' ');

async function main() {
  const {values} = parseArgs({
    options: {
      words: {type: 'string', default: '215000'}, seed: {type: 'string', default: 'mlip-1'},
      runs: {type: 'string', default: '3'}, keep: {type: 'boolean', default: false}, help: {type: 'boolean', default: false},
      'preview-only': {type: 'boolean', default: false},
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench:incremental -- [--words 215000] [--seed mlip-1] [--runs 3] [--keep] [--preview-only]\n');
    return;
  }
  const runs = Math.max(1, Number(values.runs));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const generated = await generateBook({seed: values.seed!, words: Number(values.words), log: (line) => process.stderr.write(`${line}\n`)});
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'book-bench-incremental-'));
  const manuscript = path.join(work, 'manuscript');
  fs.cpSync(generated.dir, manuscript, {recursive: true});
  const chapters = generated.chapters;
  const edit = (i: number) => {
    const file = path.join(manuscript, chapters[(7 + i * 5) % chapters.length]!);
    // Unique within the run (the work folder and its cache are new): no clock needed.
    fs.appendFileSync(file, `${EDIT}\nEdit number ${i + 1}.\n`);
    return file;
  };
  say(`Book: ${generated.words.toLocaleString('en')} words, ${chapters.length} chapters, ${generated.images.total} images (${(generated.images.bytes / 1e6).toFixed(1)} MB); ${os.availableParallelism?.() ?? os.cpus().length} cores, Node ${process.versions.node}`);
  say(`Work folder: ${work}; load average before: ${loadAverage()} (figures grow with other work on the machine; CPU times do not)`);
  say('');

  try {
    const cacheDir = path.join(work, 'cache');
    if (!values['preview-only']) await builds();
    async function builds() {
    // 1. New processes, as an author runs `book build --only epub`.
    const cold: Run[] = [];
    const noCache: Run[] = [];
    const incremental: Run[] = [];
    for (let i = 0; i < runs; i++) {
      fs.rmSync(cacheDir, {recursive: true, force: true});
      noCache.push(await cliBuild(manuscript, path.join(work, 'out-plain'), cacheDir, ['--no-cache']));
      cold.push(await cliBuild(manuscript, path.join(work, 'out'), cacheDir));
    }
    const unchanged = await cliBuild(manuscript, path.join(work, 'out'), cacheDir);
    for (let i = 0; i < runs; i++) {
      edit(i);
      incremental.push(await cliBuild(manuscript, path.join(work, 'out'), cacheDir));
    }
    // A clean build beside the incremental ones, to compare their bytes.
    await cliBuild(manuscript, path.join(work, 'out-check'), cacheDir, ['--no-cache']);
    const same = fs.readFileSync(path.join(work, 'out-check', fs.readdirSync(path.join(work, 'out-check'))[0]!))
      .equals(fs.readFileSync(path.join(work, 'out', fs.readdirSync(path.join(work, 'out')).find((n) => n.endsWith('.epub'))!)));

    const row = (label: string, list: Run[]) => {
      const stages = Object.keys(list[0]!.timings).map((stage) => `${stage} ${median(list.map((r) => r.timings[stage] ?? 0))} ms`).join(', ');
      const cpu = list.every((r) => r.cpuMs !== undefined) ? `, CPU ${s(median(list.map((r) => r.cpuMs!)))}` : '';
      return `${label.padEnd(32)} ${s(median(list.map((r) => r.wallMs))).padStart(9)}${cpu}   (${stages})`;
    };
    say(`EPUB builds in new processes (median of ${runs}; wall time includes starting Node and loading the pipeline):`);
    say(row('cold, --no-cache', noCache));
    say(row('cold, empty cache (fills it)', cold));
    say(row('nothing changed', [unchanged]));
    say(row('after one chapter edit', incremental));
    const ratio = median(incremental.map((r) => r.wallMs)) / median(cold.map((r) => r.wallMs));
    const ratioPlain = median(incremental.map((r) => r.wallMs)) / median(noCache.map((r) => r.wallMs));
    say(`rebuild after one chapter edit / cold build: ${(ratio * 100).toFixed(0)} % of a cold build with an empty cache, ${(ratioPlain * 100).toFixed(0)} % of a --no-cache build (wall time; target: under 25 %)`);
    if (incremental.every((r) => r.cpuMs) && cold.every((r) => r.cpuMs) && noCache.every((r) => r.cpuMs)) {
      const cpu = (list: Run[]) => median(list.map((r) => r.cpuMs!));
      say(`  in CPU time: ${(cpu(incremental) / cpu(cold) * 100).toFixed(0)} % and ${(cpu(incremental) / cpu(noCache) * 100).toFixed(0)} %`);
    }
    say(`documents parsed after the edit: ${incremental.map((r) => `${r.docs?.misses} of ${(r.docs?.hits ?? 0) + (r.docs?.misses ?? 0)}`).join(', ')}`);
    say(`incremental EPUB identical to a clean --no-cache build: ${same ? 'yes' : 'NO'}`);
    say('');

    // 2. In one process, as the preview's background build or a watch loop would.
    const cache = new BuildCache({dir: cacheDir, templates: TEMPLATES});
    const inProcess = async () => {
      const started = performance.now();
      const result = await build({manuscript, out: path.join(work, 'out'), targets: ['epub'], sourceDateEpoch: 1_700_000_000, cache});
      if (!result.ok) throw new Error('build failed');
      return {ms: Math.round(performance.now() - started), timings: result.timings};
    };
    await inProcess();
    const warm: {ms: number; timings: Record<string, number>}[] = [];
    const warmCpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      edit(runs + i);
      const cpu = process.cpuUsage();
      warm.push(await inProcess());
      const used = process.cpuUsage(cpu);
      warmCpu.push(Math.round((used.user + used.system) / 1000));
    }
    say(`EPUB rebuild after one chapter edit in a running process (median of ${runs}): ${s(median(warm.map((r) => r.ms)))}, CPU ${s(median(warmCpu))} (load ${median(warm.map((r) => r.timings.load!))} ms, epub ${median(warm.map((r) => r.timings.epub!))} ms, write ${median(warm.map((r) => r.timings.write!))} ms)`);
    say('');
    }

    // 3. The preview: from saving a chapter to the server serving the change.
    const rebuilds: number[] = [];
    const preview = await startPreview({
      manuscript, port: 0, cacheDir, out: path.join(work, 'out'),
      log: (line) => {
        const ms = /^Rebuilt in (\d+) ms|^Rebuilt in ([\d.]+) s/.exec(line);
        if (ms) rebuilds.push(ms[1] ? Number(ms[1]) : Math.round(Number(ms[2]) * 1000));
      },
    });
    try {
      // The author opens the page before the first save.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const latencies: number[] = [];
      const cpuTimes: number[] = [];
      // As a browser does: the page listens for the server's event, then loads the page once.
      let events = '';
      const stream = http.get(new URL('/__preview/events', preview.url), (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (events += chunk));
      });
      try {
        for (let i = 0; i < Math.max(3, runs); i++) {
          const rel = chapters[(3 + i * 7) % chapters.length]!;
          const id = `ch${String(chapters.indexOf(rel) + 1).padStart(2, '0')}`;
          const marker = `Preview latency marker ${i}`;
          const next = `event: build\ndata: ${preview.build + 1}\n`;
          const started = performance.now();
          const cpu = process.cpuUsage();
          fs.appendFileSync(path.join(manuscript, rel), `\n\n${marker}\n`);
          while (!events.includes(next)) {
            if (performance.now() - started > 60_000) throw new Error('the preview did not rebuild within a minute');
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          const page = await fetch(new URL(`/${id}.html`, preview.url)).then((r) => r.text());
          latencies.push(Math.round(performance.now() - started));
          const used = process.cpuUsage(cpu);
          cpuTimes.push(Math.round((used.user + used.system) / 1000));
          if (!page.includes(marker)) throw new Error('the page served after the rebuild does not show the edit');
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      } finally {
        stream.destroy();
      }
      say(`Preview: from saving a chapter to the changed page being served (median of ${latencies.length}): ${median(latencies)} ms (each: ${latencies.join(', ')} ms; target: under 1 s)`);
      say(`  of which the rebuild (load, resolve; reported by the preview): ${median(rebuilds)} ms (each: ${rebuilds.join(', ')} ms)`);
      say(`  CPU time of this process meanwhile (watcher, rebuild, serving the page): ${median(cpuTimes)} ms (each: ${cpuTimes.join(', ')} ms)`);
    } finally {
      await preview.close();
    }
    say('');
    say(`Load average after: ${loadAverage()}`);
  } finally {
    if (!values.keep) fs.rmSync(work, {recursive: true, force: true});
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
