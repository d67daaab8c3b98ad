/**
 * The print document: the whole book as one HTML file for Chrome. Pure. Called once per
 * pass with what the previous pass measured (page numbers, where blank pages go).
 */
import type {Element, ElementContent, Root} from 'hast';
import {h} from 'hastscript';
import {toString} from 'hast-util-to-string';
import type {Book, Doc} from '../../model.ts';
import {cloneTree, removeByClass, xhtmlDocument} from '../xhtml.ts';
import {visit} from '../../util/visit.ts';
import {hyphenate} from './hyphenate.ts';
import {pageRules} from './geometry.ts';
import {halfTitlePage, titlePage, copyrightPage, partPage, docSection, readingOrder} from '../pages.ts';
import {sizeImage} from '../../stages/media.ts';
import {floatId, isFloatId, lineId, type Note, type NoteBlock, type NotePlan} from './footnotes.ts';
import {takeNotes, placeNotes, measureBody, measureIds, markFirstLines, noteBlocks} from './notes-html.ts';

/** One top-level block of the print document, in reading order. */
export interface Block {
  id: string;
  kind: 'half-title' | 'title' | 'copyright' | 'toc' | 'front' | 'part' | 'chapter' | 'back';
  /** Running-head text for the pages of this block ('' = none). */
  head: string;
  /** Starts on a right-hand page. */
  recto: boolean;
  /** Folios in lower-case roman (front matter) or arabic (body). */
  matter: 'front' | 'body';
  /** Ids inside the block that the TOC links to (chapter title, sections). */
}

export interface PrintLayout {
  /** Id → folio text ("ix", "17"): filled into TOC, index and page references. */
  folios?: Map<string, string>;
  /** Block ids before which a blank page is inserted. */
  blanksBefore?: Set<string>;
  /**
   * Layout pass: append links to every id we need to locate, so Chrome records where they land,
   * and paint nothing else (`visibility: hidden` lays out the same boxes).
   */
  probe?: boolean;
  /**
   * Split the book into this many documents at block boundaries (every block starts on a new
   * page, so each lays out as it does in the whole book), to be printed side by side.
   */
  pieces?: number;
  /**
   * Final pass in pieces: the blocks that start on an odd (right-hand) page of the finished
   * book. Only they may start a piece, whose first page is a right-hand one (or its inner and
   * outer margins would swap).
   */
  rectoStarts?: Set<string>;
  /**
   * Footnotes at the bottom of their page (`print.notes: page`): the floats planned so far
   * (footnotes.ts). Notes no float holds are set at the end of their chapter.
   */
  notes?: NotePlan;
  /**
   * Layout pass: print only these blocks (each starts a page, so each lays out as in the whole
   * book). The rest of the book is still made, so links and page references read the same.
   */
  only?: Set<string>;
  /** Also make the document that measures every note's height (`PrintDocument.measure`). */
  measureNotes?: boolean;
}

/**
 * Where a piece of the final pass links to an id printed in another piece. Chrome writes such a
 * link as a URI (it cannot see the target); the join turns it back into a named destination.
 */
export const ACROSS_PIECES = 'http://book.invalid/across#';

export interface PrintDocument {
  /**
   * The documents to print, in order (one unless `pieces` was asked for). In a layout pass each
   * ends with a probe that starts on a page of its own (id `page-probe`): the pages before it
   * are the piece's pages.
   */
  pieces: string[];
  blocks: Block[];
  /** Ids whose page the finished PDF needs (TOC entries, index references, page references). */
  measuredIds: string[];
  /** Ids of the top-level blocks of every section (paragraphs, figures…). */
  blockChildIds: string[];
  /** The id of the block each piece starts with. */
  pieceStarts: string[];
  /** Id → id of the block that holds it, where Chrome records no destination of its own. */
  enclosingBlock: Map<string, string>;
  /** Page-bottom notes in reading order (none when the book gathers them per chapter). */
  notes: Note[];
  /** Blocks whose first line is marked (chapters with page-bottom notes; `lineId`). */
  lineBlocks: string[];
  /** Ids inside the page-bottom notes. */
  insideNotes: Set<string>;
  /** Each chapter's block ids, in reading order: where a page's notes may stand. */
  blockIdsByDoc: Map<string, NoteBlock[]>;
  /** With `measureNotes`: every note on a page of its own, to measure (footnotes.ts). */
  measure?: string;
}

const PLACEHOLDER = '000';

export function printDocument(book: Book, css: string, layout: PrintLayout): PrintDocument {
  const {config} = book;
  const blocks: Block[] = [];
  const body: ElementContent[] = [];
  const measured = new Set<string>();
  const add = (block: Block, element: Element) => {
    if (layout.blanksBefore?.has(block.id)) {
      body.push(h('div', {className: ['blank-page'], ariaHidden: 'true'}));
    }
    element.properties = {...element.properties, id: element.properties?.id ?? block.id, dataBlock: block.id};
    blocks.push(block);
    body.push(element);
  };

  const half = halfTitlePage(book);
  half.properties.id = 'half-title';
  add({id: 'half-title', kind: 'half-title', head: '', recto: true, matter: 'front'}, half);
  add({id: 'title-page', kind: 'title', head: '', recto: true, matter: 'front'}, titlePage(book));
  add({id: 'copyright-page', kind: 'copyright', head: '', recto: false, matter: 'front'}, copyrightPage(book));

  const beforeToc = book.docs.filter((d) => d.kind === 'front' && /dedication|epigraph/.test(d.id));
  for (const doc of beforeToc) add({id: doc.id, kind: 'front', head: '', recto: true, matter: 'front'}, docElement(doc));

  add({id: 'toc', kind: 'toc', head: 'Contents', recto: true, matter: 'front'}, tocElement(book, layout.folios, measured, beforeToc));

  for (const {part, doc} of readingOrder(book, beforeToc)) {
    if (part) {
      add({id: part.id, kind: 'part', head: '', recto: true, matter: 'body'},
        partPage(part, part.image ? `/assets/${part.image.name}` : undefined));
      continue;
    }
    const kind = doc.kind === 'chapter' ? 'chapter' : doc.kind === 'front' ? 'front' : 'back';
    add({
      id: doc.id, kind, recto: true, matter: doc.kind === 'front' ? 'front' : 'body',
      head: doc.number !== undefined ? `${doc.number}  ${doc.title}` : doc.title,
    }, docElement(doc));
  }

  const root: Root = {type: 'root', children: body};
  removeByClass(root, 'online-only');
  const pageNotes = config.print.notes === 'page' ? takeNotes(root) : {notes: [], asides: new Map<string, Element>(), inside: new Set<string>()};
  const blockIdsByDoc = noteBlocks(root);
  const lineBlocks = pageNotes.notes.length > 0 ? markFirstLines(root, new Set(pageNotes.notes.map((n) => n.docId))) : [];
  if (pageNotes.notes.length > 0) placeNotes(root, pageNotes.notes, pageNotes.asides, layout.notes ?? new Map());
  const blockOf = blockOfIds(root);
  rewriteForPrint(root, book, layout.folios, measured, blockOf);
  hyphenate(root, config.language);
  // The notes as printed (links and hyphens done), each measured on a page of its own.
  let measure: string | undefined;
  if (layout.measureNotes && pageNotes.notes.length > 0) {
    const measureRoot: Root = {type: 'root', children: measureBody(pageNotes.notes, new Map([...pageNotes.asides].map(([id, aside]) => [id, cloneTree(aside)])))};
    measureRoot.children.push(h('div', {className: ['page-probe'], id: 'page-probe'}, measureIds(pageNotes.notes).map((id) => h('a', {href: `#${id}`}, '.'))));
    measure = documentOf(book, css, measureRoot, LAYOUT_ONLY);
  }

  // Links from one block into another may cross from one piece into another: the join needs
  // to know where their targets land.
  for (const id of crossBlockTargets(root, blockOf)) measured.add(id);
  const childIds = blockChildIds(root).filter((id) => !isFloatId(id));
  const noteIds = [...pageNotes.notes.flatMap((note) => [note.id, note.callId]), ...lineBlocks.map(lineId)];
  for (const [docId, specs] of layout.notes ?? []) for (const spec of specs) noteIds.push(floatId(docId, spec.page));
  const probeIds = layout.probe ? new Set([...blocks.map((b) => b.id), ...measured, ...childIds, ...noteIds]) : new Set<string>();
  const canStart = layout.probe ? () => true
    : (child: Root['children'][number]) => child.type === 'element' && layout.rectoStarts?.has(String(child.properties?.dataBlock)) === true;
  const only = layout.only;
  const printed = only ? root.children.filter((child) => child.type === 'element' && only.has(String(child.properties?.dataBlock))) : root.children;
  const runs = splitBlocks(printed, layout.probe || layout.rectoStarts ? layout.pieces ?? 1 : 1, canStart);
  // The piece each top-level block is printed in (runs are consecutive blocks; none when left out).
  const runOfChild = new Map(runs.flatMap((run, r) => run.map((child) => [child, r] as const)));
  const runOf = root.children.map((child) => runOfChild.get(child));
  const pieceOf = (id: string) => runOf[blockOf.get(id)!];
  if (runs.length > 1 && !layout.probe) linkAcrossPieces(runs, pieceOf);
  const pieces = runs.map((children, r) => {
    if (layout.probe) {
      // The ids to locate that this piece holds, in reading order (blockOf's).
      const here = ['page-probe', ...[...blockOf.keys()].filter((id) => probeIds.has(id) && pieceOf(id) === r)];
      children = [...children, h('div', {className: ['page-probe'], id: 'page-probe'}, here.map((id) => h('a', {href: `#${id}`}, '.')))];
    }
    return documentOf(book, css, {type: 'root', children}, layout.probe ? LAYOUT_ONLY : '');
  });
  const pieceStarts = runs.map((run) => {
    const first = run.find((child): child is Element => child.type === 'element' && typeof child.properties?.dataBlock === 'string');
    return String(first?.properties.dataBlock ?? '');
  });
  return {
    pieces, pieceStarts, blocks: only ? blocks.filter((b) => only.has(b.id)) : blocks, measuredIds: [...measured], blockChildIds: childIds, enclosingBlock: enclosingBlocks(root),
    notes: pageNotes.notes, insideNotes: pageNotes.inside, lineBlocks, blockIdsByDoc, ...(measure ? {measure} : {}),
  };
}

/** In the layout pass only the probe links are painted: Chrome lays out the same pages faster. */
const LAYOUT_ONLY = 'body, body * { visibility: hidden !important; } .page-probe, .page-probe * { visibility: visible !important; }';

function documentOf(book: Book, css: string, root: Root, extraCss: string): string {
  // Served as XHTML: the serializer writes empty elements as <x/>, which only XML parses right.
  return xhtmlDocument({
    lang: book.config.language, title: book.config.title, body: root,
    head: `<style>/*<![CDATA[*/\n${css.replace(/\]\]>/g, '')}\n${pageRules(book)}\n${extraCss}/*]]>*/</style>`,
  });
}

/**
 * The top-level blocks in at most `count` runs of about equal size (by their text), in order.
 * Blocks are never cut.
 */
function splitBlocks(children: Root['children'], count: number, canStart: (child: Root['children'][number]) => boolean): Root['children'][] {
  if (count <= 1 || children.length <= 1) return [children];
  const sizes = children.map((child) => toString(child).length + 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  const runs: Root['children'][] = [[]];
  let sum = 0;
  children.forEach((child, i) => {
    const run = runs[runs.length - 1]!;
    if (run.length > 0 && runs.length < count && sum + sizes[i]! / 2 > (total * runs.length) / count && canStart(child)) runs.push([child]);
    else run.push(child);
    sum += sizes[i]!;
  });
  return runs;
}

/** Every id in the document, in reading order, and the index of the top-level block that holds it. */
function blockOfIds(root: Root): Map<string, number> {
  const blockOf = new Map<string, number>();
  root.children.forEach((child, i) => visit(child, 'element', (node: Element) => {
    if (typeof node.properties?.id === 'string') blockOf.set(node.properties.id, i);
  }));
  return blockOf;
}

/** Ids that a link in one top-level block points to in another. */
function crossBlockTargets(root: Root, blockOf: Map<string, number>): string[] {
  const targets = new Set<string>();
  root.children.forEach((child, i) => visit(child, 'element', (node: Element) => {
    const href = node.tagName === 'a' ? node.properties?.href : undefined;
    if (typeof href !== 'string' || !href.startsWith('#')) return;
    const block = blockOf.get(href.slice(1));
    if (block !== undefined && block !== i) targets.add(href.slice(1));
  }));
  return [...targets];
}

/**
 * Links whose target is printed in another piece point to `ACROSS_PIECES` + the id. (Every
 * remaining `#` link has a target: rewriteForPrint turned the others into text.)
 */
function linkAcrossPieces(runs: Root['children'][], pieceOf: (id: string) => number | undefined): void {
  runs.forEach((run, r) => {
    for (const child of run) visit(child, 'element', (node: Element) => {
      const href = node.tagName === 'a' ? node.properties?.href : undefined;
      if (typeof href === 'string' && href.startsWith('#') && pieceOf(href.slice(1)) !== r) {
        node.properties.href = `${ACROSS_PIECES}${encodeURIComponent(href.slice(1))}`;
      }
    });
  });
}

/** Ids of the blocks in each document section: candidates for page-break markers. */
export function blockChildIds(root: Root): string[] {
  const ids: string[] = [];
  for (const block of root.children) {
    if (block.type !== 'element') continue;
    for (const child of block.children) {
      if (child.type === 'element' && typeof child.properties?.id === 'string') ids.push(child.properties.id);
    }
  }
  return ids;
}

export function enclosingBlocks(root: Root): Map<string, string> {
  const out = new Map<string, string>();
  for (const section of root.children) {
    if (section.type !== 'element') continue;
    for (const block of section.children) {
      if (block.type !== 'element' || typeof block.properties?.id !== 'string') continue;
      const blockId = block.properties.id;
      visit(block, 'element', (node: Element) => {
        if (typeof node.properties?.id === 'string' && node !== block) out.set(node.properties.id, blockId);
      });
    }
  }
  return out;
}

function docElement(doc: Doc): Element {
  const tree = cloneTree(doc.tree);
  return docSection(doc, tree.children as ElementContent[]);
}

function tocElement(book: Book, folios: Map<string, string> | undefined, measured: Set<string>, skip: Doc[]): Element {
  const entry = (id: string, label: Array<ElementContent | string>, level: number): Element => {
    measured.add(id);
    return h('li', {className: [`toc-entry`, `toc-level-${level}`]}, [
      h('a', {href: `#${id}`}, [
        h('span', {className: ['toc-text']}, label),
        h('span', {className: ['toc-leader'], ariaHidden: 'true'}),
        h('span', {className: ['toc-page']}, folios?.get(id) ?? PLACEHOLDER),
      ]),
    ]);
  };
  const titleId = (doc: Doc) => doc.fragments.get('') ?? `${doc.id}-title`;
  const items: Element[] = [];
  for (const {part, doc} of readingOrder(book, skip)) {
    if (part) {
      items.push(entry(part.id, [h('span', {className: ['toc-part-label']}, `${part.label}`), ' ', part.title], 0));
      continue;
    }
    if (doc.number !== undefined) {
      items.push(entry(titleId(doc), [h('span', {className: ['toc-number']}, String(doc.number)), ' ', doc.title], 1));
      for (const section of doc.sections) {
        items.push(entry(section.id, [h('span', {className: ['toc-number']}, section.number ?? ''), ' ', section.title], 2));
      }
    } else {
      items.push(entry(titleId(doc), [doc.title], 1));
    }
  }
  return h('nav', {className: ['toc'], id: 'toc', role: 'doc-toc', ariaLabelledBy: 'toc-title'}, [
    h('h1', {id: 'toc-title', className: ['doc-title']}, 'Contents'),
    h('ol', items),
  ]);
}

/** Links, images and page numbers for print. */
function rewriteForPrint(root: Root, book: Book, folios: Map<string, string> | undefined, measured: Set<string>, present: Map<string, unknown>) {
  visit(root, 'element', (node: Element) => {
    const props = node.properties ?? {};
    if (node.tagName === 'a' && typeof props.href === 'string' && props.href.startsWith('#') && !present.has(props.href.slice(1))) {
      // The target is online-only: say so instead of linking nowhere.
      node.tagName = 'span';
      node.properties = {className: ['xref', 'online-only-ref']};
      node.children = [...node.children, {type: 'text', value: ' (online edition)'}];
      return;
    }
    if (node.tagName === 'img') {
      const asset = typeof props.dataAsset === 'string' ? book.assets.get(props.dataAsset) : undefined;
      if (asset) {
        props.src = `/assets/${asset.name}`;
        sizeImage(props, asset);
      }
      delete props.dataAsset;
    }
    if (node.tagName === 'span' && Array.isArray(props.className) && props.className.includes('idx') && typeof props.id === 'string') {
      // Chrome records an inline element's destination at the start of its block; a zero-size
      // inline-block marks the exact spot, so index page numbers are right for long paragraphs.
      node.children.unshift({type: 'element', tagName: 'span', properties: {id: props.id, className: ['anchor']}, children: []});
      delete props.id;
      return;
    }
    if (node.tagName === 'span' && Array.isArray(props.className) && props.className.includes('pageref')) {
      const id = String(props.dataTarget);
      measured.add(id);
      const number = node.children.find((c): c is Element => c.type === 'element');
      if (number) number.children = [{type: 'text', value: folios?.get(id) ?? PLACEHOLDER}];
      return;
    }
    if (node.tagName === 'a' && Array.isArray(props.className) && props.className.includes('index-ref')) {
      const id = String(props.href).slice(1);
      measured.add(id);
      node.children = [{type: 'text', value: folios?.get(id) ?? PLACEHOLDER}];
    }
    if (node.tagName === 'a' && Array.isArray(props.className) && props.className.includes('external')) {
      // The URL is printed after the link text unless the text is the URL.
      const text = toString(node).trim();
      const href = String(props.href ?? '');
      if (text === href || `${text}/` === href || text.replace(/^https?:\/\//, '') === href.replace(/^https?:\/\//, '')) {
        props.className = [...(props.className as string[]), 'url-shown'];
      } else {
        props.dataUrl = href.replace(/^mailto:/, '');
      }
    }
  });
}
