/**
 * The paginate step: Chrome's layout pass. The print document is printed once with placeholder
 * page numbers (and, first, same-size placeholders for the images), in pieces whose pages follow
 * each other, and the PDF is read for where every needed id landed (`/Dests`). Chapter lengths
 * do not change when blank pages are added before right-hand openers, so every final page
 * number follows at once: the `PagePlan` both targets consume, and the layout the final pass
 * prints with (index.ts).
 */
import type {PDFDocument} from 'pdf-lib';
import type {Asset, Book, PagePlan} from '../../model.ts';
import {roman} from '../../util/roman.ts';
import {printDocument, type Block, type PrintDocument} from './html.ts';
import {readDestinations, type Destination} from './read.ts';
import {textArea} from './geometry.ts';
import {noteHeights, settleNotes, placesBesideNotes, floatPages, lineId, type NoteMetrics, type NotePlan} from './footnotes.ts';

/**
 * How many documents the layout pass prints at once. Chrome lays out and prints one document on
 * about one core; two pieces use both of a small machine's cores and need no more memory than
 * the whole book in one (the layout pass paints nothing but its probe links).
 */
export const LAYOUT_PIECES = 2;

/** The outcome of the layout pass: the public plan and what the final pass needs besides. */
export interface PageLayout {
  pages: PagePlan;
  blanksBefore: Set<string>;
  blankPages: Set<number>;
  /** Final page of each block's first page. */
  blockStart: Map<string, number>;
  /** 1-based page where folio 1 is. */
  bodyStart: number;
  /** Final page (and height on it) of every id the layout pass placed. */
  places: Map<string, Destination>;
  /** Laid out with placeholder images (a mismatch in the final pass measures again without). */
  placeholders: boolean;
  /** Where each page's footnotes stand (empty when the book gathers them per chapter). */
  notes: NotePlan;
  /** Layout passes it took to settle the notes (1 without page-bottom notes). */
  passes: number;
  /** Notes that are not at the foot of their call's page: why, for the log. */
  unsettled: string[];
}

/** Prints HTML documents side by side and reads them (index.ts gives Chrome's). */
export type PrintPass = (name: string, htmls: string[], tagged: boolean) => Promise<PDFDocument[]>;

/** Lays the book out and plans its pages. */
export async function paginate(book: Book, css: string, pass: PrintPass, placeholders: boolean): Promise<PageLayout> {
  const first = printDocument(book, css, {probe: true, pieces: LAYOUT_PIECES, measureNotes: true});
  const printed = await pass('pass1', first.measure ? [...first.pieces, first.measure] : first.pieces, false);
  let pieces = printed.slice(0, first.pieces.length).map(readDestinations);
  let dests = measuredFrom(first, pieces);
  let plan: NotePlan = new Map();
  let passes = 1;
  const unsettled: string[] = [];
  if (first.measure) {
    const area = textArea(book.config.print);
    const lineBlocks = new Set(first.lineBlocks);
    const besideNotes = () => {
      const moves = placesBesideNotes(dests, {floats: floatPages(plan, dests), inside: first.insideNotes, lineBlocks, firstLine: (id) => dests.get(lineId(id))}, area);
      for (const [id, dest] of moves) dests.set(id, dest);
    };
    const metrics: NoteMetrics = {...area, ...noteHeights(first.notes, readDestinations(printed.at(-1)!), area.contentHeight)};
    // A note longer than half a page is not set at a page's foot: it stays at its chapter's end.
    const long = first.notes.filter((note) => (metrics.heights.get(note.id) ?? 0) > area.contentHeight / 2);
    for (const note of long) unsettled.push(`${note.id} (${note.docId}): longer than half a page, set at the chapter's end`);
    const notes = first.notes.filter((note) => !long.includes(note));
    // Each block starts a page: a pass lays out only the chapters whose floats changed, and the
    // others keep their pages.
    const measures = byBlock(first.blocks, dests, pageCountOf(pieces));
    for (;;) {
      const step = settleNotes(notes, plan, dests, first.blockIdsByDoc, metrics);
      if (step.done) break;
      if (passes >= MAX_NOTE_PASSES) {
        unsettled.push(`the page-bottom notes did not settle in ${MAX_NOTE_PASSES} layout passes; the notes not yet placed are set at the end of their chapters`);
        break;
      }
      plan = step.plan;
      const part = printDocument(book, css, {probe: true, pieces: LAYOUT_PIECES, notes: plan, only: step.redo});
      pieces = (await pass(`pass1.${++passes}`, part.pieces, false)).map(readDestinations);
      for (const [id, measure] of byBlock(part.blocks, measuredFrom(part, pieces), pageCountOf(pieces))) measures.set(id, measure);
      dests = assemble(first.blocks, measures);
      besideNotes();
    }
    for (const [docId, specs] of plan) {
      for (const spec of specs) {
        if (spec.carried.length > 0) unsettled.push(`${spec.carried.join(', ')} (${docId}): set at the foot of the next page, no room below the call`);
        if (spec.atEnd?.length) unsettled.push(`${spec.atEnd.join(', ')} (${docId}): no room on the page of the call or the next, set at the chapter's end`);
      }
    }
  }
  return {...planPages(first.blocks, dests, new Set(first.blockChildIds)), placeholders, notes: plan, passes, unsettled};
}

/** A block's pages in a layout pass: how many, and where its ids are counted from its first page (0). */
interface BlockMeasure {
  pages: number;
  ids: Map<string, Destination>;
}

/** The pages of a layout pass's pieces together (each piece's pages are those before its probe). */
function pageCountOf(pieces: Map<string, Destination>[]): number {
  return pieces.reduce((sum, dests) => sum + (dests.get('page-probe')?.page ?? 1) - 1, 0);
}

/** Splits a pass's destinations by block (every block starts a page; they are in page order). */
function byBlock(blocks: Block[], dests: Map<string, Destination>, pageCount: number): Map<string, BlockMeasure> {
  const starts = blocks.map((block) => ({id: block.id, page: dests.get(block.id)!.page}));
  const out = new Map<string, BlockMeasure>();
  // The block each page belongs to.
  const ownerOf: {id: string; page: number}[] = [];
  starts.forEach((start, i) => {
    const pages = (starts[i + 1]?.page ?? pageCount + 1) - start.page;
    out.set(start.id, {pages, ids: new Map()});
    for (let page = start.page; page < start.page + pages; page++) ownerOf[page] = start;
  });
  for (const [id, dest] of dests) {
    const owner = ownerOf[dest.page];
    if (owner) out.get(owner.id)!.ids.set(id, {page: dest.page - owner.page, y: dest.y});
  }
  return out;
}

/** The destinations of the whole book from its blocks' measurements, in order from page 1. */
function assemble(blocks: Block[], measures: Map<string, BlockMeasure>): Map<string, Destination> {
  const dests = new Map<string, Destination>();
  let page = 1;
  for (const block of blocks) {
    const measure = measures.get(block.id)!;
    for (const [id, dest] of measure.ids) dests.set(id, {page: page + dest.page, y: dest.y});
    page += measure.pages;
  }
  return dests;
}

/**
 * At most this many layout passes settle the notes: one per page of notes in the chapter with
 * the most, and a few to correct. A book past it gets its remaining notes at the chapters' ends.
 */
export const MAX_NOTE_PASSES = 40;

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
  return measuredFrom(layout, docs.map(readDestinations));
}

/** `measured`, from each piece's destinations as read. */
function measuredFrom(layout: PrintDocument, pieces: Map<string, Destination>[]): Map<string, Destination> {
  const dests = joinLayoutDestinations(pieces);
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

/** The printed folio of a final page: roman before the body, arabic from its first page. */
export function folioOf(page: number, bodyStart: number): string {
  return page < bodyStart ? roman(page) : String(page - bodyStart + 1);
}

/** Where blank pages go and what every page number becomes, from the layout pass alone. */
export function planPages(blocks: Block[], dests: Map<string, Destination>, candidates: Set<string>): Omit<PageLayout, 'placeholders' | 'notes' | 'passes' | 'unsettled'> {
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
  const folios = new Map<string, string>();
  const byPage = new Map<number, {id: string; y: number}>();
  const places = new Map<string, Destination>();
  for (const [id, dest] of dests) {
    const page = finalPage(dest.page);
    places.set(id, {page, y: dest.y});
    folios.set(id, folioOf(page, bodyStart));
    const current = byPage.get(page);
    // The block nearest the top of the page (PDF y grows upwards).
    if (candidates.has(id) && (!current || dest.y > current.y)) byPage.set(page, {id, y: dest.y});
  }
  const marks = [...byPage].sort((a, b) => a[0] - b[0]).map(([page, {id}]) => ({label: folioOf(page, bodyStart), id}));
  return {pages: {marks, folios}, blanksBefore, blankPages, blockStart, bodyStart, places};
}
