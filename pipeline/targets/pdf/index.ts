/**
 * The print PDF target: two Chrome passes and a pdf-lib finish.
 * Pass 1 prints with placeholder page numbers and records where every needed id lands
 * (`/Dests`). Chapter lengths do not change when blank pages are added before rectos,
 * so every final page number is computed at once; pass 2 prints with them filled in. Both
 * passes print the book in pieces side by side (every top-level block starts a page); the final
 * pass's pieces start on right-hand pages and are joined into one tagged PDF (`join.ts`).
 */
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';
import v8 from 'node:v8';
import vm from 'node:vm';
import {PDFDocument} from 'pdf-lib';
import type {Asset, Book} from '../../model.ts';
import {scaleAssets, type ScaleMemo} from '../../stages/scale.ts';
import {printDocument, printImageBounds, type Block, type PrintDocument} from './html.ts';
import {openBrowser, type Resources} from './chrome.ts';
import {readDestinations, type Destination} from './read.ts';
import {finishPdf, READ, type PageInfo, type OutlineItem} from './finish.ts';
import {joinPrints, linkAcross} from './join.ts';

const require = createRequire(import.meta.url);

export interface PdfResult {
  bytes: Uint8Array;
  pageCount: number;
  /** Printed folio and the id of the first block that starts on that page, in order. */
  pageMarks: {label: string; id: string}[];
  /** Folio of every measured id (TOC entries, index references). */
  folios: Map<string, string>;
  timings: Record<string, number>;
  refused: string[];
  /** Pass-2 check: chapter starts that did not land where predicted. */
  mismatches: string[];
}

export interface PdfOptions {
  templates: string;
  sourceDateEpoch: number;
  timeoutMs?: number;
  log?: (message: string) => void;
  /**
   * Called with the page plan once the layout pass has been read, before the final pass: the
   * folios it gives are the ones the PDF ends with (unless the final pass finds that a chapter
   * moved, and the layout is measured again: then it is called again). The result's
   * `pageMarks` and `folios` are the very objects of the last call.
   */
  onPlan?: (plan: {marks: {label: string; id: string}[]; folios: Map<string, string>}) => void;
  /** Scaled images remembered, or scaled ahead (`printImageBounds` gives the bounds asked for). */
  scale?: ScaleMemo;
  /** Keep Chrome's soft hyphens in the text layer (soft-hyphens.ts): only to compare with, in tests. */
  keepSoftHyphens?: boolean;
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

export async function renderPdf(original: Book, options: PdfOptions): Promise<PdfResult> {
  let book = original;
  options = {...options, log: options.log ?? ((message: string) => process.stderr.write(`${message}\n`))};
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, run: () => Promise<T>) => {
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
  const launching = time('launch', () => openBrowser({get: (pathname) => resources?.get(pathname)}, options.log));
  launching.catch(() => undefined);
  try {
    book = await time('scale', () => printResolution(book, options.scale));
    resources = printResources(book, () => placeholders);
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
    const layout = async (withPlaceholders: boolean) => {
      placeholders = withPlaceholders;
      // Pass 1: layout with placeholder numbers, in pieces whose pages follow each other; learn
      // where everything lands.
      const first = printDocument(book, css, {probe: true, pieces: LAYOUT_PIECES});
      const dests1 = measured(first, await pass('pass1', first.pieces, false));
      const plan = planPages(first.blocks, dests1, new Set(first.blockChildIds));
      options.onPlan?.({marks: plan.pageMarks, folios: plan.folios});

      // Pass 2: the real thing, in pieces that start on right-hand pages, joined with pdf-lib.
      placeholders = false;
      const rectoStarts = new Set([...plan.blockStart].filter(([, page]) => page % 2 === 1).map(([id]) => id));
      const second = printDocument(book, css, {folios: plan.folios, blanksBefore: plan.blanksBefore, pieces: FINAL_PIECES, rectoStarts});
      const printed = await pass('pass2', second.pieces, true);
      const mismatches: string[] = [];
      let offset = 0;
      printed.forEach((doc, i) => {
        // Each piece must start where the plan put its first block.
        const predicted = plan.blockStart.get(second.pieceStarts[i]!);
        if (predicted !== undefined && predicted !== offset + 1) mismatches.push(`${second.pieceStarts[i]}: predicted ${predicted}, printed ${offset + 1}`);
        offset += doc.catalog.Pages().Count().asNumber();
      });
      const doc2 = await time('join', async () => joinPrints(printed));
      // Where Chrome placed what the pieces link to within themselves…
      const recorded = readDestinations(doc2);
      for (const block of second.blocks) {
        const predicted = plan.blockStart.get(block.id);
        const actual = recorded.get(block.id)?.page ?? recorded.get(`${block.id}-title`)?.page;
        if (predicted !== undefined && actual !== undefined && predicted !== actual) mismatches.push(`${block.id}: predicted ${predicted}, printed ${actual}`);
      }
      // …and, from the layout pass, what they link to in another piece.
      const unplaced = linkAcross(doc2, (id) => plan.places.get(id));
      if (unplaced.length > 0) options.log?.(`${unplaced.length} link target(s) could not be placed in the PDF (${unplaced.slice(0, 3).join(', ')}); those links do nothing.`);
      const dests2 = readDestinations(doc2);
      return {plan, blocks: second.blocks, doc2, dests2, mismatches};
    };
    let result: Awaited<ReturnType<typeof layout>> | undefined = await layout(true);
    if (result.mismatches.length > 0) {
      // An image whose placeholder laid out differently: measure again with the real images.
      options.log?.(`Page layout changed between passes (${result.mismatches[0]}); measuring again with images.`);
      result = undefined; // (its document is not kept through two more prints)
      result = await layout(false);
    }
    // Chrome's part is done: its memory is free for the finish.
    const session = await launching;
    await session.close();
    const {plan, blocks, doc2, dests2, mismatches} = result;
    if (mismatches.length > 0) options.log?.(`Page numbers moved between passes (${mismatches.join('; ')}); the table of contents may be off.`);

    const pageCount = doc2.getPageCount();
    const pages = pageInfos(book, blocks, plan, pageCount);
    const font = fs.readFileSync(require.resolve('@fontsource/source-sans-3/files/source-sans-3-latin-400-normal.woff'));
    const bytes = await time('finish', () => finishPdf(doc2, {
      book, pages, bodyStart: plan.bodyStart - 1, outline: outlineOf(book), destinations: dests2,
      sourceDateEpoch: options.sourceDateEpoch, font, creator: 'book-pipeline (Markdown → EPUB 3 + print PDF)',
      ...(options.keepSoftHyphens ? {keepSoftHyphens: true} : {}),
    }));
    return {
      bytes, pageCount, pageMarks: plan.pageMarks, folios: plan.folios, timings,
      refused: [...session.refused], mismatches,
    };
  } finally {
    await launching.then((session) => session.close(), () => undefined);
  }
}

/** Raster images at about 300 dpi across the text width; larger ones only slow Chrome down. */
async function printResolution(book: Book, memo?: ScaleMemo): Promise<Book> {
  const {maxWidth, maxHeight} = printImageBounds(book.config.print);
  const assets = await scaleAssets(book.assets, maxWidth, maxHeight, memo);
  const scaled = (asset: Asset | undefined) => (asset ? assets.get(asset.path) ?? asset : undefined);
  return {
    ...book, assets,
    ...(book.cover ? {cover: scaled(book.cover)!} : {}),
    parts: book.parts.map((part) => ({...part, ...(part.image ? {image: scaled(part.image)!} : {})})),
  };
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
 * How many documents the layout pass prints at once. Chrome lays out and prints one document on
 * about one core; two pieces use both of a small machine's cores and need no more memory than
 * the whole book in one (the layout pass paints nothing but its probe links).
 */
export const LAYOUT_PIECES = 2;

/**
 * How many documents the final pass prints at once: the same reasoning, with the tag tree. The
 * pieces start on right-hand pages and are joined by `joinPrints`.
 */
export const FINAL_PIECES = 2;

/**
 * The destinations of the layout pass's pieces as if they had been printed as one document:
 * each piece's pages are those before its probe, and the next piece's pages follow.
 */
export function joinLayoutDestinations(pieces: Map<string, Destination>[]): Map<string, Destination> {
  const joined = new Map<string, Destination>();
  let offset = 0;
  for (const dests of pieces) {
    const probe = dests.get('page-probe');
    if (!probe) throw new Error('Chrome could not lay out the print document (the page probe is missing from the first pass); run with --debug');
    for (const [id, dest] of dests) if (id !== 'page-probe' && dest.page < probe.page) joined.set(id, {...dest, page: dest.page + offset});
    offset += probe.page - 1;
  }
  return joined;
}

/** Where the layout pass (printed as `layout`'s pieces) put every id it measured. */
export function measured(layout: PrintDocument, docs: PDFDocument[]): Map<string, Destination> {
  const dests = joinLayoutDestinations(docs.map(readDestinations));
  // Chrome occasionally records no destination for an inline anchor: use its block's.
  for (const id of layout.measuredIds) {
    const block = layout.enclosingBlock.get(id);
    const fallback = block ? dests.get(block) : undefined;
    if (!dests.has(id) && fallback) dests.set(id, fallback);
  }
  if (!layout.blocks.every((block) => dests.has(block.id))) {
    throw new Error('Chrome could not lay out the print document (a block is missing from the first pass); run with --debug');
  }
  return dests;
}

/** An empty SVG with the image's intrinsic size, for the layout pass. */
export function placeholderOf(asset: Asset): string {
  if (asset.mediaType === 'image/svg+xml') {
    const open = /<svg\b[^>]*>/i.exec(Buffer.from(asset.bytes).toString('utf8'))?.[0] ?? '<svg>';
    const keep = [...open.matchAll(/\s(width|height|viewBox|preserveAspectRatio)\s*=\s*("[^"]*"|'[^']*')/g)].map((m) => ` ${m[1]}=${m[2]}`).join('');
    return `<svg xmlns="http://www.w3.org/2000/svg"${keep}/>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${asset.width ?? 1}" height="${asset.height ?? 1}"/>`;
}

interface Plan {
  blanksBefore: Set<string>;
  blankPages: Set<number>;
  /** Final (pass 2) page of each block's first page. */
  blockStart: Map<string, number>;
  folios: Map<string, string>;
  /** 1-based page where folio 1 is. */
  bodyStart: number;
  pageMarks: {label: string; id: string}[];
  /** Final page (and height on it) of every id the layout pass placed. */
  places: Map<string, Destination>;
}

/** Where blank pages go and what every page number becomes, from pass 1 alone. */
export function planPages(blocks: Block[], dests: Map<string, Destination>, candidates: Set<string>): Plan {
  const blanksBefore = new Set<string>();
  const blankPages = new Set<number>();
  const blockStart = new Map<string, number>();
  const starts1: {block: Block; page: number}[] = [];
  let shift = 0;
  for (const block of blocks) {
    const page1 = dests.get(block.id)?.page;
    if (page1 === undefined) continue;
    let page = page1 + shift;
    if (block.recto && page % 2 === 0) {
      blanksBefore.add(block.id);
      blankPages.add(page);
      shift++;
      page++;
    }
    starts1.push({block, page: page1});
    blockStart.set(block.id, page);
  }
  const finalPage = (page1: number): number => {
    let owner = starts1[0];
    for (const start of starts1) if (start.page <= page1) owner = start;
    return page1 + ((owner ? blockStart.get(owner.block.id)! - owner.page : 0));
  };
  const firstBody = blocks.find((b) => b.matter === 'body');
  const bodyStart = firstBody ? blockStart.get(firstBody.id) ?? 1 : 1;
  const folio = (page: number) => (page < bodyStart ? roman(page) : String(page - bodyStart + 1));
  const folios = new Map<string, string>();
  const byPage = new Map<number, {id: string; y: number}>();
  const places = new Map<string, Destination>();
  for (const [id, dest] of dests) {
    const page = finalPage(dest.page);
    places.set(id, {page, y: dest.y});
    folios.set(id, folio(page));
    const current = byPage.get(page);
    // The block nearest the top of the page (PDF y grows upwards).
    if (candidates.has(id) && (!current || dest.y > current.y)) byPage.set(page, {id, y: dest.y});
  }
  const pageMarks = [...byPage].sort((a, b) => a[0] - b[0]).map(([page, {id}]) => ({label: folio(page), id}));
  return {blanksBefore, blankPages, blockStart, folios, bodyStart, pageMarks, places};
}

function pageInfos(book: Book, blocks: Block[], plan: Plan, pageCount: number): PageInfo[] {
  const starts = blocks
    .map((block) => ({block, page: plan.blockStart.get(block.id)}))
    .filter((s): s is {block: Block; page: number} => s.page !== undefined)
    .sort((a, b) => a.page - b.page);
  const silent = new Set(['half-title', 'title', 'copyright', 'part']);
  const infos: PageInfo[] = [];
  for (let page = 1; page <= pageCount; page++) {
    const folio = page < plan.bodyStart ? roman(page) : String(page - plan.bodyStart + 1);
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

export function roman(n: number): string {
  const table: [number, string][] = [[1000, 'm'], [900, 'cm'], [500, 'd'], [400, 'cd'], [100, 'c'], [90, 'xc'], [50, 'l'], [40, 'xl'], [10, 'x'], [9, 'ix'], [5, 'v'], [4, 'iv'], [1, 'i']];
  let out = '';
  for (const [value, letters] of table) while (n >= value) { out += letters; n -= value; }
  return out;
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
