/**
 * What Chrome cannot do, done on the printed PDF with pdf-lib: folios (roman in the front
 * matter, arabic from 1 in the body), running heads, page labels, nested bookmarks,
 * document metadata with an XMP packet, trim and bleed boxes (crop marks: print/profiles.ts).
 * The page furniture is drawn as marked `/Artifact` content, so the tag tree stays intact.
 */
import {
  PDFDocument, PDFName, PDFDict, PDFArray, PDFHexString, PDFNumber, PDFNull, PDFRef, PDFString, PDFStream,
  StandardFonts, ParseSpeeds, rgb, beginMarkedContent, endMarkedContent, type PDFFont, type PDFPage,
} from 'pdf-lib';
import fontkit from '@pdf-lib/fontkit';
import {createHash} from 'node:crypto';
import type {Book} from '../../model.ts';
import type {Destination} from './read.ts';
import {toPoints} from './geometry.ts';
import {cleanSoftHyphens} from './soft-hyphens.ts';

/**
 * How Chrome's PDFs are read: as printed (no producer or dates added), and without pdf-lib's
 * pause for a timer tick every 100 objects (meant for browsers; a second on 900 pages).
 */
export const READ = {updateMetadata: false, parseSpeed: ParseSpeeds.Fastest} as const;

export interface PageInfo {
  /** Folio as printed, '' when the page shows none. */
  folio: string;
  /** Running head text, '' when none. */
  head: string;
  /** Where the folio goes. */
  placement: 'head' | 'foot' | 'none';
}

export interface OutlineItem {
  title: string;
  id: string;
  children: OutlineItem[];
}

export interface FinishOptions {
  book: Book;
  pages: PageInfo[];
  /** Index (0-based) of the first body page; pages before it are numbered in roman. */
  bodyStart: number;
  outline: OutlineItem[];
  destinations: Map<string, Destination>;
  sourceDateEpoch: number;
  font: Uint8Array;
  creator: string;
  /** Leave Chrome's soft hyphens in the text layer (for comparisons). */
  keepSoftHyphens?: boolean;
}

/** `doc`: Chrome's final print, as read for its destinations (read with `READ`). */
export async function finishPdf(doc: PDFDocument, options: FinishOptions): Promise<Uint8Array> {
  doc.registerFontkit(fontkit);
  // Before anything is drawn: the text layer says each word once, whole.
  if (!options.keepSoftHyphens) await cleanSoftHyphens(doc);
  let font: PDFFont;
  try {
    font = await doc.embedFont(options.font, {subset: true});
  } catch {
    font = await doc.embedFont(StandardFonts.Helvetica);
  }
  const {book} = options;
  const print = book.config.print;
  const bleed = print.bleed ? toPoints(print.bleed) : 0;
  const pages = doc.getPages();
  const measure = widths(font);
  pages.forEach((page, i) => {
    const info = options.pages[i];
    if (info) drawFurniture(page, i, info, font, measure, bleed, toPoints(print.margins.top), toPoints(print.margins.bottom), toPoints(print.margins.outer));
    if (bleed > 0) {
      const {width, height} = page.getSize();
      page.setBleedBox(0, 0, width, height);
      page.setTrimBox(bleed, bleed, width - 2 * bleed, height - 2 * bleed);
    }
  });

  // Page labels, so viewers show the printed folios.
  const nums: (PDFNumber | PDFDict)[] = [];
  if (options.bodyStart > 0) nums.push(PDFNumber.of(0), doc.context.obj({S: PDFName.of('r')}));
  nums.push(PDFNumber.of(options.bodyStart), doc.context.obj({S: PDFName.of('D')}));
  doc.catalog.set(PDFName.of('PageLabels'), doc.context.obj({Nums: nums}));

  writeOutline(doc, options.outline, options.destinations);

  const {config} = book;
  const date = new Date(options.sourceDateEpoch * 1000);
  doc.setTitle(config.subtitle ? `${config.title}: ${config.subtitle}` : config.title, {showInWindowTitleBar: true});
  doc.setAuthor(config.authors.map((a) => a.name).join(', '));
  if (config.description) doc.setSubject(config.description);
  if (config.subjects.length > 0) doc.setKeywords([config.subjects.join(', ')]);
  doc.setCreator(options.creator);
  doc.setProducer('Chromium (Skia/PDF) and pdf-lib');
  doc.setCreationDate(date);
  doc.setModificationDate(date);
  doc.setLanguage(config.language);
  const xmp = doc.context.stream(xmpPacket(book, date, options.creator), {Type: 'Metadata', Subtype: 'XML'});
  doc.catalog.set(PDFName.of('Metadata'), doc.context.register(xmp));
  renumberStructureIds(doc);
  groupFigures(doc);
  // A file identifier made from the book and the date (Chrome's is made from the clock).
  const id = createHash('md5').update(`${JSON.stringify(config.identifiers)}\n${config.title}\n${options.sourceDateEpoch}`).digest('hex');
  doc.context.trailerInfo.ID = doc.context.obj([PDFHexString.of(id), PDFHexString.of(id)]);
  // Without a pause for a timer tick every 50 objects (pdf-lib's default, for browsers).
  return doc.save({useObjectStreams: false, updateFieldAppearances: false, objectsPerTick: Infinity});
}

const FURNITURE_SIZE = 8.5;

/**
 * Widths of texts at the furniture's size, each measured once: a running head repeats on every
 * other page, and measuring lays the text out with fontkit each time.
 */
function widths(font: PDFFont): (text: string) => number {
  const known = new Map<string, number>();
  return (text) => {
    let width = known.get(text);
    if (width === undefined) known.set(text, (width = font.widthOfTextAtSize(text, FURNITURE_SIZE)));
    return width;
  };
}

function drawFurniture(page: PDFPage, index: number, info: PageInfo, font: PDFFont, widthOf: (text: string) => number, bleed: number, top: number, bottom: number, outer: number) {
  if (info.placement === 'none') return;
  const {width, height} = page.getSize();
  const size = FURNITURE_SIZE;
  const recto = index % 2 === 0;
  const left = bleed + outer;
  const right = width - bleed - outer;
  page.pushOperators(beginMarkedContent('Artifact'));
  const color = rgb(0.2, 0.2, 0.2);
  if (info.placement === 'head') {
    const y = height - bleed - top * 0.55;
    const head = fit(info.head, widthOf, (right - left) * 0.75);
    if (recto) {
      page.drawText(info.folio, {x: right - widthOf(info.folio), y, size, font, color});
      if (head) page.drawText(head, {x: right - widthOf(info.folio) - 18 - widthOf(head), y, size, font, color});
    } else {
      page.drawText(info.folio, {x: left, y, size, font, color});
      if (head) page.drawText(head, {x: left + widthOf(info.folio) + 18, y, size, font, color});
    }
  } else {
    const y = bleed + bottom * 0.45;
    page.drawText(info.folio, {x: (width - widthOf(info.folio)) / 2, y, size, font, color});
  }
  page.pushOperators(endMarkedContent());
}

function fit(text: string, widthOf: (text: string) => number, max: number): string {
  let out = text.normalize('NFC');
  if (widthOf(out) <= max) return out;
  while (out.length > 1 && widthOf(`${out}…`) > max) out = out.slice(0, -1).trimEnd();
  return `${out}…`;
}

/** Builds /Outlines from our own headings (Chrome's loses spaces at line wraps). */
function writeOutline(doc: PDFDocument, items: OutlineItem[], destinations: Map<string, Destination>) {
  const pages = doc.getPages();
  const build = (list: OutlineItem[], parent: PDFRef): {first?: PDFRef; last?: PDFRef; count: number} => {
    const refs: {ref: PDFRef; dict: PDFDict}[] = [];
    let count = 0;
    for (const item of list) {
      const dest = destinations.get(item.id);
      if (!dest) continue;
      const page = pages[dest.page - 1]!;
      const ref = doc.context.nextRef();
      const dict = doc.context.obj({
        Title: PDFHexString.fromText(item.title),
        Parent: parent,
        Dest: [page.ref, PDFName.of('XYZ'), PDFNull, dest.y, PDFNull],
      }) as PDFDict;
      const children = build(item.children, ref);
      if (children.first && children.last) {
        dict.set(PDFName.of('First'), children.first);
        dict.set(PDFName.of('Last'), children.last);
        dict.set(PDFName.of('Count'), PDFNumber.of(-children.count));
      }
      doc.context.assign(ref, dict);
      refs.push({ref, dict});
      count += 1;
    }
    refs.forEach(({dict}, i) => {
      if (i > 0) dict.set(PDFName.of('Prev'), refs[i - 1]!.ref);
      if (i < refs.length - 1) dict.set(PDFName.of('Next'), refs[i + 1]!.ref);
    });
    return {first: refs[0]?.ref, last: refs.at(-1)?.ref, count};
  };
  const rootRef = doc.context.nextRef();
  const top = build(items, rootRef);
  if (!top.first) return;
  doc.context.assign(rootRef, doc.context.obj({Type: 'Outlines', First: top.first, Last: top.last, Count: top.count}));
  doc.catalog.set(PDFName.of('Outlines'), rootRef);
  doc.catalog.set(PDFName.of('PageMode'), PDFName.of('UseOutlines'));
}

function xmpPacket(book: Book, date: Date, creator: string): string {
  const {config} = book;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const iso = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const title = config.subtitle ? `${config.title}: ${config.subtitle}` : config.title;
  const rights = config.license.url ? `${config.license.name} (${config.license.short}), ${config.license.url}` : config.license.name;
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
    xmlns:cc="http://creativecommons.org/ns#">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">${esc(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq>${config.authors.map((a) => `<rdf:li>${esc(a.name)}</rdf:li>`).join('')}</rdf:Seq></dc:creator>
${config.description ? `   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">${esc(config.description)}</rdf:li></rdf:Alt></dc:description>\n` : ''}   <dc:subject><rdf:Bag>${config.subjects.map((s) => `<rdf:li>${esc(s)}</rdf:li>`).join('')}</rdf:Bag></dc:subject>
   <dc:language><rdf:Bag><rdf:li>${esc(config.language)}</rdf:li></rdf:Bag></dc:language>
${config.publisher ? `   <dc:publisher><rdf:Bag><rdf:li>${esc(config.publisher)}</rdf:li></rdf:Bag></dc:publisher>\n` : ''}   <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">${esc(rights)}</rdf:li></rdf:Alt></dc:rights>
   <xmpRights:Marked>True</xmpRights:Marked>
${config.license.url ? `   <xmpRights:WebStatement>${esc(config.license.url)}</xmpRights:WebStatement>\n` : ''}   <xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="x-default">${esc(rights)}</rdf:li></rdf:Alt></xmpRights:UsageTerms>
${config.license.url ? `   <cc:license rdf:resource="${esc(config.license.url)}"/>\n` : ''}   <xmp:CreateDate>${iso}</xmp:CreateDate>
   <xmp:ModifyDate>${iso}</xmp:ModifyDate>
   <xmp:MetadataDate>${iso}</xmp:MetadataDate>
   <xmp:CreatorTool>${esc(creator)}</xmp:CreatorTool>
   <pdf:Producer>Chromium (Skia/PDF) and pdf-lib</pdf:Producer>
${config.subjects.length ? `   <pdf:Keywords>${esc(config.subjects.join(', '))}</pdf:Keywords>\n` : ''}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>`;
}


/**
 * Chrome names tagged elements that need an id (table cells, for their headers) after its DOM
 * node counter, `node00017668`, which depends on everything the page did before (a print after
 * another) and even on timing: two prints of one table have given its two header cells their
 * numbers in either order. They are renamed in reading order (the order of the structure tree:
 * `node00000001`, …), so the same document gets the same names, and the ID tree is rewritten
 * sorted by the new names.
 */
export function renumberStructureIds(doc: PDFDocument): void {
  const NODE = /^node\d+$/;
  const nameOf = (value: unknown) => (value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined);
  // The new names, in the order the structure tree holds the elements that have them.
  const renamed = new Map<string, string>();
  const root = doc.catalog.lookup(PDFName.of('StructTreeRoot'));
  const seen = new Set<PDFDict>();
  const walk = (value: unknown): void => {
    const object = value instanceof PDFRef ? doc.context.lookup(value) : value;
    if (object instanceof PDFArray) {
      for (let i = 0; i < object.size(); i++) walk(object.get(i));
    } else if (object instanceof PDFDict && !seen.has(object)) {
      seen.add(object);
      const id = nameOf(object.get(PDFName.of('ID')));
      if (id && NODE.test(id) && !renamed.has(id)) renamed.set(id, '');
      walk(object.get(PDFName.of('K')));
    }
  };
  if (root instanceof PDFDict) walk(root.get(PDFName.of('K')));
  // Every place that holds such a name, with a way to put another there.
  const found: {name: string; put: (name: string) => void}[] = [];
  const visit = (value: unknown, put: (next: PDFString) => void) => {
    const name = nameOf(value);
    if (name !== undefined) {
      if (NODE.test(name)) found.push({name, put: (next) => put(PDFString.of(next))});
    } else if (value instanceof PDFDict) {
      for (const [key, entry] of value.entries()) visit(entry, (next) => value.set(key, next));
    } else if (value instanceof PDFArray) {
      for (let i = 0; i < value.size(); i++) visit(value.get(i), (next) => value.set(i, next));
    }
  };
  // Streams (page content, images, fonts) are left alone: only their dictionaries are looked at.
  for (const [, object] of doc.context.enumerateIndirectObjects()) visit(object instanceof PDFStream ? object.dict : object, () => {});
  // Names the tree does not hold (a header cell referred to but not tagged) follow, by Chrome's number.
  for (const name of [...new Set(found.map((f) => f.name))].sort((x, y) => Number(x.slice(4)) - Number(y.slice(4)))) if (!renamed.has(name)) renamed.set(name, '');
  const width = Math.max(8, String(renamed.size).length);
  [...renamed.keys()].forEach((name, i) => renamed.set(name, `node${String(i + 1).padStart(width, '0')}`));
  for (const {name, put} of found) put(renamed.get(name)!);
  if (root instanceof PDFDict) sortIdTree(doc, root);
}

/** The ID tree as one sorted leaf (name trees must be sorted by key). */
function sortIdTree(doc: PDFDocument, root: PDFDict): void {
  const tree = root.lookup(PDFName.of('IDTree'));
  if (!(tree instanceof PDFDict)) return;
  const pairs: [string, unknown][] = [];
  const collect = (node: PDFDict) => {
    const names = node.lookup(PDFName.of('Names'));
    if (names instanceof PDFArray) for (let i = 0; i + 1 < names.size(); i += 2) pairs.push([(names.lookup(i) as PDFString).decodeText(), names.get(i + 1)]);
    const kids = node.lookup(PDFName.of('Kids'));
    if (kids instanceof PDFArray) {
      for (let i = 0; i < kids.size(); i++) {
        const ref = kids.get(i);
        const kid = doc.context.lookup(ref);
        if (kid instanceof PDFDict) collect(kid);
        if (ref instanceof PDFRef) doc.context.delete(ref);
      }
    }
  };
  collect(tree);
  pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  tree.delete(PDFName.of('Kids'));
  tree.delete(PDFName.of('Limits'));
  tree.set(PDFName.of('Names'), doc.context.obj(pairs.flatMap(([name, value]) => [PDFString.of(name), value as PDFRef])));
}

/**
 * Chrome tags a `<figure>` as a /Figure around its content (the image's own /Figure, which has
 * the alternative text, a table or a listing) and its caption; PDF/UA wants alternative text on
 * every /Figure, and such an outer one is a grouping of structure, not a picture: it becomes a /Div.
 */
export function groupFigures(doc: PDFDocument): void {
  const root = doc.catalog.lookupMaybe(PDFName.of('StructTreeRoot'), PDFDict);
  if (!root) return;
  const figure = PDFName.of('Figure');
  const seen = new Set<PDFDict>();
  const kidsOf = (node: PDFDict): PDFDict[] => {
    const k = node.get(PDFName.of('K'));
    const value = k instanceof PDFRef ? doc.context.lookup(k) : k;
    const list = value instanceof PDFArray ? value.asArray() : value ? [value] : [];
    return list.map((item) => (item instanceof PDFRef ? doc.context.lookup(item) : item)).filter((item): item is PDFDict => item instanceof PDFDict);
  };
  const walk = (node: PDFDict) => {
    if (seen.has(node)) return;
    seen.add(node);
    const kids = kidsOf(node);
    if (node.get(PDFName.of('S')) === figure && !node.get(PDFName.of('Alt')) && kids.some((kid) => kid.get(PDFName.of('S')))) {
      node.set(PDFName.of('S'), PDFName.of('Div'));
    }
    for (const kid of kids) walk(kid);
  };
  walk(root);
}