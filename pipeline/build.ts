/**
 * The one place that sequences the stages: load (a reader's BookSource, assembled into the
 * Book) → paginate → targets (the EPUB packaged while Chrome prints) → atomic write.
 */
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {VFile} from 'vfile';
import {loadBook, hasErrors} from './stages/load.ts';
import {blocksOutputs} from './stages/placeholder.ts';
import {ScaleAhead, type ScaleMemo} from './stages/scale.ts';
import type {BookConfig} from './config/schema.ts';
import {epubTarget, pdfTarget, printTarget, type Target} from './targets/index.ts';
import type {PrintProfile} from './config/schema.ts';
import type {Finding} from './targets/print/preflight.ts';
import type {Element} from 'hast';
import {visit} from './util/visit.ts';
import type {PdfResult} from './targets/pdf/index.ts';

type PrintedPdf = PdfResult & {cached?: boolean};
import {writeOutputsAtomically, checkOutputFolder} from './io/output.ts';
import type {Asset, Book, PagePlan} from './model.ts';
import type {BuildCache, CacheReport} from './cache/index.ts';

export const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');

export type {Target};

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
  /** Print profiles besides the screen PDF (default: book.yaml's `print.profiles`). */
  printProfiles?: PrintProfile[];
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
    const wantEpub = options.targets.includes('epub');
    const wantPdf = options.targets.includes('pdf');
    // New images start being scaled for the targets while the rest of the book loads.
    let ahead: ScaleAhead | undefined;
    const onFreshImage = options.checkOnly ? undefined : (asset: Asset, config: BookConfig) => {
      ahead ??= new ScaleAhead([
        ...(wantEpub ? [epubTarget.imageBounds(config)] : []),
        ...(wantPdf ? [pdfTarget.imageBounds(config)] : []),
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
    const epubTemplates = wantEpub ? await epubTarget.templates(templatesDir) : undefined;
    const packageEpub = async (pages: PagePlan | undefined): Promise<{bytes: Uint8Array; cached: boolean}> => {
      const memo = scale();
      const render = () => epubTarget.render(book, epubTemplates!, {
        sourceDateEpoch: epoch, ...(pages ? {pages} : {}), ...(cache ? {zip: cache.zip, xhtml: cache.xhtml} : {}), ...(memo ? {scale: memo} : {}),
      });
      return cache ? cache.epub(book, {sourceDateEpoch: epoch, pages}, render) : {bytes: await render(), cached: false};
    };
    // The PDF: paginate, then the final pass. The EPUB's page list needs the plan, which the
    // paginate step gives: the EPUB is packaged then, in this thread, while Chrome prints.
    let pdf: PrintedPdf | undefined;
    let packaging: Promise<{bytes: Uint8Array; cached: boolean}> | undefined;
    // Without Chrome the EPUB is still built and written; the missing browser is reported after.
    let pdfError: Error | undefined;
    if (wantPdf) {
      pdf = await printBook(book, epoch, scale(), (pages) => {
        if (!wantEpub) return;
        packaging = packageEpub(pages);
        packaging.catch(() => {});
      }).catch((error: unknown) => {
        // By name: the browser module is loaded lazily, only for PDF builds.
        if (!(error instanceof Error) || error.constructor.name !== 'ChromeNotFoundError') throw error;
        pdfError = error;
        return undefined;
      });
      if (pdf?.replanned) packaging = undefined; // packaged again below, with the pages as printed
      if (pdf?.cached) cached.add(`${slug}.pdf`);
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
    if (pdf) {
      const profiles = printTarget.profiles(book.config, options.printProfiles);
      if (profiles.length > 0) {
        const took: string[] = [];
        const time = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
          const start = performance.now();
          try {
            return await run();
          } finally {
            timings[`print ${name}`] = Math.round(performance.now() - start);
            took.push(`${name} ${((performance.now() - start) / 1000).toFixed(1)} s`);
          }
        };
        details.print = '';
        const made = await stage('print', async () => {
          const files = await printTarget.files(book, pdf!.bytes, pdf!.pageCount, profiles, {slug, sourceDateEpoch: epoch, time});
          details.print = took.join(', ');
          return files;
        })
          .catch((error: unknown) => {
            if (!(error instanceof Error) || error.constructor.name !== 'GhostscriptNotFoundError') throw error;
            pdfError = error;
            return undefined;
          });
        if (made) {
          reportFindings(book, files, path.join(options.out, `${slug}.pdf`), made.screen);
          for (const file of made.files) {
            outputs.set(file.name, file.bytes);
            reportFindings(book, files, path.join(options.out, file.name), file.findings);
          }
        }
      }
    }
    if (wantEpub) {
      const bytes = await stage('epub', async () => {
        const during = packaging;
        const packaged = await (during ?? packageEpub(pdf?.pages));
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
        ...(name.endsWith('.pdf') && pdf ? {pages: name.endsWith('.cover.pdf') ? 1 : pdf.pageCount} : {}),
        ...(cached.has(name) ? {cached: true} : {}),
      })),
    };
  }

  /** The print PDF (the cache's when nothing it is made from changed); `onPlan` hears the paginate step's plan. */
  async function printBook(book: Book, epoch: number, scaleMemo: ScaleMemo | undefined, onPlan: (pages: PagePlan) => void): Promise<PrintedPdf> {
    const reused = cache ? await cache.pdfLookup(book, epoch) : undefined;
    if (reused) {
      return stage('pdf', async () => {
        details.pdf = 'unchanged, from the cache';
        return {...reused, cached: true};
      });
    }
    const printer = await pdfTarget.open(book, {templates: templatesDir, sourceDateEpoch: epoch, ...(scaleMemo ? {scale: scaleMemo} : {})});
    try {
      const layout = await stage('paginate', () => printer.paginate());
      onPlan(layout.pages);
      const result = await stage('pdf', () => printer.render(layout));
      await cache?.pdfStore(book, epoch, result);
      return result;
    } finally {
      await printer.close();
    }
  }
}

/**
 * The preflight's findings as messages: a low-resolution image at its figure's line (found by
 * its pixels: an image below the print's resolution is never scaled, so it has the pixels of
 * its file), everything else on the output file.
 */
function reportFindings(book: Book, files: VFile[], output: string, findings: Finding[]) {
  if (findings.length === 0) return;
  const figures = findings.some((finding) => finding.image) ? figuresBySize(book) : new Map<string, Figure | undefined>();
  let report: VFile | undefined;
  for (const finding of findings) {
    const where = finding.page ? `page ${finding.page}: ` : '';
    const figure = finding.image ? figures.get(`${finding.image.pixelWidth}x${finding.image.pixelHeight}`) : undefined;
    const file = figure ? files.find((f) => f.path === figure.doc.displayPath) : undefined;
    const target = file ?? (report ??= (() => {
      const created = new VFile({path: output});
      files.push(created);
      return created;
    })());
    const message = target.message(`${path.basename(output)}, ${where}${finding.message}`, {
      ...(file && figure?.place ? {place: figure.place} : {}), source: 'book', ruleId: finding.rule,
    });
    message.fatal = finding.severity === 'error' ? true : false;
  }
}

type Figure = {doc: Book['docs'][number]; place: import('unist').Position | undefined};

/** The first use of each image, by its pixel size (`WxH`): one walk of the book for all findings. */
function figuresBySize(book: Book): Map<string, Figure | undefined> {
  const firstUse = new Map<string, Figure>();
  for (const doc of book.docs) {
    visit(doc.tree, 'element', (node: Element) => {
      const asset = node.tagName === 'img' && typeof node.properties?.dataAsset === 'string' ? node.properties.dataAsset : undefined;
      if (asset && !firstUse.has(asset)) firstUse.set(asset, {doc, place: node.position});
    });
  }
  // The first asset of each size decides, used in a figure or not (the cover is not).
  const bySize = new Map<string, Figure | undefined>();
  for (const asset of book.assets.values()) {
    const key = `${asset.width}x${asset.height}`;
    if (!bySize.has(key)) bySize.set(key, firstUse.get(asset.path));
  }
  return bySize;
}

export function slugOf(title: string): string {
  return title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'book';
}


/** The EPUB templates of a templates folder (default: the pipeline's own). */
export function readEpubTemplates(templates = TEMPLATES): ReturnType<typeof epubTarget.templates> {
  return epubTarget.templates(templates);
}
