/**
 * The final pass prints the book in pieces side by side and joins them with pdf-lib. Joined, the
 * pieces must make the PDF the whole book makes: the same pages and text, the same tag tree
 * (parent tree and ID tree consistent), and every internal link landing on its target's page,
 * also when the target was printed in the other piece.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {PDFArray, PDFDict, PDFDocument, PDFHexString, PDFName, PDFNumber, PDFString, type PDFObject} from 'pdf-lib';
import {loadBook} from '../pipeline/stages/load.ts';
import type {Book} from '../pipeline/model.ts';
import {printDocument, ACROSS_PIECES} from '../pipeline/targets/pdf/html.ts';
import {printCss, printResources, measured, planPages, FINAL_PIECES} from '../pipeline/targets/pdf/index.ts';
import {openBrowser} from '../pipeline/targets/pdf/chrome.ts';
import {decodeName} from '../pipeline/targets/pdf/read.ts';
import {joinPrints, linkAcross} from '../pipeline/targets/pdf/join.ts';
import {renumberStructureIds} from '../pipeline/targets/pdf/finish.ts';
import {TEMPLATES} from '../pipeline/build.ts';
import {ROOT} from './helpers.ts';

let book: Book;
beforeAll(async () => {
  const loaded = await loadBook(path.join(ROOT, 'manuscript'));
  book = loaded.book!;
  expect(book).toBeDefined();
});

/** What a reader and a screen reader get from a PDF, page numbers instead of object numbers. */
function summary(doc: PDFDocument) {
  const pages = doc.getPages();
  const pageOf = new Map(pages.map((p, i) => [p.ref.toString(), i + 1]));
  const dests = doc.catalog.lookup(PDFName.of('Dests'));
  const text = (value: PDFObject | undefined) => (value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : '');
  const links: {page: number; rect: string; target: string}[] = [];
  pages.forEach((page, i) => {
    const annots = page.node.Annots();
    for (let j = 0; annots && j < annots.size(); j++) {
      const annot = annots.lookup(j, PDFDict);
      const dest = annot.get(PDFName.of('Dest'));
      const action = annot.lookup(PDFName.of('A'));
      const rect = annot.lookup(PDFName.of('Rect'), PDFArray).asArray().map((n) => Math.round((n as PDFNumber).asNumber())).join(',');
      let target = action instanceof PDFDict ? `uri ${text(action.lookup(PDFName.of('URI')))}` : 'none';
      if (dest instanceof PDFName) {
        const place = dests instanceof PDFDict ? dests.lookup(dest) : undefined;
        target = `#${decodeName(dest.asString())} → ${place instanceof PDFArray ? pageOf.get(place.get(0).toString()) : 'nowhere'}`;
      }
      links.push({page: i + 1, rect, target});
    }
  });
  // The tag tree in reading order: role, page, marked-content ids, table attributes.
  const root = doc.catalog.lookup(PDFName.of('StructTreeRoot'), PDFDict);
  const tags: string[] = [];
  const elements = new Set<PDFDict>();
  /** Per element: the marked content (`page:mcid`) and the annotations it holds. */
  const holds = new Map<PDFDict, {marks: Set<string>; annots: Set<string>}>();
  const walk = (value: PDFObject | undefined, depth: number, parent?: PDFDict, inherited?: number) => {
    const node = value ? doc.context.lookup(value) : undefined;
    if (node instanceof PDFDict) {
      const pg = node.get(PDFName.of('Pg'));
      const page = pg ? pageOf.get(pg.toString()) : inherited;
      const on = pg ? ` p${page}` : '';
      if (node.get(PDFName.of('Type'))?.toString() === '/OBJR') {
        tags.push(`${' '.repeat(depth)}annotation${on}`);
        holds.get(parent!)?.annots.add(String(node.get(PDFName.of('Obj'))));
        return;
      }
      if (node.get(PDFName.of('Type'))?.toString() === '/MCR') {
        tags.push(`${' '.repeat(depth)}mcid ${node.get(PDFName.of('MCID'))}${on}`);
        holds.get(parent!)?.marks.add(`${page}:${node.get(PDFName.of('MCID'))}`);
        return;
      }
      elements.add(node);
      holds.set(node, {marks: new Set(), annots: new Set()});
      const attributes = node.lookup(PDFName.of('A'));
      tags.push(`${' '.repeat(depth)}${node.get(PDFName.of('S'))}${on}${node.has(PDFName.of('ID')) ? ' with id' : ''} ${attributes ? attributes.toString().replace(/node\d+/g, 'node').replace(/\s+/g, ' ') : ''}`);
      const kids = node.lookup(PDFName.of('K'));
      if (kids instanceof PDFArray) for (let i = 0; i < kids.size(); i++) walk(kids.get(i), depth + 1, node, page);
      else walk(node.get(PDFName.of('K')), depth + 1, node, page);
    } else if (node) {
      tags.push(`${' '.repeat(depth)}mcid ${node.toString()}`);
      if (node instanceof PDFNumber) holds.get(parent!)?.marks.add(`${inherited}:${node.asNumber()}`);
    }
  };
  walk(root.get(PDFName.of('K')), 0);
  // Every page's and annotation's parent-tree key leads to elements of the tree.
  const nums = root.lookup(PDFName.of('ParentTree'), PDFDict).lookup(PDFName.of('Nums'), PDFArray);
  const parents = new Map<number, PDFObject>();
  for (let i = 0; i < nums.size(); i += 2) parents.set((nums.get(i) as PDFNumber).asNumber(), nums.get(i + 1));
  const dangling: string[] = [];
  if (parents.size * 2 !== nums.size()) dangling.push('a parent tree key used twice');
  pages.forEach((page, i) => {
    // The page's entry lists, for each marked-content id on it, the element that holds it.
    const key = page.node.get(PDFName.of('StructParents'));
    if (key instanceof PDFNumber) {
      const entry = doc.context.lookup(parents.get(key.asNumber()));
      if (!(entry instanceof PDFArray)) dangling.push(`page ${i + 1}`);
      else entry.asArray().forEach((ref, mcid) => {
        const held = holds.get(doc.context.lookup(ref) as PDFDict);
        if (!held?.marks.has(`${i + 1}:${mcid}`)) dangling.push(`page ${i + 1}, mcid ${mcid}`);
      });
    }
    // An annotation's entry is the element that holds it.
    const annots = page.node.Annots();
    for (let j = 0; annots && j < annots.size(); j++) {
      const annotKey = annots.lookup(j, PDFDict).get(PDFName.of('StructParent'));
      if (!(annotKey instanceof PDFNumber)) continue;
      const held = holds.get(doc.context.lookup(parents.get(annotKey.asNumber())) as PDFDict);
      if (!held?.annots.has(String(annots.get(j)))) dangling.push(`link ${j} on page ${i + 1}`);
    }
  });
  // Table cells name their header cells by id: every id is in the ID tree once, and names a
  // header cell printed on the cell's own page (the tables here are each on one page).
  const ids: string[] = [];
  const named = new Map<string, PDFDict>();
  const names = (node: PDFDict) => {
    const list = node.lookup(PDFName.of('Names'));
    for (let i = 0; list instanceof PDFArray && i < list.size(); i += 2) {
      ids.push(text(list.lookup(i)));
      named.set(text(list.lookup(i)), list.lookup(i + 1, PDFDict));
    }
    const kids = node.lookup(PDFName.of('Kids'));
    for (let i = 0; kids instanceof PDFArray && i < kids.size(); i++) names(kids.lookup(i, PDFDict));
  };
  const idTree = root.lookup(PDFName.of('IDTree'));
  if (idTree instanceof PDFDict) names(idTree);
  const firstPage = (element: PDFDict): string | undefined => {
    const mark = holds.get(element)?.marks.values().next().value;
    if (mark) return mark.split(':')[0];
    const kids = element.lookup(PDFName.of('K'));
    for (const kid of kids instanceof PDFArray ? kids.asArray() : kids ? [kids] : []) {
      const child = doc.context.lookup(kid);
      const page = child instanceof PDFDict && holds.has(child) ? firstPage(child) : undefined;
      if (page) return page;
    }
    return undefined;
  };
  const headers: string[] = [];
  const misnamed: string[] = [];
  for (const element of elements) {
    const attributes = element.lookup(PDFName.of('A'));
    for (const a of attributes instanceof PDFArray ? attributes.asArray() : attributes ? [attributes] : []) {
      const list = doc.context.lookup(a);
      const h = list instanceof PDFDict ? list.lookup(PDFName.of('Headers')) : undefined;
      for (let i = 0; h instanceof PDFArray && i < h.size(); i++) {
        const name = text(h.get(i));
        headers.push(name);
        const header = named.get(name);
        if (header?.get(PDFName.of('S'))?.toString() !== '/TH' || firstPage(header) !== firstPage(element)) misnamed.push(name);
      }
    }
  }
  // Each font subset's descriptor, by name: different subsets must have different tags.
  const subsets: string[] = [];
  for (const [, object] of doc.context.enumerateIndirectObjects()) {
    const name = object instanceof PDFDict && object.get(PDFName.of('Type'))?.toString() === '/FontDescriptor' ? object.get(PDFName.of('FontName')) : undefined;
    if (name instanceof PDFName && /^\/[A-Z]{6}\+/.test(name.asString())) subsets.push(name.asString());
  }
  return {pages: pages.length, links, tags, dangling, ids, headers, misnamed, subsets};
}

function pdftext(bytes: Uint8Array): string[] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'book-join-')), 'book.pdf');
  try {
    fs.writeFileSync(file, bytes);
    return execFileSync('pdftotext', [file, '-'], {encoding: 'utf8', maxBuffer: 64 << 20}).split('\f').map((page) => page.replace(/\s+/g, ' ').trim());
  } finally {
    fs.rmSync(path.dirname(file), {recursive: true, force: true});
  }
}

describe('the final pass in pieces', () => {
  it('should join into the PDF the whole book prints: pages, text, tags and links', async () => {
    const css = printCss(TEMPLATES);
    const session = await openBrowser(printResources(book, () => false));
    let whole: PDFDocument;
    let joined: PDFDocument;
    let split: ReturnType<typeof printDocument>;
    let counts: number[];
    let plan: ReturnType<typeof planPages>;
    try {
      const print = async (html: string, tagged: boolean) => PDFDocument.load(await session.print(html, {timeoutMs: 120_000, tagged}), {updateMetadata: false});
      const layout = printDocument(book, css, {probe: true});
      plan = planPages(layout.blocks, measured(layout, [await print(layout.pieces[0]!, false)]), new Set(layout.blockChildIds));
      const rectoStarts = new Set([...plan.blockStart].filter(([, page]) => page % 2 === 1).map(([id]) => id));
      const final = {folios: plan.pages.folios, blanksBefore: plan.blanksBefore};
      split = printDocument(book, css, {...final, pieces: FINAL_PIECES, rectoStarts});
      const [one, ...pieces] = await Promise.all([print(printDocument(book, css, final).pieces[0]!, true), ...split.pieces.map((html) => print(html, true))]);
      whole = one!;
      counts = pieces.map((piece) => piece.getPageCount());
      joined = joinPrints(pieces);
    } finally {
      await session.close();
    }
    expect(split.pieces).toHaveLength(FINAL_PIECES);
    // The second piece starts on a right-hand page of the book, where the plan put its block.
    expect(counts[0]! % 2).toBe(0);
    expect(plan.blockStart.get(split.pieceStarts[1]!)).toBe(counts[0]! + 1);
    // Links from one piece into the other were printed as URIs…
    expect(split.pieces[0]!.split(ACROSS_PIECES).length - 1).toBeGreaterThan(10);
    const unplaced = linkAcross(joined, (id) => plan.places.get(id));
    expect(unplaced).toEqual([]);

    const a = summary(whole);
    const b = summary(await PDFDocument.load(await joined.save({useObjectStreams: false}), {updateMetadata: false}));
    expect(b.pages).toBe(a.pages);
    expect(b.pages).toBe(counts.reduce((x, y) => x + y, 0));
    expect(b.tags.length).toBeGreaterThan(5000);
    expect(b.tags).toEqual(a.tags);
    expect(b.dangling).toEqual([]);
    // Both pieces named their subsets AAAAAA+, BAAAAA+…: the join gave the second piece's new tags.
    expect(b.subsets.length).toBeGreaterThan(a.subsets.length);
    expect(new Set(b.subsets.map((name) => name.slice(1, 7))).size).toBe(b.subsets.length);
    expect(b.ids.length).toBeGreaterThan(10);
    expect(new Set(b.ids).size).toBe(b.ids.length);
    expect([...b.ids].sort()).toEqual(b.ids);
    expect(b.headers.length).toBeGreaterThan(10);
    expect(b.misnamed).toEqual([]);
    // …and every internal link goes where the whole book's goes (Chrome leaves some of its own
    // inline targets without a destination: the join places those too).
    expect(b.links.map((l) => l.page)).toEqual(a.links.map((l) => l.page));
    // (A long document's positions can differ from a piece's by a rounding step.)
    const off = b.links.filter((l, i) => l.rect.split(',').some((n, j) => Math.abs(Number(n) - Number(a.links[i]!.rect.split(',')[j])) > 1));
    expect(off).toEqual([]);
    const internal = b.links.filter((l) => l.target.startsWith('#'));
    expect(internal.length).toBeGreaterThan(500);
    expect(internal.filter((l) => l.target.endsWith('nowhere'))).toEqual([]);
    expect(b.links.filter((l) => l.target.includes(ACROSS_PIECES) || l.target === 'none')).toEqual([]);
    b.links.forEach((link, i) => {
      if (!a.links[i]!.target.endsWith('nowhere')) expect(link.target).toBe(a.links[i]!.target);
    });
    expect(pdftext(await joined.save())).toEqual(pdftext(await whole.save()));
  }, 240_000);

  it('should keep the pieces\' names for header cells apart when Chrome gave both the same', async () => {
    const page = (n: number, links: string) => `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><title>t</title></head><body>
<h1 id="h${n}">Piece ${n}</h1><table><thead><tr><th>Left ${n}</th><th>Right ${n}</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>
<p>${links}</p></body></html>`;
    const html = [
      page(1, `<a href="#h1">Back</a> and <a href="${ACROSS_PIECES}h2">on</a>`),
      page(2, `<a href="${ACROSS_PIECES}nowhere">nowhere</a>`),
    ];
    const session = await openBrowser({get: () => undefined});
    let pieces: PDFDocument[];
    try {
      pieces = await Promise.all(html.map(async (h) => PDFDocument.load(await session.print(h, {timeoutMs: 60_000}), {updateMetadata: false})));
    } finally {
      await session.close();
    }
    // Both pieces name their two header cells alike (as renumbered; Chrome's own names depend
    // on what the renderer did before).
    for (const piece of pieces) renumberStructureIds(piece);
    const before = pieces.map((piece) => summary(piece).ids);
    expect(before[0]).toEqual(['node00000001', 'node00000002']);
    expect(before[1]).toEqual(before[0]);
    const joined = joinPrints(pieces);
    // h2 is not a destination of its piece (nothing there links to it): it is placed from the
    // layout; nothing places "nowhere".
    expect(linkAcross(joined, (id) => (id === 'h2' ? {page: 2, y: 700} : undefined))).toEqual(['nowhere']);
    const b = summary(await PDFDocument.load(await joined.save(), {updateMetadata: false}));
    expect(b.pages).toBe(2);
    expect(b.ids).toHaveLength(4);
    expect(new Set(b.ids).size).toBe(4);
    expect(b.headers).toHaveLength(4);
    expect(b.misnamed).toEqual([]);
    expect(b.dangling).toEqual([]);
    expect(b.links.map((l) => `${l.page} ${l.target}`)).toEqual(['1 #h1 → 1', '1 #h2 → 2', '2 none']);
  }, 60_000);
});
