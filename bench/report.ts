/**
 * The benchmark's report (bench.ts runs the builds): Markdown tables of the medians, with the
 * machine, the book and the exact commands, as BENCHMARKS.md shows them.
 */
import type {GeneratedBook} from './generate.ts';
import type {Measured} from './proc.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {findChrome} from '../pipeline/targets/pdf/chrome.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The machine the figures were measured on: CPU, memory, load, the versions of the tools. */
export function machine() {
  const cpus = os.cpus();
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).split('\n')[0]!.trim();
    } catch {
      return 'not installed';
    }
  };
  let osName: string = os.platform();
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {}
  let chrome = 'not found';
  try {
    chrome = version(findChrome(), ['--version']);
  } catch {}
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'pipeline', 'templates'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim();
    if (dirty) commit += ' + uncommitted changes in pipeline/ or templates/';
  } catch {}
  return {
    cores: cpus.length, cpu: cpus[0]?.model.trim() ?? 'unknown', memory: `${(os.totalmem() / GiB).toFixed(1)} GiB`,
    node: process.version, chrome, pandoc: version('pandoc', ['--version']), os: `${osName}, Linux ${os.release()}`, commit,
  };
}

export interface Sample {
  wallMs: number;
  /** CPU time of the process tree: the larger of `times` (reaped descendants) and the /proc samples. */
  cpuMs?: number;
  peakRss: number;
  peakPss: number;
  /** Processes at the moment of peak memory. */
  atPeak: Measured['atPeak'];
  /** In-process figures reported by the job. */
  result?: Record<string, unknown>;
  loadBefore: number;
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const s = (msValue: number) => (Number.isFinite(msValue) ? `${(msValue / 1000).toFixed(msValue < 10_000 ? 2 : 1)} s` : '–');
export const mb = (bytes: number) => (Number.isFinite(bytes) && bytes > 0 ? `${(bytes / MiB).toFixed(0)} MiB` : '–');
export const x = (ratio: number) => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–');

type Info = ReturnType<typeof machine>;

interface RatioRun {
  whole: {ms: number; launchMs: number; passes: {prints: number; chromeMs: number}[]; timings: Record<string, number>; pages: number; bytes: number; mismatches: number};
  single: {launchMs: number; printMs: number; pages: number; bytes: number; htmlBytes: number; resources: number};
}

export function render(info: Info, book: GeneratedBook, samples: Map<string, Sample[]>, runs: number, skip: Set<string>, hasPandoc: boolean,
  extra: {pandocEpubArgs: string[]; pandocHtmlArgs: string[]; editChapter: string}): string {
  const get = (name: string) => samples.get(name) ?? [];
  const med = (name: string, pick: (sample: Sample) => number | undefined) => median(get(name).map((v) => pick(v) ?? NaN));
  const wall = (name: string) => med(name, (v) => v.wallMs);
  const cpu = (name: string) => med(name, (v) => v.cpuMs);
  const peakOf = (name: string, pick: (v: Sample) => number) => (get(name).length ? Math.max(...get(name).map(pick)) : NaN);
  const rss = (name: string) => peakOf(name, (v) => v.peakRss);
  const pss = (name: string) => peakOf(name, (v) => v.peakPss);
  const timing = (name: string, stage: string) => med(name, (v) => (v.result?.timings as Record<string, number> | undefined)?.[stage]);
  const inProcess = (name: string) => med(name, (v) => v.result?.buildMs as number | undefined);
  const stages = (name: string, list: string[]) => list.map((stage) => `${stage} ${s(timing(name, stage))}`).join(', ');
  const loads = [...samples.values()].flat().map((v) => v.loadBefore);
  const ratioRuns = (get('pdf-ratio')[0]?.result?.runs ?? []) as RatioRun[];
  const ratioMed = (pick: (r: RatioRun) => number) => median(ratioRuns.map(pick));
  const outputs = (name: string) => (get(name)[0]?.result?.outputs as {path: string; bytes: number; pages?: number}[] | undefined) ?? [];
  const pdfInfo = [...outputs('ours-both'), ...outputs('ours-pdf')].find((o) => o.path.endsWith('.pdf'));
  const epubInfo = [...outputs('ours-both'), ...outputs('ours-epub')].find((o) => o.path.endsWith('.epub'));
  const pandocPrint = get('pandoc-chrome-print')[0]?.result as {pages?: number; timings?: Record<string, number>} | undefined;

  const lines: string[] = [];
  const row = (...cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push('### Machine', '');
  row('cores', 'CPU', 'memory', 'Node', 'Chromium', 'Pandoc', 'OS');
  row('--:', '---', '--:', '---', '---', '---', '---');
  row(String(info.cores), info.cpu, info.memory, info.node, info.chrome, info.pandoc, info.os);
  const busy = median(loads) > info.cores * 0.75;
  lines.push('', `Pipeline at ${info.commit}. Load average (1 min) before each measured job: median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)} on ${info.cores} cores` +
    `${busy ? ' — **the machine was shared and busy while this ran: wall times are inflated and noisy; CPU times are the steadier comparison**' : ''}.`, '');

  lines.push('### Book', '');
  lines.push(`Generated by \`pipeline/bench/generate.ts\` (seed \`${book.seed}\`) in \`${book.dir}\`: ${book.chapters.length} chapters in 6 parts, ${book.words.toLocaleString('en-US')} words, ` +
    `${book.images.total} images (${book.images.svg} SVG of which ${book.images.largeSvg} of 2–3 MB and ${book.images.exportSvg} diagram-tool exports with 24 embedded PNGs each, ${book.images.png} PNG, ${book.images.jpeg} JPEG; ${(book.images.bytes / MiB).toFixed(1)} MiB), ${book.bib} BibTeX entries.` +
    `${pdfInfo ? ` Our PDF: ${pdfInfo.pages} pages, ${mb(pdfInfo.bytes)}.` : ''}${epubInfo ? ` Our EPUB: ${mb(epubInfo.bytes)}.` : ''}` +
    `${pandocPrint?.pages ? ` Pandoc's HTML printed by Chrome: ${pandocPrint.pages} pages.` : ''}`, '');

  lines.push(`### Cold builds (median of ${runs} run${runs > 1 ? 's' : ''}; each a fresh process without a build cache, measured from outside)`, '');
  row('build', 'wall', 'CPU (user+sys, all processes)', 'peak RSS of the process tree', 'peak PSS of the tree', 'stages (in-process, median)');
  row('---', '--:', '--:', '--:', '--:', '---');
  const ourRow = (label: string, name: string, list: string[]) => {
    if (get(name).length === 0) return;
    row(label, s(wall(name)), s(cpu(name)), mb(rss(name)), mb(pss(name)),
      `${stages(name, list)}; build() ${s(inProcess(name))}; process start + imports ${s(wall(name) - inProcess(name))}`);
  };
  ourRow('ours: EPUB', 'ours-epub', ['load', 'epub', 'write']);
  ourRow('ours: PDF', 'ours-pdf', ['load', 'paginate', 'pdf', 'write']);
  ourRow('ours: EPUB + PDF', 'ours-both', ['load', 'paginate', 'pdf', 'epub', 'write']);
  if (hasPandoc) {
    const p = (label: string, name: string, note: string) => {
      if (get(name).length === 0) return;
      row(label, s(wall(name)), s(cpu(name)), mb(rss(name)), mb(pss(name)), note);
    };
    const pt = (k: string) => s(med('pandoc-chrome-print', (v) => (v.result?.timings as Record<string, number> | undefined)?.[k]));
    p('Pandoc: EPUB 3', 'pandoc-epub', '`pandoc … -t epub3` (commands below)');
    p('Pandoc: standalone HTML', 'pandoc-html', '`pandoc … -t html5 -s`');
    p('Chrome: one print of Pandoc\'s HTML', 'pandoc-chrome-print', `launch ${pt('launch')}, load ${pt('load')}, print ${pt('pdf')}`);
  }
  lines.push('');
  const peakSample = [...get('ours-both'), ...get('ours-pdf')].sort((a, b) => b.peakPss - a.peakPss)[0];
  if (peakSample?.atPeak.length) {
    const byKind = new Map<string, {n: number; pss: number; rss: number}>();
    for (const p of peakSample.atPeak) {
      const k = byKind.get(p.what) ?? {n: 0, pss: 0, rss: 0};
      byKind.set(p.what, {n: k.n + 1, pss: k.pss + p.pss, rss: k.rss + p.rss});
    }
    lines.push(`At the peak of our largest build (${mb(peakSample.peakPss)} PSS), by process: ` +
      [...byKind].sort((a, b) => b[1].pss - a[1].pss).filter(([, v]) => v.pss > 5 * MiB || v.rss > 20 * MiB)
        .map(([k, v]) => `${k}${v.n > 1 ? ` ×${v.n}` : ''} ${mb(v.pss)} PSS / ${mb(v.rss)} RSS`).join('; ') + '.', '');
  }

  if (ratioRuns.length > 0) {
    const whole = ratioMed((r) => r.whole.ms);
    const launch = ratioMed((r) => r.whole.launchMs);
    const finish = ratioMed((r) => r.whole.timings.finish ?? NaN);
    const join = ratioMed((r) => r.whole.timings.join ?? 0);
    const passCount = Math.max(...ratioRuns.map((r) => r.whole.passes.length));
    const chrome = ratioMed((r) => r.whole.passes.reduce((a, p) => a + p.chromeMs, 0));
    const single = ratioMed((r) => r.single.launchMs + r.single.printMs);
    lines.push('### The PDF step (issue 4: at most 2.5× one Chrome print of the same HTML)', '');
    lines.push(`One process, the book loaded once, median of ${ratioRuns.length}. Chrome's share of each pass is observed through Puppeteer (\`page.goto\` + \`page.pdf\`). ` +
      `"One print" = a fresh Chrome (our \`openBrowser\`) printing the HTML of the pipeline's last pass once (its pieces' bodies joined into one document), with the same ${ratioRuns[0]!.single.resources} images and fonts (${(ratioRuns[0]!.single.htmlBytes / MiB).toFixed(1)} MiB of XHTML).`, '');
    row('what', 'time');
    row('---', '--:');
    row('whole PDF step (`renderPdf`)', s(whole));
    row('&nbsp;&nbsp;Chrome launch (while the images are scaled for print)', s(launch));
    for (let i = 0; i < passCount; i++) {
      const pieces = ratioRuns[0]!.whole.passes[i]?.prints ?? 1;
      const side = pieces > 1 ? `; ${pieces} pieces side by side` : '';
      const label = i === passCount - 1 ? `last pass (final PDF${side})` : `pass ${i + 1} (layout, with probe links${i === 0 ? ', image placeholders' : ''}${side}${pieces > 1 ? ', nothing else painted' : ''})`;
      row(`&nbsp;&nbsp;Chrome: ${label}`, s(ratioMed((r) => r.whole.passes[i]?.chromeMs ?? NaN)));
    }
    row('&nbsp;&nbsp;join of the last pass\'s pieces (pdf-lib: pages, tag tree, destinations)', s(join));
    row('&nbsp;&nbsp;finish (pdf-lib: folios, heads, outline, metadata, save)', s(finish));
    row('&nbsp;&nbsp;everything else in Node (image scaling, print HTML ×2, planning; what of the launch the scaling does not hide)', s(whole - chrome - join - finish));
    row('one Chrome print: launch + load + print', s(single));
    row('&nbsp;&nbsp;of which launch', s(ratioMed((r) => r.single.launchMs)));
    row('**ratio whole step / one print**', `**${x(ratioMed((r) => r.whole.ms / (r.single.launchMs + r.single.printMs)))}**`);
    row('ratio without the launch on either side', x(ratioMed((r) => (r.whole.ms - r.whole.launchMs) / r.single.printMs)));
    row('pages (whole step / one print)', `${ratioRuns[0]!.whole.pages} / ${ratioRuns[0]!.single.pages}`);
    row('Chrome passes / chapter starts that moved between layout and final pass', `${passCount} / ${ratioRuns[0]!.whole.mismatches}`);
    lines.push('');
  }

  const twice = get('ours-epub-twice').map((v) => v.result as {cold: {ms: number; timings: Record<string, number>}; warm: {ms: number; timings: Record<string, number>; cache: {docs: {hits: number; misses: number}} | null}});
  if (get('ours-epub-after-edit').length > 0) {
    lines.push('### EPUB rebuild after a one-chapter edit (issue 8: under ¼ of a cold build; issue 9: under 1 s)', '');
    lines.push(`The edit appends one paragraph to \`${extra.editChapter}\`. Fresh processes use the on-disk build cache (\`pipeline/cache/\`) as \`npm run build\` does by default.`, '');
    row('build', 'wall', 'CPU', 'vs cold EPUB (no cache)', 'stages (in-process, median)');
    row('---', '--:', '--:', '--:', '---');
    const r = (label: string, name: string) => {
      if (get(name).length === 0) return;
      row(label, s(wall(name)), s(cpu(name)), x(wall(name) / wall('ours-epub')), `${stages(name, ['load', 'epub', 'write'])}; build() ${s(inProcess(name))}; process start + imports ${s(wall(name) - inProcess(name))}`);
    };
    r('cold EPUB, no cache', 'ours-epub');
    r('first build into an empty cache', 'ours-epub-cache-cold');
    r('same build again, nothing changed', 'ours-epub-cache-unchanged');
    r('**after the one-chapter edit** (new process)', 'ours-epub-after-edit');
    if (twice.length > 0) {
      const cold = median(twice.map((t) => t.cold.ms));
      const warmMs = median(twice.map((t) => t.warm.ms));
      const st = (k: string) => s(median(twice.map((t) => t.warm.timings[k] ?? NaN)));
      const docs = twice[0]!.warm.cache?.docs;
      row('after the edit, same process, cache in memory (as the preview rebuilds)', s(warmMs), '–', `${x(warmMs / cold)} of that process's first build (${s(cold)})`,
        `load ${st('load')}, epub ${st('epub')}, write ${st('write')}${docs ? `; ${docs.hits} of ${docs.hits + docs.misses} documents from the cache` : ''}`);
    }
    lines.push('');
  }

  lines.push('### Targets', '');
  row('target', 'measured', 'met?');
  row('---', '---', ':-:');
  const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
  if (hasPandoc && get('pandoc-epub').length > 0) {
    const r = wall('ours-epub') / wall('pandoc-epub');
    row('issue 9: cold EPUB ≤ 0.5 × Pandoc EPUB', `${s(wall('ours-epub'))} vs ${s(wall('pandoc-epub'))}: ${x(r)} wall, ${x(cpu('ours-epub') / cpu('pandoc-epub'))} CPU`, yes(r <= 0.5));
  }
  if (hasPandoc && get('ours-both').length > 0 && get('pandoc-chrome-print').length > 0) {
    const theirs = wall('pandoc-epub') + wall('pandoc-html') + wall('pandoc-chrome-print');
    const theirsCpu = cpu('pandoc-epub') + cpu('pandoc-html') + cpu('pandoc-chrome-print');
    const r = wall('ours-both') / theirs;
    row('issue 9: cold EPUB + PDF < Pandoc EPUB + HTML + one Chrome print', `${s(wall('ours-both'))} vs ${s(theirs)}: ${x(r)} wall, ${x(cpu('ours-both') / theirsCpu)} CPU`, yes(r < 1));
  }
  if (get('ours-epub-after-edit').length > 0) {
    row('issue 9: EPUB rebuild after one chapter edit < 1 s', `${s(wall('ours-epub-after-edit'))} (new process)${twice.length ? `; ${s(median(twice.map((t) => t.warm.ms)))} in a running process` : ''}`, yes(wall('ours-epub-after-edit') < 1000));
  }
  const builds = ['ours-both', 'ours-pdf', 'ours-epub'];
  const peak = Math.max(...builds.map(rss).filter(Number.isFinite));
  const peakP = Math.max(...builds.map(pss).filter(Number.isFinite));
  if (Number.isFinite(peak)) {
    row('issue 9: peak memory of the whole build (Chrome included) < 2 GiB', `${mb(peakP)} PSS (shared pages counted once); ${mb(peak)} if every process's RSS is summed`, peakP < 2 * GiB && peak < 2 * GiB ? 'yes' : peakP < 2 * GiB ? 'yes (PSS); no by summed RSS' : '**no**');
  }
  if (ratioRuns.length > 0) {
    const r = ratioMed((q) => q.whole.ms / (q.single.launchMs + q.single.printMs));
    row('issue 4: whole PDF step ≤ 2.5 × one Chrome print', x(r), yes(r <= 2.5));
  }
  if (get('ours-epub-after-edit').length > 0) {
    const r = wall('ours-epub-after-edit') / wall('ours-epub');
    row('issue 8: EPUB rebuild after one edit < ¼ of cold', `${x(r)} (new process)`, yes(r < 0.25));
  }
  lines.push('');
  if (hasPandoc) {
    const show = (args: string[]) => `pandoc ${args.map(quote).join(' ')}`.replace(/ \.\.\/chapters\/\S+/g, '').replace(/(\.\.\/front\/preface\.md)/, '$1 ../chapters/*.md');
    lines.push('Pandoc commands (run in the generated `chapters/` folder):', '', '```sh', show(extra.pandocEpubArgs), show(extra.pandocHtmlArgs),
      'tsx pipeline/bench/chrome-print.ts book.html book.pdf   # one Chrome print, 7 × 9 in, tagged', '```', '');
  }
  if (skip.size > 0) lines.push(`Skipped: ${[...skip].join(', ')}.`, '');
  return `${lines.join('\n')}\n`;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

