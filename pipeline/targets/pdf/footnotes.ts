/**
 * Footnotes at the bottom of their page, in a Chrome that has no `float: footnote`: the plan
 * (notes-html.ts puts it into the print document). Pure.
 *
 * A page's notes are set in a float as wide as the text, placed before a block that starts on
 * that page and tall enough to reach the page's bottom; its `shape-outside` leaves the text the
 * top of the float and keeps only the notes' height at the bottom, so the lines after it run
 * on until the notes and then continue on the next page. Where each float goes follows from the
 * layout pass's measurements (`settleNotes`): the paginate step lays the book out, places the
 * notes of the first page of each chapter that is not yet right, and lays out again, until every
 * note sits at the foot of the page of its call. A page's float only moves what comes after it,
 * so the pages before it stay settled and the passes end.
 *
 * When a note's own space pushes its call onto the next page, the space stays reserved and the
 * note goes with its call (the call's line moves over: the note then stays with the text that
 * calls it, and the layout cannot swing back and forth between the two). A note whose call sits
 * so low on a page that no block above leaves room for it is set at the foot of the next page,
 * after the notes of that page's own calls' (a continuation the tests allow).
 */
import type {Element} from 'hast';
import type {Destination} from './read.ts';

/** A note of the print document, in reading order. */
export interface Note {
  /** The `<aside>`'s id. */
  id: string;
  /** The id of the zero-size mark at its call (the first call, if several). */
  callId: string;
  /** The top-level block (chapter) the note belongs to. */
  docId: string;
}

/** The top-level block (chapter, part…) an element of the print document's root stands for. */
export const blockIdOf = (block: Element): string => String(block.properties?.dataBlock ?? block.properties?.id ?? '');

/** A block of a chapter, in order: a float may stand before it when its lines flow around one. */
export interface NoteBlock {
  id: string;
  flowing: boolean;
}

/** One page's float: the notes it holds and where it stands. */
export interface FootSpec {
  /** The page, counted from the chapter's first page (0). */
  page: number;
  /** Note ids set on this page, in order. */
  notes: string[];
  /** Notes of this page's calls (or carried here) that did not fit: they go on the next page. */
  carried: string[];
  /** Notes carried here that did not fit either: set at the chapter's end. */
  atEnd?: string[];
  /** The float stands before this block (`before`) or right after this note's call (`call`). */
  anchor: {kind: 'before' | 'call'; id: string};
  /** Height of the float (pt), from its top to the page's bottom. */
  height: number;
  /** Height kept for the notes at the float's bottom (pt). */
  reserve: number;
}

/** The floats of each chapter, by chapter id. */
export type NotePlan = Map<string, FootSpec[]>;

/** What the settling needs besides the measurements. */
export interface NoteMetrics {
  /** Page height as Chrome measures destinations (with bleed), pt. */
  pageHeight: number;
  /** Height of the text area, pt. */
  contentHeight: number;
  /** One line of body text, pt. */
  lineHeight: number;
  /** Each note's height in the float, and the rule above the notes. */
  heights: Map<string, number>;
  ruleHeight: number;
}

export const FLOAT_CLASS = 'page-notes';
export const floatId = (docId: string, page: number) => `${docId}--notes-p${page}`;
export const isFloatId = (id: string) => /--notes-p\d+$/.test(id);
/** The ids of the measuring document (one note per page, each followed by an end mark). */
export const MEASURE_RULE = 'measure--rule';
export const measureId = (noteId: string) => `measure--${noteId}`;
export const endOf = (id: string) => `${id}--end`;

/** Room kept above a float's bottom for rounding, pt: a float that does not fit moves to the next page. */
const SAFETY = 2;
/** How far a float's bottom may stand above the page's bottom and still count as set there, pt. */
const TOLERANCE = 6;

/** The id of the zero-size mark at the start of a block's first line. */
export const lineId = (id: string) => `${id}--line`;
/** Each note's height (and the rule's) from the measuring print. A note taller than a page counts as a page. */
export function noteHeights(notes: Note[], dests: Map<string, Destination>, contentHeight: number): {heights: Map<string, number>; ruleHeight: number} {
  const heightOf = (id: string): number => {
    const top = dests.get(id);
    const end = dests.get(endOf(id));
    if (!top || !end) throw new Error(`Chrome could not measure the note ${id} (run with --debug)`);
    return top.page === end.page ? Math.max(0, top.y - end.y) : contentHeight;
  };
  return {heights: new Map(notes.map((note) => [note.id, heightOf(measureId(note.id))])), ruleHeight: heightOf(MEASURE_RULE)};
}

/**
 * Where Chrome's destinations are wrong beside a page's notes, and where they should be. A
 * block's box can start beside the notes while its first line (kept with the next, or an orphan)
 * is on the next page: the blocks of `lineBlocks` are where `firstLine` says their first line is.
 * Anything else recorded in a float's notes space (`floats`: each float's page in the numbering
 * of `dests` and the height kept for its notes), except the notes themselves (`inside`), is at
 * the top of the next page.
 */
export function placesBesideNotes(dests: Map<string, Destination>, c: {floats: {page: number; reserve: number}[]; inside: Set<string>; lineBlocks: Set<string>; firstLine: (id: string) => Destination | undefined}, metrics: Pick<NoteMetrics, 'pageHeight' | 'contentHeight'>): Map<string, Destination> {
  const moves = new Map<string, Destination>();
  const byPage = new Map(c.floats.filter((f) => f.reserve > 0).map((f) => [f.page, f.reserve]));
  for (const [id, dest] of dests) {
    if (c.lineBlocks.has(id)) {
      const line = c.firstLine(id);
      if (line && line.page !== dest.page) moves.set(id, line);
      continue;
    }
    const reserve = byPage.get(dest.page);
    if (reserve === undefined || c.inside.has(id) || isFloatId(id) || id.endsWith('--line')) continue;
    if (metrics.pageHeight - dest.y >= metrics.contentHeight - reserve - 1) moves.set(id, {page: dest.page + 1, y: metrics.pageHeight});
  }
  return moves;
}

/** The pages of a plan's floats, counted from where `dests` puts each chapter's start. */
export function floatPages(plan: NotePlan, dests: Map<string, Destination>): {page: number; reserve: number}[] {
  return [...plan].flatMap(([docId, specs]) => {
    const start = dests.get(docId)?.page;
    return start === undefined ? [] : specs.filter((s) => s.height > 0).map((s) => ({page: start + s.page, reserve: s.reserve}));
  });
}

export interface Settled {
  plan: NotePlan;
  /** Every chapter's notes are at the foot of their pages. */
  done: boolean;
  /** The chapters whose floats changed: the next pass lays out only them. */
  redo: Set<string>;
}

/**
 * One step of the settling: from where the last layout pass put everything (with `plan`'s
 * floats), keeps each chapter's floats up to the first page that is not right, plans that page
 * anew and drops the later ones (the next pass measures them).
 */
export function settleNotes(notes: Note[], plan: NotePlan, dests: Map<string, Destination>, blockIds: Map<string, NoteBlock[]>, metrics: NoteMetrics): Settled {
  const next: NotePlan = new Map();
  const redo = new Set<string>();
  const byDoc = new Map<string, Note[]>();
  for (const note of notes) byDoc.set(note.docId, [...(byDoc.get(note.docId) ?? []), note]);
  const offset = (dest: Destination) => metrics.pageHeight - dest.y;
  const need = (ids: string[]) => (ids.length > 0 ? metrics.ruleHeight : 0) + ids.reduce((sum, id) => sum + (metrics.heights.get(id) ?? 0), 0);
  for (const [docId, docNotes] of byDoc) {
    const start = dests.get(docId)?.page;
    if (start === undefined) continue;
    const callPage = (note: Note) => {
      const dest = dests.get(note.callId);
      return dest ? dest.page - start : Number.POSITIVE_INFINITY;
    };
    const specs = plan.get(docId) ?? [];
    const kept: FootSpec[] = [];
    let i = 0;
    let k = 0;
    for (; k < specs.length; k++) {
      const spec = specs[k]!;
      const group = docNotes.slice(i).filter((note) => callPage(note) <= spec.page).map((n) => n.id);
      const float = dests.get(floatId(docId, spec.page));
      // (A page without a float carries all its notes over.)
      const fits = spec.height === 0 || (float !== undefined && float.page - start === spec.page
        && Math.abs(metrics.contentHeight - (offset(float) + spec.height)) <= TOLERANCE);
      if (!fits || !sameList(group, [...spec.notes, ...spec.carried, ...spec.atEnd ?? []])) break;
      kept.push(spec);
      i += spec.notes.length + (spec.atEnd?.length ?? 0);
    }
    if (k === specs.length && i >= docNotes.length) {
      if (kept.length > 0) next.set(docId, kept);
      continue;
    }
    // The page to plan: the first wrong float's, unless the next note's call is before it.
    const nextCall = i < docNotes.length ? callPage(docNotes[i]!) : Number.POSITIVE_INFINITY;
    const carriedFrom = kept.at(-1);
    let page = Math.min(k < specs.length ? specs[k]!.page : Number.POSITIVE_INFINITY, nextCall);
    if (carriedFrom && carriedFrom.carried.length > 0) page = carriedFrom.page + 1;
    if (!Number.isFinite(page)) {
      if (kept.length > 0) next.set(docId, kept);
      continue;
    }
    const old = k < specs.length && specs[k]!.page === page ? specs[k] : undefined;
    const group = docNotes.slice(i).filter((note) => callPage(note) <= page);
    const spec = planPage(docId, page, group, old, {dests, start, offset, need, metrics, blocks: blockIds.get(docId) ?? []});
    // Notes carried over once already that do not fit here either go to the chapter's end.
    const twice = new Set(carriedFrom?.carried ?? []);
    if (carriedFrom && page === carriedFrom.page + 1 && spec.carried.some((id) => twice.has(id))) {
      spec.atEnd = spec.carried.filter((id) => twice.has(id));
      spec.carried = spec.carried.filter((id) => !twice.has(id));
    }
    next.set(docId, [...kept, spec]);
    redo.add(docId);
  }
  return {plan: next, done: redo.size === 0, redo};
}

interface PageContext {
  dests: Map<string, Destination>;
  start: number;
  offset: (dest: Destination) => number;
  need: (ids: string[]) => number;
  metrics: NoteMetrics;
  blocks: NoteBlock[];
}

/** The float of one page: as many of `group`'s notes as fit, above the latest block that leaves them room. */
function planPage(docId: string, page: number, group: Note[], old: FootSpec | undefined, c: PageContext): FootSpec {
  const {contentHeight, lineHeight} = c.metrics;
  const onPage = (id: string) => {
    const dest = c.dests.get(id);
    return dest && dest.page - c.start === page ? dest : undefined;
  };
  // Where a float stood, it stands again (its top does not depend on its height).
  const measuredTop = old ? onPage(floatId(docId, old.page)) : undefined;
  for (let count = group.length; count >= 0; count--) {
    const notes = group.slice(0, count).map((n) => n.id);
    const reserve = Math.max(c.need(notes), old?.reserve ?? 0);
    if (count === 0 && reserve === 0) break;
    const room = contentHeight - reserve - lineHeight;
    if (old && measuredTop && c.offset(measuredTop) <= room + lineHeight) {
      return spec(old.anchor, c.offset(measuredTop));
    }
    // The latest block that leaves the notes room, and after which nothing that cannot flow
    // around a float (a table, figure, listing, equation) starts above them.
    let best: {id: string; top: number} | undefined;
    c.blocks.forEach((block, i) => {
      const dest = onPage(block.id);
      if (!block.flowing || !dest || c.offset(dest) > room) return;
      const after = c.blocks.slice(i + 1).find((b) => c.dests.has(b.id));
      const afterDest = after ? c.dests.get(after.id)! : undefined;
      const blocked = after && !after.flowing && afterDest && afterDest.page - c.start === page && c.offset(afterDest) < contentHeight - reserve;
      if (!blocked && (!best || c.offset(dest) >= best.top)) best = {id: block.id, top: c.offset(dest)};
    });
    if (best) return spec({kind: 'before', id: best.id}, best.top);
    const call = group.slice(0, count).map((n) => ({n, dest: onPage(n.callId)})).find((x) => x.dest !== undefined);
    if (call && c.offset(call.dest!) + 2 * lineHeight <= room + lineHeight) {
      return spec({kind: 'call', id: call.n.callId}, c.offset(call.dest!) + lineHeight);
    }
    function spec(anchor: FootSpec['anchor'], top: number): FootSpec {
      return {page, notes, carried: group.slice(count).map((n) => n.id), anchor, reserve, height: Math.max(reserve, contentHeight - top - SAFETY)};
    }
  }
  // No block on the page leaves room: every note of the group goes to the next page.
  return {page, notes: [], carried: group.map((n) => n.id), anchor: {kind: 'before', id: ''}, height: 0, reserve: 0};
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function hasClass(node: Element, name: string): boolean {
  const c = node.properties?.className;
  return Array.isArray(c) && c.includes(name);
}
