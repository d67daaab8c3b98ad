/**
 * One benchmark job in its own process (so the parent can measure its wall time and the
 * memory of its process tree, Chrome included). Usage:
 *   tsx pipeline/bench/worker.ts '<job as JSON>' <result.json>
 * Jobs:
 *   {"mode":"build","manuscript":D,"out":O,"targets":["epub","pdf"],"cacheDir"?:C}  build() as the CLI calls it
 *   {"mode":"epub-twice","manuscript":D,"out":O,"chapter":REL,"cacheDir"?:C}        EPUB, edit one chapter, EPUB again, in one process
 * Only what the job needs is imported (the CLI, too, loads the PDF target and the cache lazily).
 *   {"mode":"pdf-ratio","manuscript":D,"runs":N}                         whole PDF step vs one Chrome print of the same HTML
 */
import fs from 'node:fs';
import {build, TEMPLATES, type Target, type BuildOptions} from '../pipeline/build.ts';
import {loadBook} from '../pipeline/stages/load.ts';
import {EDIT} from './edit.ts';

const importedAt = performance.now();

type Job =
  | {mode: 'build'; manuscript: string; out: string; targets: Target[]; cacheDir?: string}
  | {mode: 'epub-twice'; manuscript: string; out: string; chapter: string; cacheDir?: string}
  | {mode: 'pdf-ratio'; manuscript: string; runs: number};

const ms = (start: number) => Math.round(performance.now() - start);

/** A build cache as the CLI makes one (the module is loaded only when asked for, as the CLI does). */
async function cacheOption(dir: string | undefined, memory = false): Promise<Pick<BuildOptions, 'cache'>> {
  if (!dir) return {};
  const {BuildCache} = await import('../pipeline/cache/index.ts');
  return {cache: new BuildCache({dir, templates: TEMPLATES, memory})};
}

const errorsOf = (result: Awaited<ReturnType<typeof build>>) => result.files.reduce((n, f) => n + f.messages.filter((m) => m.fatal === true).length, 0);

async function runBuild(job: Extract<Job, {mode: 'build'}>) {
  const cache = await cacheOption(job.cacheDir);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await build({manuscript: job.manuscript, out: job.out, targets: job.targets, ...cache});
  const buildMs = ms(start);
  const used = process.cpuUsage(cpu);
  const warnings = result.files.reduce((n, f) => n + f.messages.filter((m) => m.fatal === false).length, 0);
  return {
    ok: result.ok, errors: errorsOf(result), warnings, timings: result.timings, outputs: result.outputs, buildMs,
    nodeCpuMs: Math.round((used.user + used.system) / 1000), importMs: Math.round(importedAt), cache: result.cache ?? null,
  };
}

/** Two builds in one process (as the preview rebuilds), the second after a one-chapter edit. */
async function runEpubTwice(job: Extract<Job, {mode: 'epub-twice'}>) {
  const file = `${job.manuscript}/${job.chapter}`;
  const original = fs.readFileSync(file, 'utf8');
  const cache = await cacheOption(job.cacheDir, true);
  const once = async () => {
    const start = performance.now();
    const result = await build({manuscript: job.manuscript, out: job.out, targets: ['epub'], ...cache});
    if (!result.ok || errorsOf(result) > 0) throw new Error('EPUB build failed');
    return {ms: ms(start), timings: result.timings, cache: result.cache ? {docs: result.cache.docs, epub: result.cache.epub} : null};
  };
  const cold = await once();
  let warm;
  try {
    fs.writeFileSync(file, original + EDIT);
    warm = await once();
  } finally {
    fs.writeFileSync(file, original);
  }
  return {cold, warm, importMs: Math.round(importedAt)};
}

/**
 * Issue 4's ratio. Chrome's side of every print is observed through Puppeteer itself (launch,
 * page.goto, page.pdf are wrapped; every response the pipeline serves is recorded), so the
 * single print uses exactly the HTML and the resources of the pipeline's last pass, whatever
 * renderPdf does inside.
 */
interface Print {
  resources: Map<string, {body: string | Buffer | Uint8Array; contentType: string}>;
  gotoMs: number;
  pdfMs: number;
  /** When the tab started loading and when its PDF was back (prints of one pass overlap). */
  start: number;
  end: number;
}
const prints: Print[] = [];
let launches: number[] = [];

async function observePuppeteer() {
  type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const puppeteer = (await import('puppeteer-core')).default;
  const target = puppeteer as Any;
  const launch = target.launch.bind(puppeteer);
  target.launch = async (...args: unknown[]) => {
    const started = performance.now();
    const browser = await launch(...args);
    launches.push(ms(started));
    const newPage = browser.newPage.bind(browser);
    browser.newPage = async (...a: unknown[]) => {
      const page = await newPage(...a);
      // Each tab prints once; several may print at the same time.
      let mine: Print | undefined;
      const on = page.on.bind(page);
      page.on = (event: unknown, handler: (request: Any) => void) => {
        if (event !== 'request') return on(event, handler);
        return on(event, (request: Any) => {
          const respond = request.respond.bind(request);
          request.respond = (response: Any, priority?: number) => {
            if (mine && response.status === 200) {
              mine.resources.set(decodeURIComponent(new URL(request.url()).pathname), {body: response.body, contentType: response.contentType});
            }
            return respond(response, priority);
          };
          handler(request);
        });
      };
      const goto = page.goto.bind(page);
      page.goto = async (...a: unknown[]) => {
        const t = performance.now();
        mine = {resources: new Map(), gotoMs: 0, pdfMs: 0, start: t, end: t};
        prints.push(mine);
        try {
          return await goto(...a);
        } finally {
          mine.gotoMs = ms(t);
        }
      };
      const pdf = page.pdf.bind(page);
      page.pdf = async (...a: unknown[]) => {
        const t = performance.now();
        try {
          return await pdf(...a);
        } finally {
          mine!.pdfMs = ms(t);
          mine!.end = performance.now();
        }
      };
      return page;
    };
    return browser;
  };
}

async function runPdfRatio(job: Extract<Job, {mode: 'pdf-ratio'}>) {
  await observePuppeteer();
  const {renderPdf} = await import('../pipeline/targets/pdf/index.ts');
  const {openBrowser} = await import('../pipeline/targets/pdf/chrome.ts');
  const {PDFDocument} = await import('pdf-lib');
  const loaded = await loadBook(job.manuscript);
  if (!loaded.book) throw new Error('The manuscript does not load');
  const book = loaded.book;
  const epoch = Math.floor(Date.parse(`${book.config.date}T00:00:00Z`) / 1000);
  const timeoutMs = 900_000;
  const runs: unknown[] = [];
  for (let i = 0; i < job.runs; i++) {
    prints.length = 0;
    launches = [];
    const wholeStart = performance.now();
    const pdf = await renderPdf(book, {templates: TEMPLATES, sourceDateEpoch: epoch, timeoutMs, log: () => {}});
    const wholeMs = ms(wholeStart);
    // A pass is a run of prints that overlap in time (the layout pass prints its pieces side by
    // side); its Chrome time is from the first tab loading to the last PDF back.
    const passes: {prints: number; start: number; end: number; chromeMs: number}[] = [];
    for (const p of prints) {
      const current = passes.at(-1);
      if (current && p.start < current.end) {
        current.prints++;
        current.end = Math.max(current.end, p.end);
      } else passes.push({prints: 1, start: p.start, end: p.end, chromeMs: 0});
    }
    for (const pass of passes) pass.chromeMs = Math.round(pass.end - pass.start);
    // The last pass prints the book in pieces side by side: one print gets their bodies joined
    // into one document, and every resource any of them was served.
    const lastPass = passes.at(-1)!;
    const pieces = prints.filter((p) => p.start >= lastPass.start).sort((a, b) => a.start - b.start);
    const served = new Map(pieces.flatMap((p) => [...p.resources]));
    const htmls = pieces.map((p) => p.resources.get('/')?.body);
    if (htmls.length === 0 || !htmls.every((h): h is string => typeof h === 'string')) throw new Error('Could not observe the HTML of the last pass');
    const html = joinBodies(htmls);
    const wholeLaunchMs = launches[0] ?? 0;

    const launchStart = performance.now();
    const session = await openBrowser({get: (pathname) => (pathname === '/' ? undefined : served.get(pathname))});
    const launchMs = ms(launchStart);
    let printMs: number;
    let bytes: Uint8Array;
    try {
      const printStart = performance.now();
      bytes = await session.print(html, {timeoutMs});
      printMs = ms(printStart);
    } finally {
      await session.close();
    }
    const pages = (await PDFDocument.load(bytes, {updateMetadata: false})).getPageCount();
    runs.push({
      whole: {ms: wholeMs, launchMs: wholeLaunchMs, passes, timings: pdf.timings, pages: pdf.pageCount, bytes: pdf.bytes.byteLength, mismatches: pdf.mismatches.length},
      single: {launchMs, printMs, pages, bytes: bytes.byteLength, htmlBytes: Buffer.byteLength(html), resources: served.size - 1},
    });
  }
  return {runs};
}

/** Documents of the same head, as one: the first up to its body's end, then the others' bodies. */
function joinBodies(htmls: string[]): string {
  const open = '<body>\n';
  const close = '\n</body>';
  const bodyOf = (html: string) => html.slice(html.indexOf(open) + open.length, html.lastIndexOf(close));
  const [first, ...rest] = htmls;
  const end = first!.lastIndexOf(close);
  return `${first!.slice(0, end)}\n${rest.map(bodyOf).join('\n')}${first!.slice(end)}`;
}

async function main() {
  const [jobText, resultPath] = process.argv.slice(2);
  if (!jobText || !resultPath) throw new Error('usage: worker.ts <job JSON> <result file>');
  const job = JSON.parse(jobText) as Job;
  const result = job.mode === 'build' ? await runBuild(job) : job.mode === 'epub-twice' ? await runEpubTwice(job) : await runPdfRatio(job);
  fs.writeFileSync(resultPath, JSON.stringify(result, null, 2));
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
