/**
 * The print PDF target: the paginate step's layout (paginate.ts), a final Chrome pass with the
 * page numbers filled in, and a pdf-lib finish. Both passes print the book in pieces side by
 * side (every top-level block starts a page); the final pass's pieces start on right-hand pages
 * and are joined into one tagged PDF (`join.ts`).
 *
 *   const printer = openPrinter(book, options);
 *   const layout = await printer.paginate();   // layout.pages: the PagePlan the EPUB uses too
 *   const pdf = await printer.render(layout);  // pdf.replanned: laid out again, pdf.pages new
 *   await printer.close();
 */
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';
import v8 from 'node:v8';
import vm from 'node:vm';
import {PDFDocument} from 'pdf-lib';
import type {Book, PagePlan} from '../../model.ts';
import {scaledBook, type ScaleMemo} from '../../stages/scale.ts';
import {printDocument, type Block} from './html.ts';
import {printImageBounds} from './geometry.ts';
import {openBrowser, type PrintSession, type Resources} from './chrome.ts';
import {readDestinations} from './read.ts';
import {finishPdf, READ, type PageInfo, type OutlineItem} from './finish.ts';
import {joinPrints, linkAcross, moveDestinations} from './join.ts';
import {textArea} from './geometry.ts';
import {placesBesideNotes, floatPages} from './footnotes.ts';
import {paginate, placeholderOf, folioOf, type PageLayout, type PrintPass} from './paginate.ts';

export {LAYOUT_PIECES, joinLayoutDestinations, measured, planPages, placeholderOf, type PageLayout} from './paginate.ts';

const require = createRequire(import.meta.url);

export interface PdfResult {
  bytes: Uint8Array;
  pageCount: number;
  /** The pages as printed: the layout's plan, or a new one when `replanned`. */
  pages: PagePlan;
  /** The final pass found a chapter where the layout did not put it and the book was laid out again (with its images). */
  replanned: boolean;
  timings: Record<string, number>;
  refused: string[];
  /** Final-pass check: chapter starts that did not land where predicted. */
  mismatches: string[];
}

export interface PdfOptions {
  templates: string;
  sourceDateEpoch: number;
  timeoutMs?: number;
  log?: (message: string) => void;
  /** Scaled images remembered, or scaled ahead (`printImageBounds` gives the bounds asked for). */
  scale?: ScaleMemo;
  /** Keep Chrome's soft hyphens in the text layer (soft-hyphens.ts): only to compare with, in tests. */
  keepSoftHyphens?: boolean;
}

/** One book's print: Chrome started, the images scaled to print resolution. */
export interface Printer {
  /** The paginate step: lays the book out (images as placeholders unless told) and plans its pages. */
  paginate(options?: {placeholders?: boolean}): Promise<PageLayout>;
  /** The final pass with `layout`'s page numbers, joined and finished. */
  render(layout: PageLayout): Promise<PdfResult>;
  /** Ends Chrome (also when a step failed); safe to call twice. */
  close(): Promise<void>;
}

const FONT_FILES: Record<string, string> = {
  'serif-400.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-400-normal.woff2',
  'serif-400-italic.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-400-italic.woff2',
  'serif-600.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-600-normal.woff2',
  'serif-600-italic.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-600-italic.woff2',
  'serif-ext-400.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-ext-400-normal.woff2',
  'serif-ext-400-italic.woff2': '@fontsource/source-serif-4/files/source-serif-4-latin-ext-400-italic.woff2',
  'sans-400.woff2': '@fontsource/source-sans-3/files/source-sans-3-latin-400-normal.woff2',
  'sans-600.woff2': '@fontsource/source-sans-3/files/source-sans-3-latin-600-normal.woff2',
  'sans-ext-400.woff2': '@fontsource/source-sans-3/files/source-sans-3-latin-ext-400-normal.woff2',
  'mono-400.woff2': '@fontsource/jetbrains-mono/files/jetbrains-mono-latin-400-normal.woff2',
  'mono-700.woff2': '@fontsource/jetbrains-mono/files/jetbrains-mono-latin-700-normal.woff2',
  'math.woff2': '@fontsource/noto-sans-math/files/noto-sans-math-latin-400-normal.woff2',
};

export function printCss(templates: string): string {
  const temml = fs.readFileSync(require.resolve('temml/dist/Temml-Local.css'), 'utf8')
    .replace(/@font-face\s*\{[^}]*\}/g, '').replace(/direction:\s*ltr;?/g, '');
  const hljs = fs.readFileSync(require.resolve('highlight.js/styles/a11y-light.css'), 'utf8');
  return `${fs.readFileSync(path.join(templates, 'pdf', 'print.css'), 'utf8')}\n${temml}\n${hljs}\n${fs.readFileSync(path.join(templates, 'pdf', 'after.css'), 'utf8')}`;
}

/** The whole print at once: paginate, render, close (tests and the bench; build.ts runs the steps itself). */
export async function renderPdf(book: Book, options: PdfOptions): Promise<PdfResult> {
  const printer = openPrinter(book, options);
  try {
    return await printer.render(await printer.paginate());
  } finally {
    await printer.close();
  }
}

export function openPrinter(original: Book, options: PdfOptions): Printer {
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const timings: Record<string, number> = {};
  const time: Timer = async (name, run) => {
    const start = performance.now();
    try {
      return await run();
    } finally {
      timings[name] = Math.round(performance.now() - start);
    }
  };
  const css = printCss(options.templates);
  // In the layout pass every image is a same-size empty SVG: the layout is the same, and
  // Chrome does not decode and embed megabytes of pictures twice.
  let placeholders = false;
  let resources: Resources | undefined;
  const timeoutMs = options.timeoutMs ?? 300_000;
  // Chrome starts while the images are scaled and the first document is made: it is asked for
  // nothing before the first print. (A failure to start is reported where the session is used.)
  const launching = time('launch', () => openBrowser({get: (pathname) => resources?.get(pathname)}, log));
  launching.catch(() => undefined);
  const scaling = time('scale', async () => {
    const {maxWidth, maxHeight} = printImageBounds(original.config.print);
    const book = await scaledBook(original, maxWidth, maxHeight, options.scale);
    resources = printResources(book, () => placeholders);
    return book;
  });
  scaling.catch(() => undefined);
  /**
   * One Chrome pass: the documents printed side by side (one tab each), read with pdf-lib.
   * Chrome's bytes are dropped once read, and each tab closes as soon as its PDF is back: its
   * renderer holds the laid-out book (hundreds of MB), and the next pass starts in a fresh one.
   */
  const pass = async (name: string, htmls: string[], tagged: boolean): Promise<PDFDocument[]> => {
    // What the previous steps left behind (documents read, trees built) goes before Chrome
    // needs its memory: the heap would otherwise grow by hundreds of MB of garbage first.
    collectGarbage();
    // Each piece is read as soon as it is printed, while Chrome prints the others.
    const session = await launching;
    const docs = await time(name, () => Promise.all(htmls.map(async (html) => PDFDocument.load(await session.print(html, {timeoutMs, tagged}), READ))));
    await session.release();
    return docs;
  };
  const laidOut = async (withPlaceholders: boolean): Promise<PageLayout> => {
    const book = await scaling;
    placeholders = withPlaceholders;
    try {
      const layout = await paginate(book, css, pass, withPlaceholders);
      for (const problem of layout.unsettled) log(`Footnotes: ${problem}.`);
      return layout;
    } finally {
      placeholders = false;
    }
  };
  const printer: Printer = {
    paginate: (paginateOptions) => laidOut(paginateOptions?.placeholders ?? true),
    async render(layout) {
      const book = await scaling;
      let final: FinalPass | undefined = await finalPass(book, css, layout, {pass, time, log});
      let replanned = false;
      if (final.mismatches.length > 0 && layout.placeholders) {
        // An image whose placeholder laid out differently: measure again with the real images.
        log(`Page layout changed between passes (${final.mismatches[0]}); measuring again with images.`);
        final = undefined; // (its document is not kept through two more prints)
        layout = await laidOut(false);
        final = await finalPass(book, css, layout, {pass, time, log});
        replanned = true;
      }
      // Chrome's part is done: its memory is free for the finish.
      const session = await launching;
      await session.close();
      const {blocks, doc, destinations, mismatches} = final;
      if (mismatches.length > 0) log(`Page numbers moved between passes (${mismatches.join('; ')}); the table of contents may be off.`);
      const pageCount = doc.getPageCount();
      const font = fs.readFileSync(require.resolve('@fontsource/source-sans-3/files/source-sans-3-latin-400-normal.woff'));
      const bytes = await time('finish', () => finishPdf(doc, {
        book, pages: pageInfos(book, blocks, layout, pageCount), bodyStart: layout.bodyStart - 1, outline: outlineOf(book), destinations,
        sourceDateEpoch: options.sourceDateEpoch, font, creator: 'book-pipeline (Markdown → EPUB 3 + print PDF)',
        ...(options.keepSoftHyphens ? {keepSoftHyphens: true} : {}),
      }));
      return {bytes, pageCount, pages: layout.pages, replanned, timings, refused: [...session.refused], mismatches};
    },
    close: () => launching.then((session: PrintSession) => session.close(), () => undefined),
  };
  return printer;
}

type Timer = <T>(name: string, run: () => Promise<T>) => Promise<T>;

interface FinalPass {
  blocks: Block[];
  doc: PDFDocument;
  destinations: ReturnType<typeof readDestinations>;
  mismatches: string[];
}

/** The real thing, in pieces that start on right-hand pages, joined with pdf-lib and checked against the layout. */
async function finalPass(book: Book, css: string, layout: PageLayout, steps: {pass: PrintPass; time: Timer; log: (message: string) => void}): Promise<FinalPass> {
  const {pass, time, log} = steps;
  const rectoStarts = new Set([...layout.blockStart].filter(([, page]) => page % 2 === 1).map(([id]) => id));
  const second = printDocument(book, css, {folios: layout.pages.folios, blanksBefore: layout.blanksBefore, pieces: FINAL_PIECES, rectoStarts, notes: layout.notes});
  const printed = await pass('pass2', second.pieces, true);
  const mismatches: string[] = [];
  let offset = 0;
  printed.forEach((doc, i) => {
    // Each piece must start where the plan put its first block.
    const predicted = layout.blockStart.get(second.pieceStarts[i]!);
    if (predicted !== undefined && predicted !== offset + 1) mismatches.push(`${second.pieceStarts[i]}: predicted ${predicted}, printed ${offset + 1}`);
    offset += doc.catalog.Pages().Count().asNumber();
  });
  const doc = await time('join', async () => joinPrints(printed));
  // Where Chrome placed what the pieces link to within themselves…
  const recorded = readDestinations(doc);
  for (const block of second.blocks) {
    const predicted = layout.blockStart.get(block.id);
    const actual = recorded.get(block.id)?.page ?? recorded.get(`${block.id}-title`)?.page;
    if (predicted !== undefined && actual !== undefined && predicted !== actual) mismatches.push(`${block.id}: predicted ${predicted}, printed ${actual}`);
  }
  // …and, from the layout pass, what they link to in another piece.
  const unplaced = linkAcross(doc, (id) => layout.places.get(id));
  if (unplaced.length > 0) log(`${unplaced.length} link target(s) could not be placed in the PDF (${unplaced.slice(0, 3).join(', ')}); those links do nothing.`);
  // Chrome's destinations beside a page's notes go where the layout pass found those blocks.
  const destinations = readDestinations(doc);
  const moves = placesBesideNotes(destinations, {
    floats: floatPages(layout.notes, layout.places), inside: second.insideNotes,
    lineBlocks: new Set(second.lineBlocks), firstLine: (id) => layout.places.get(id),
  }, textArea(book.config.print));
  moveDestinations(doc, moves);
  for (const [id, dest] of moves) destinations.set(id, dest);
  return {blocks: second.blocks, doc, destinations, mismatches};
}

/** What Chrome may load for the print document: the book's images (or their placeholders) and our fonts. */
export function printResources(book: Book, placeholders: () => boolean): Resources {
  const assetsByName = new Map([...book.assets.values()].map((a) => [a.name, a]));
  return {
    get(pathname) {
      if (pathname.startsWith('/assets/')) {
        const asset = assetsByName.get(pathname.slice('/assets/'.length));
        if (asset && placeholders()) return {body: placeholderOf(asset), contentType: 'image/svg+xml'};
        return asset ? {body: asset.bytes, contentType: asset.mediaType} : undefined;
      }
      if (pathname.startsWith('/fonts/')) {
        const file = FONT_FILES[pathname.slice('/fonts/'.length)];
        return file ? {body: fs.readFileSync(require.resolve(file)), contentType: 'font/woff2'} : undefined;
      }
      return undefined;
    },
  };
}

/**
 * How many documents the final pass prints at once: the same reasoning, with the tag tree. The
 * pieces start on right-hand pages and are joined by `joinPrints`.
 */
export const FINAL_PIECES = 2;

function pageInfos(book: Book, blocks: Block[], plan: PageLayout, pageCount: number): PageInfo[] {
  const starts = blocks
    .map((block) => ({block, page: plan.blockStart.get(block.id)}))
    .filter((s): s is {block: Block; page: number} => s.page !== undefined)
    .sort((a, b) => a.page - b.page);
  const silent = new Set(['half-title', 'title', 'copyright', 'part']);
  const infos: PageInfo[] = [];
  for (let page = 1; page <= pageCount; page++) {
    const folio = folioOf(page, plan.bodyStart);
    let owner: Block | undefined;
    for (const start of starts) if (start.page <= page) owner = start.block;
    const opener = starts.some((s) => s.page === page);
    if (plan.blankPages.has(page) || !owner || silent.has(owner.kind) || /dedication|epigraph/.test(owner.id)) {
      infos.push({folio, head: '', placement: 'none'});
    } else if (opener) {
      infos.push({folio, head: '', placement: 'foot'});
    } else {
      infos.push({folio, head: page % 2 === 0 ? book.config.title : owner.head, placement: 'head'});
    }
  }
  return infos;
}

function outlineOf(book: Book): OutlineItem[] {
  const items: OutlineItem[] = [{title: 'Contents', id: 'toc', children: []}];
  const parts = new Map<number, OutlineItem>();
  for (const doc of book.docs) {
    const item: OutlineItem = {
      title: doc.number !== undefined ? `${doc.number} ${doc.title}` : doc.title,
      id: doc.fragments.get('') ?? `${doc.id}-title`,
      children: doc.sections.map((s) => ({title: s.number ? `${s.number} ${s.title}` : s.title, id: s.id, children: []})),
    };
    const partIndex = doc.partIndex;
    if (partIndex === undefined) {
      items.push(item);
      continue;
    }
    let part = parts.get(partIndex);
    if (!part) {
      const p = book.parts[partIndex]!;
      part = {title: `${p.label}: ${p.title}`, id: p.id, children: []};
      parts.set(partIndex, part);
      items.push(part);
    }
    part.children.push(item);
  }
  return items;
}

/**
 * A full garbage collection now. V8 collects when its heap is full, not when Chrome needs the
 * memory: before a print, the garbage of loading the book and of the previous pass (a few
 * hundred MB) would otherwise stay alongside Chrome's peak. `gc` is reached the way Jest's
 * leak detector does: the flag exposes it in new contexts.
 */
let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}
