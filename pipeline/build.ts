/**
 * The one place that sequences the stages: load → (pure stages) → targets → atomic write.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import {VFile} from 'vfile';
import {loadBook, hasErrors} from './stages/load.ts';
import {blocksOutputs} from './stages/placeholder.ts';
import {renderEpub, EPUB_MAX_IMAGE_WIDTH, EPUB_MAX_IMAGE_HEIGHT, type EpubTemplates, type PageMarks} from './targets/epub/index.ts';
import {printImageBounds} from './targets/pdf/html.ts';
import {ScaleAhead, type ScaleMemo} from './stages/scale.ts';
import type {BookConfig} from './config/schema.ts';
import type {PdfResult} from './targets/pdf/index.ts';
import {writeOutputsAtomically, checkOutputFolder} from './io/output.ts';
import type {Asset, Book} from './model.ts';
import type {BuildCache, CacheReport} from './cache/index.ts';

export const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');

export type Target = 'epub' | 'pdf';

export interface BuildOptions {
  manuscript: string;
  out: string;
  targets: Target[];
  /** Seconds since the epoch; undefined = the book's publication date. */
  sourceDateEpoch?: number;
  /** Called when a stage starts and ends, for progress output; `detail` says what the cache did. */
  onStage?: (stage: string, event: 'start' | 'end', ms?: number, detail?: string) => void;
  /** Only check the manuscript; write nothing. */
  checkOnly?: boolean;
  /** Reuse unchanged work from earlier builds (pipeline/cache/); without it everything is built. */
  cache?: BuildCache;
  /** Templates folder (default: the pipeline's templates/). */
  templates?: string;
}

export interface BuildResult {
  files: VFile[];
  outputs: {path: string; bytes: number; pages?: number; cached?: boolean}[];
  ok: boolean;
  timings: Record<string, number>;
  book?: Book;
  /** What the cache reused, when a cache was given. */
  cache?: CacheReport;
}

export async function build(options: BuildOptions): Promise<BuildResult> {
  const timings: Record<string, number> = {};
  const details: Record<string, string> = {};
  const stage = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    options.onStage?.(name, 'start');
    const start = performance.now();
    try {
      return await run();
    } finally {
      timings[name] = Math.round(performance.now() - start);
      options.onStage?.(name, 'end', timings[name], details[name]);
    }
  };
  const {cache} = options;
  const templatesDir = options.templates ?? TEMPLATES;
  cache?.begin();
  try {
    return await buildStages();
  } finally {
    try {
      cache?.finish();
    } catch {}
  }

  async function buildStages(): Promise<BuildResult> {
    // New images start being scaled for the targets while the rest of the book loads.
    let ahead: ScaleAhead | undefined;
    const onFreshImage = options.checkOnly ? undefined : (asset: Asset, config: BookConfig) => {
      ahead ??= new ScaleAhead([
        ...(options.targets.includes('epub') ? [{maxWidth: EPUB_MAX_IMAGE_WIDTH, maxHeight: EPUB_MAX_IMAGE_HEIGHT}] : []),
        ...(options.targets.includes('pdf') ? [printImageBounds(config.print)] : []),
      ], cache?.scale);
      ahead.start(asset);
    };
    const scale = (): ScaleMemo | undefined => ahead?.memo ?? cache?.scale;
    const {book, files} = await stage('load', async () => {
      const loaded = await loadBook(options.manuscript, {...cache?.loadOptions(), ...(onFreshImage ? {onFreshImage} : {})});
      if (cache) {
        const {hits, misses} = cache.report.docs;
        details.load = `${hits} of ${hits + misses} documents from the cache`;
      }
      return loaded;
    });
    const cacheReport = cache ? {cache: cache.report} : {};
    // An image that cannot be used has a placeholder: its error does not stop the outputs (placeholder.ts).
    if (!book || blocksOutputs(files) || options.checkOnly) {
      return {files, outputs: [], ok: !!book && !hasErrors(files), timings, ...(book ? {book} : {}), ...cacheReport};
    }
    // A read-only or misplaced output folder is an error now, not after the PDF.
    await checkOutputFolder(options.out);
    const epoch = options.sourceDateEpoch ?? Math.floor(Date.parse(`${book.config.date.padEnd(10, '-01').slice(0, 10)}T00:00:00Z`) / 1000);
    const slug = slugOf(book.config.title);
    const outputs = new Map<string, Uint8Array>();
    const cached = new Set<string>();
    let pdf: PdfResult | undefined;
    // Without Chrome the EPUB is still built and written; the missing browser is reported after.
    let pdfError: Error | undefined;
    const wantEpub = options.targets.includes('epub');
    const epubTemplates = wantEpub ? await readEpubTemplates(templatesDir) : undefined;
    const packageEpub = async (pages: PageMarks | undefined): Promise<{bytes: Uint8Array; cached: boolean}> => {
      const memo = scale();
      const render = () => renderEpub(book, epubTemplates!, {
        sourceDateEpoch: epoch, ...(pages ? {pages} : {}), ...(cache ? {zip: cache.zip, xhtml: cache.xhtml} : {}), ...(memo ? {scale: memo} : {}),
      });
      return cache ? cache.epub(book, {sourceDateEpoch: epoch, pages}, render) : {bytes: await render(), cached: false};
    };
    // The EPUB's page list needs the print page numbers, which the PDF knows after its layout
    // pass: the EPUB is packaged then, in this thread, while Chrome prints the final pass.
    let early: {pages: PageMarks; result: Promise<{bytes: Uint8Array; cached: boolean}>} | undefined;
    if (options.targets.includes('pdf')) {
      pdf = await stage('pdf', async () => {
        // Loaded when needed: Puppeteer takes half a second to import, and EPUB-only builds skip it.
        const memo = scale();
        const render = async () => (await import('./targets/pdf/index.ts')).renderPdf(book, {
          templates: templatesDir, sourceDateEpoch: epoch, ...(memo ? {scale: memo} : {}),
          ...(wantEpub ? {
            onPlan: (plan: PageMarks) => {
              const result = packageEpub(plan);
              result.catch(() => {});
              early = {pages: plan, result};
            },
          } : {}),
        });
        if (!cache) return render();
        const {result, cached: reused} = await cache.pdf(book, {sourceDateEpoch: epoch}, render);
        if (reused) {
          cached.add(`${slug}.pdf`);
          details.pdf = 'unchanged, from the cache';
        }
        return result;
      }).catch((error: unknown) => {
        // By name: the browser module is loaded lazily, only for PDF builds.
        if (!(error instanceof Error) || error.constructor.name !== 'ChromeNotFoundError') throw error;
        pdfError = error;
        return undefined;
      });
      if (pdf) outputs.set(`${slug}.pdf`, pdf.bytes);
      if (pdf && pdf.refused.length > 0) {
        // Nothing the sanitiser lets through asks for other files or URLs; if the print page did, say so.
        const report = new VFile({path: path.join(options.out, `${slug}.pdf`)});
        for (const url of pdf.refused) {
          report.message(`The print page asked for \`${url}\`; refused (the book loads only its own files)`, {source: 'book', ruleId: 'refused-request'});
        }
        files.push(report);
      }
    }
    if (wantEpub) {
      const pages = pdf ? {marks: pdf.pageMarks, folios: pdf.folios} : undefined;
      const bytes = await stage('epub', async () => {
        // Packaged during the PDF's final pass, if with the plan the PDF ended with (renderPdf
        // returns the very objects it gave onPlan; a second layout gives new ones).
        const during = early && pdf && early.pages.marks === pdf.pageMarks && early.pages.folios === pdf.folios ? early : undefined;
        const packaged = during ? await during.result : await packageEpub(pages);
        const xhtml = cache?.report.xhtml;
        const remembered = xhtml && xhtml.hits > 0 ? `${xhtml.hits} of ${xhtml.hits + xhtml.misses} documents from the cache` : undefined;
        if (packaged.cached) {
          cached.add(`${slug}.epub`);
          details.epub = 'unchanged, from the cache';
        } else if (during) details.epub = ['packaged while Chrome printed', remembered].filter(Boolean).join('; ');
        else if (remembered) details.epub = remembered;
        return packaged.bytes;
      });
      outputs.set(`${slug}.epub`, bytes);
    }
    await stage('write', () => writeOutputsAtomically(options.out, outputs));
    if (pdfError) throw pdfError;
    return {
      files, ok: !hasErrors(files), timings, book, ...cacheReport,
      outputs: [...outputs].map(([name, bytes]) => ({
        path: path.join(options.out, name), bytes: bytes.byteLength,
        ...(name.endsWith('.pdf') && pdf ? {pages: pdf.pageCount} : {}),
        ...(cached.has(name) ? {cached: true} : {}),
      })),
    };
  }
}

export function slugOf(title: string): string {
  return title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'book';
}

export async function readEpubTemplates(templates = TEMPLATES): Promise<EpubTemplates> {
  const read = (name: string) => fs.readFile(path.join(templates, 'epub', name), 'utf8');
  const hljs = await fs.readFile(fileURLToPath(import.meta.resolve('highlight.js/styles/a11y-light.css')), 'utf8');
  return {
    contentOpf: await read('content.opf.ejs'),
    nav: await read('nav.xhtml.ejs'),
    ncx: await read('toc.ncx.ejs'),
    chapter: await read('chapter.xhtml.ejs'),
    css: `${await read('style.css')}\n/* Code highlighting: highlight.js a11y-light (WCAG AA contrast) */\n${hljs}`,
  };
}
