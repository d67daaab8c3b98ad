/**
 * Joins Chrome's prints of the final pass's pieces into one tagged PDF: the pages, the tag tree
 * (its `Document` element, parent tree and ID tree), and the named destinations. Links that
 * Chrome wrote as `ACROSS_PIECES` URIs (their targets were in another piece) become named
 * destinations again.
 */
import {
  PDFArray, PDFDict, PDFHexString, PDFName, PDFNumber, PDFPageLeaf, PDFPageTree, PDFRawStream,
  PDFRef, PDFString, type PDFDocument, type PDFObject,
} from 'pdf-lib';
import {ACROSS_PIECES} from './html.ts';
import {decodeName, type Destination} from './read.ts';

const STRUCT_ID = /^node(\d+)$/;

/**
 * Moves every page and tag of `docs[1…]` into `docs[0]`, in order, and returns it. Chrome's
 * names for tagged elements (`node…`) are shifted so the pieces' names stay apart and in order.
 * The other documents must not be used afterwards.
 */
export function joinPrints(docs: PDFDocument[]): PDFDocument {
  const [base, ...rest] = docs;
  if (!base) throw new Error('joinPrints: no document');
  if (rest.length === 0) return base;
  const joined = {...structureOf(base), subsetTags: subsetTagsOf(base)};
  for (const doc of rest) appendDocument(base, joined, doc);
  writeTrees(base, joined);
  // pdf-lib caches the list of pages (and its length) once asked: pages added beneath the page
  // tree are not in it until it is dropped. It has no public way to drop it.
  const cached = base as unknown as {pageCache: {invalidate(): void}; pageCount?: number};
  cached.pageCache.invalidate();
  cached.pageCount = undefined;
  return base;
}

/** A font subset's name: six capital letters, a plus, the font's name (PDF 9.6.4). */
const SUBSET = /^\/([A-Z]{6})\+(.+)$/;

/** The parts of a piece's structure the join reads and writes. */
interface Structure {
  pages: PDFPageTree;
  pagesRef: PDFRef;
  root: PDFDict;
  rootRef: PDFRef;
  document: PDFDict;
  documentRef: PDFRef;
  parentTree: PDFDict;
  nums: [number, PDFObject][];
  nextKey: number;
  ids: [string, PDFObject][];
  idTree?: PDFDict;
  dests: PDFDict;
}

/** The joined document's structure, and the subset tags of the fonts it already has. */
interface Joined extends Structure {
  subsetTags: Set<string>;
}

function structureOf(doc: PDFDocument): Structure {
  const {catalog, context} = doc;
  const pagesRef = catalog.get(PDFName.of('Pages'));
  const rootRef = catalog.get(PDFName.of('StructTreeRoot'));
  if (!(pagesRef instanceof PDFRef) || !(rootRef instanceof PDFRef)) throw new Error('Chrome printed an untagged piece; cannot join it');
  const root = context.lookup(rootRef, PDFDict);
  const documentRef = root.get(PDFName.of('K'));
  if (!(documentRef instanceof PDFRef)) throw new Error('Chrome printed a tag tree without a Document element; cannot join it');
  const parentTree = root.lookup(PDFName.of('ParentTree'), PDFDict);
  const nums: [number, PDFObject][] = [];
  walkTree(doc, parentTree, 'Nums', (key, value) => nums.push([(key as PDFNumber).asNumber(), value]));
  const ids: [string, PDFObject][] = [];
  const idTree = root.lookup(PDFName.of('IDTree'));
  if (idTree instanceof PDFDict) walkTree(doc, idTree, 'Names', (key, value) => ids.push([textOf(key), value]));
  const dests = destsOf(doc);
  return {
    pages: context.lookup(pagesRef) as PDFPageTree, pagesRef, root, rootRef,
    document: context.lookup(documentRef, PDFDict), documentRef, parentTree, nums,
    nextKey: (root.lookup(PDFName.of('ParentTreeNextKey'), PDFNumber)).asNumber(),
    ids, ...(idTree instanceof PDFDict ? {idTree} : {}), dests,
  };
}

function subsetTagsOf(doc: PDFDocument): Set<string> {
  const tags = new Set<string>();
  for (const [, object] of doc.context.enumerateIndirectObjects()) {
    if (!(object instanceof PDFDict)) continue;
    for (const key of ['BaseFont', 'FontName']) {
      const name = object.get(PDFName.of(key));
      const match = name instanceof PDFName ? SUBSET.exec(name.asString()) : null;
      if (match) tags.add(match[1]!);
    }
  }
  return tags;
}

/** The catalog's named destinations (Chrome writes none when nothing links inside a document). */
function destsOf(doc: PDFDocument): PDFDict {
  const dests = doc.catalog.lookup(PDFName.of('Dests'));
  if (dests instanceof PDFDict) return dests;
  const made = doc.context.obj({});
  doc.catalog.set(PDFName.of('Dests'), doc.context.register(made));
  return made;
}

/** The entries of a number or name tree (`Nums` or `Names`), leaves in order. */
function walkTree(doc: PDFDocument, node: PDFDict, kind: 'Nums' | 'Names', each: (key: PDFObject, value: PDFObject) => void, seen = new Set<PDFDict>()): void {
  if (seen.has(node)) return;
  seen.add(node);
  const entries = node.lookup(PDFName.of(kind));
  if (entries instanceof PDFArray) for (let i = 0; i + 1 < entries.size(); i += 2) each(doc.context.lookup(entries.get(i))!, entries.get(i + 1));
  const kids = node.lookup(PDFName.of('Kids'));
  if (kids instanceof PDFArray) for (let i = 0; i < kids.size(); i++) walkTree(doc, kids.lookup(i, PDFDict), kind, each, seen);
}

/**
 * The refs of a tree's inner nodes and leaves below `node` (not `node` itself). pdf-lib makes
 * one PDFRef per object number, so refs compare by identity.
 */
function treeRefs(doc: PDFDocument, node: PDFDict, out = new Set<PDFRef>()): Set<PDFRef> {
  const kids = node.lookup(PDFName.of('Kids'));
  if (kids instanceof PDFArray) {
    for (let i = 0; i < kids.size(); i++) {
      const ref = kids.get(i);
      if (ref instanceof PDFRef && !out.has(ref)) {
        out.add(ref);
        treeRefs(doc, doc.context.lookup(ref, PDFDict), out);
      }
    }
  }
  return out;
}

function textOf(value: PDFObject): string {
  return value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : value.toString();
}

function largestStructId(ids: [string, PDFObject][]): number {
  let max = 0;
  for (const [name] of ids) {
    const match = STRUCT_ID.exec(name);
    if (match) max = Math.max(max, Number(match[1]));
  }
  return max;
}

function appendDocument(base: PDFDocument, into: Joined, doc: PDFDocument): void {
  const from = structureOf(doc);
  const context = base.context;
  const keyOffset = into.nextKey;
  const idOffset = largestStructId(into.ids);

  // The objects that are joined rather than copied, and what their references become.
  const map = new Map<PDFRef, PDFRef>([
    [from.pagesRef, into.pagesRef],
    [from.rootRef, into.rootRef],
    [from.documentRef, into.documentRef],
  ]);
  const skip = new Set<PDFRef>(map.keys());
  const skipRef = (value: PDFObject | undefined) => {
    if (value instanceof PDFRef) skip.add(value);
  };
  skipRef(doc.context.trailerInfo.Root);
  skipRef(doc.context.trailerInfo.Info);
  skipRef(from.root.get(PDFName.of('ParentTree')));
  skipRef(from.root.get(PDFName.of('IDTree')));
  skipRef(doc.catalog.get(PDFName.of('Dests')));
  for (const ref of treeRefs(doc, from.parentTree)) skip.add(ref);
  if (from.idTree) for (const ref of treeRefs(doc, from.idTree)) skip.add(ref);

  const objects = doc.context.enumerateIndirectObjects();
  for (const [ref] of objects) if (!skip.has(ref)) map.set(ref, context.nextRef());

  // Each piece names its font subsets AAAAAA+, BAAAAA+…; different subsets in one file must have
  // different tags, so a tag the document already has gets the next free one.
  const retagged = new Map<string, string>();
  const retag = (name: PDFName): PDFName => {
    const match = SUBSET.exec(name.asString());
    if (!match) return name;
    let tag = retagged.get(match[1]!);
    if (!tag) {
      tag = match[1]!;
      for (let n = 0; into.subsetTags.has(tag); n++) tag = subsetTag(n);
      into.subsetTags.add(tag);
      retagged.set(match[1]!, tag);
    }
    return PDFName.of(`${tag}+${match[2]}`);
  };
  const shiftId = (value: PDFString | PDFHexString): PDFObject => {
    const match = STRUCT_ID.exec(value.decodeText());
    return match ? PDFString.of(`node${String(Number(match[1]) + idOffset).padStart(8, '0')}`) : value;
  };
  const copy = (value: PDFObject): PDFObject => {
    if (value instanceof PDFRef) {
      const target = map.get(value);
      if (!target) throw new Error(`Cannot join the PDF pieces: ${value.toString()} points to an object that is not copied`);
      return target;
    }
    if (value instanceof PDFString || value instanceof PDFHexString) return shiftId(value);
    if (value instanceof PDFArray) {
      const out = PDFArray.withContext(context);
      for (let i = 0; i < value.size(); i++) out.push(copy(value.get(i)));
      return out;
    }
    if (value instanceof PDFDict) {
      const entries = new Map<PDFName, PDFObject>();
      for (const [key, entry] of value.entries()) {
        const name = key.asString();
        // The parent tree's keys of the pages and annotations follow those already joined.
        if ((name === '/StructParents' || name === '/StructParent') && entry instanceof PDFNumber) entries.set(key, PDFNumber.of(entry.asNumber() + keyOffset));
        else if ((name === '/BaseFont' || name === '/FontName') && entry instanceof PDFName) entries.set(key, retag(entry));
        else entries.set(key, copy(entry));
      }
      if (value instanceof PDFPageLeaf) return PDFPageLeaf.fromMapWithContext(entries, context);
      if (value instanceof PDFPageTree) return PDFPageTree.fromMapWithContext(entries, context);
      return PDFDict.fromMapWithContext(entries, context);
    }
    return value;
  };
  for (const [ref, object] of objects) {
    const target = map.get(ref);
    if (!target || skip.has(ref)) continue;
    if (object instanceof PDFRawStream) {
      // Stream contents (page content, fonts, images) are bytes; only the dictionary is copied.
      context.assign(target, PDFRawStream.of(copy(object.dict) as PDFDict, object.contents));
    } else {
      context.assign(target, copy(object));
    }
  }

  // Pages: the piece's top-level page nodes go under the joined root.
  const kids = from.pages.Kids();
  for (let i = 0; i < kids.size(); i++) into.pages.Kids().push(copy(kids.get(i)));
  into.pages.set(PDFName.of('Count'), PDFNumber.of(into.pages.Count().asNumber() + from.pages.Count().asNumber()));

  // Tags: the piece's top-level elements follow those of the joined Document element.
  const own = into.document.get(PDFName.of('K'));
  const elements = own instanceof PDFArray ? own : PDFArray.withContext(context);
  if (!(own instanceof PDFArray) && own) elements.push(own);
  const theirs = from.document.get(PDFName.of('K'));
  if (theirs instanceof PDFArray) for (let i = 0; i < theirs.size(); i++) elements.push(copy(theirs.get(i)));
  else if (theirs) elements.push(copy(theirs));
  into.document.set(PDFName.of('K'), elements);

  for (const [key, value] of from.nums) into.nums.push([key + keyOffset, copy(value)]);
  into.nextKey += from.nextKey;
  for (const [name, value] of from.ids) into.ids.push([STRUCT_ID.test(name) ? (shiftId(PDFString.of(name)) as PDFString).decodeText() : name, copy(value)]);
  for (const [key, value] of from.dests.entries()) into.dests.set(key, copy(value));
}

/** The n-th subset tag in a fixed order: AAAAAA, BAAAAA, … ZAAAAA, ABAAAA, … */
function subsetTag(n: number): string {
  let tag = '';
  for (let i = 0; i < 6; i++, n = Math.floor(n / 26)) tag += String.fromCharCode(65 + (n % 26));
  return tag;
}

/** Writes the joined parent tree and ID tree as single flat nodes. */
function writeTrees(base: PDFDocument, s: Structure): void {
  const {context} = base;
  for (const ref of treeRefs(base, s.parentTree)) context.delete(ref);
  s.parentTree.delete(PDFName.of('Kids'));
  s.parentTree.delete(PDFName.of('Limits'));
  s.parentTree.set(PDFName.of('Nums'), context.obj(s.nums.flatMap(([key, value]) => [PDFNumber.of(key), value])));
  s.root.set(PDFName.of('ParentTreeNextKey'), PDFNumber.of(s.nextKey));
  if (s.ids.length === 0) return;
  if (!s.idTree) {
    s.idTree = context.obj({});
    s.root.set(PDFName.of('IDTree'), context.register(s.idTree));
  }
  for (const ref of treeRefs(base, s.idTree)) context.delete(ref);
  s.idTree.delete(PDFName.of('Kids'));
  s.idTree.delete(PDFName.of('Limits'));
  // Name trees are sorted; Chrome's names sort by their number.
  const number = (name: string) => Number(STRUCT_ID.exec(name)?.[1] ?? Infinity);
  s.ids.sort((a, b) => number(a[0]) - number(b[0]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  s.idTree.set(PDFName.of('Names'), context.obj(s.ids.flatMap(([name, value]) => [PDFString.of(name), value])));
}

/**
 * Gives every internal link a destination: the links Chrome wrote as `ACROSS_PIECES` URIs
 * become named destinations, and a name the PDF has no destination for (its target was in
 * another piece, or Chrome recorded none for an inline anchor) is added from `fallback`: where
 * the layout pass measured it, as a final page number. A link with neither is left without an
 * action. Returns the ids that could not be placed.
 */
export function linkAcross(doc: PDFDocument, fallback: (id: string) => Destination | undefined): string[] {
  const {context} = doc;
  const dests = destsOf(doc);
  const pages = doc.getPages();
  const missing = new Set<string>();
  const place = (id: string, name: PDFName): boolean => {
    if (dests.has(name)) return true;
    const where = fallback(id);
    const target = where ? pages[where.page - 1] : undefined;
    if (!where || !target) {
      missing.add(id);
      return false;
    }
    dests.set(name, context.obj([target.ref, PDFName.of('XYZ'), 0, where.y, 0]));
    return true;
  };
  for (const page of pages) {
    const annots = page.node.Annots();
    if (!annots) continue;
    for (let i = 0; i < annots.size(); i++) {
      const annot = annots.lookup(i);
      if (!(annot instanceof PDFDict)) continue;
      const dest = annot.get(PDFName.of('Dest'));
      if (dest instanceof PDFName) {
        if (!place(decodeName(dest.asString()), dest)) annot.delete(PDFName.of('Dest'));
        continue;
      }
      const action = annot.lookup(PDFName.of('A'));
      if (!(action instanceof PDFDict)) continue;
      const uri = action.lookup(PDFName.of('URI'));
      const text = uri instanceof PDFString || uri instanceof PDFHexString ? uri.decodeText() : '';
      if (!text.startsWith(ACROSS_PIECES)) continue;
      const id = decodeURIComponent(text.slice(ACROSS_PIECES.length));
      const name = PDFName.of(id);
      annot.delete(PDFName.of('A'));
      if (place(id, name)) annot.set(PDFName.of('Dest'), name);
    }
  }
  return [...missing];
}

/** Points the named destinations of `moves` (by id) at their new page and height. */
export function moveDestinations(doc: PDFDocument, moves: Map<string, Destination>): void {
  if (moves.size === 0) return;
  const dests = destsOf(doc);
  const pages = doc.getPages();
  for (const [key] of dests.entries()) {
    const where = moves.get(decodeName(key.asString()));
    const target = where ? pages[where.page - 1] : undefined;
    if (where && target) dests.set(key, doc.context.obj([target.ref, PDFName.of('XYZ'), 0, where.y, 0]));
  }
}
