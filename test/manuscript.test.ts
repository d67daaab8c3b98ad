/**
 * The book this repository ships: what it contains (issue: the manuscript), and its EPUB
 * and PDF checked by reading them (issues: print PDF, EPUB 3).
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {PDFDocument, PDFName, PDFDict, PDFArray, PDFNumber} from 'pdf-lib';
import {loadBook} from '../pipeline/stages/load.ts';
import {visit} from 'unist-util-visit';
import {toString} from 'hast-util-to-string';
import type {Element} from 'hast';
import {bookStats, type BookStats} from './book-stats.ts';
import type {Book} from '../pipeline/model.ts';
import {pdftext, buildBook, epubcheck, unzipEpub, zipEntryNames, pdfinfo, pdfInfoField, pdfPages, pdffonts, readOutline, ROOT, plain, messages, noteLinks} from './helpers.ts';

const MANUSCRIPT = path.join(ROOT, 'manuscript');
const EPOCH = 1_744_070_400; // 2025-04-08T00:00:00Z

let book: Book;
let stats: BookStats;
let epub: string;
let pdf: string;
let pages: string[];
let labels: string[];

beforeAll(async () => {
  const loaded = await loadBook(MANUSCRIPT);
  book = loaded.book!;
  stats = bookStats(book);
  const built = await buildBook(MANUSCRIPT, {sourceDateEpoch: EPOCH});
  expect(messages(built.result)).toEqual([]);
  epub = built.epub!;
  pdf = built.pdf!;
  pages = pdfPages(pdf);
  labels = await pageLabels(pdf);
});

/** The page labels (printed folios) of every page, from /PageLabels. */
async function pageLabels(file: string): Promise<string[]> {
  const doc = await PDFDocument.load(fs.readFileSync(file), {updateMetadata: false});
  const nums = doc.catalog.lookup(PDFName.of('PageLabels'), PDFDict).lookup(PDFName.of('Nums'), PDFArray);
  const ranges: {start: number; style: string}[] = [];
  for (let i = 0; i < nums.size(); i += 2) {
    ranges.push({start: (nums.lookup(i) as PDFNumber).asNumber(), style: String((nums.lookup(i + 1) as PDFDict).get(PDFName.of('S')))});
  }
  const roman = (n: number) => {
    const table: [number, string][] = [[100, 'c'], [90, 'xc'], [50, 'l'], [40, 'xl'], [10, 'x'], [9, 'ix'], [5, 'v'], [4, 'iv'], [1, 'i']];
    let out = '';
    for (const [value, letters] of table) while (n >= value) { out += letters; n -= value; }
    return out;
  };
  return Array.from({length: doc.getPageCount()}, (_, index) => {
    const range = [...ranges].reverse().find((r) => r.start <= index)!;
    const n = index - range.start + 1;
    return range.style === '/r' ? roman(n) : String(n);
  });
}

const lines = (page: string) => page.split('\n').map((l) => l.trim()).filter(Boolean);
const openerPage = (n: number) => pages.findIndex((p) => new RegExp(`^\\s*CHAPTER ${n}\\s*$`, 'm').test(p));

describe('the manuscript', () => {
  it('should have 29 chapters in six parts, each 700–1,500 words, about 30,000 in all', () => {
    expect(book.parts).toHaveLength(6);
    expect(stats.chapters).toHaveLength(29);
    for (const chapter of stats.chapters) {
      expect(chapter.words, chapter.title).toBeGreaterThanOrEqual(700);
      expect(chapter.words, chapter.title).toBeLessThanOrEqual(1500);
    }
    expect(stats.words).toBeGreaterThanOrEqual(28_000);
  });

  it('should have the counts a real book has', () => {
    expect(stats.figures).toBeGreaterThanOrEqual(40);
    expect(stats.svgFigures).toBeGreaterThanOrEqual(30);
    expect(stats.rasterFigures).toBeGreaterThanOrEqual(3);
    expect(stats.onlineOnlyFigures).toBeGreaterThanOrEqual(1);
    expect(stats.partImages).toBe(6);
    expect(stats.captionedTables).toBeGreaterThanOrEqual(10);
    expect(stats.footnotes).toBeGreaterThanOrEqual(25);
    expect(stats.codeBlocks).toBeGreaterThanOrEqual(20);
    for (const language of ['python', 'yaml', 'sql', 'sh']) expect(stats.codeLanguages[language], language).toBeGreaterThan(0);
    expect(stats.definitionLists).toBeGreaterThanOrEqual(2);
    expect(stats.blockQuotes).toBeGreaterThanOrEqual(2);
    expect(stats.chaptersWithMath).toEqual(expect.arrayContaining(['ch15', 'ch26']));
    expect(stats.crossReferences).toBeGreaterThanOrEqual(40);
    expect(stats.chapterLinks).toBeGreaterThanOrEqual(29);
    expect(stats.furtherReadings).toBe(29);
    expect(stats.citations).toBeGreaterThanOrEqual(87);
    expect(stats.indexTerms).toBeGreaterThanOrEqual(100);
    expect(stats.glossaryUses).toBeGreaterThanOrEqual(29);
    console.info(JSON.stringify({...stats, chapters: undefined}));
  });

  it('should carry the real chapter titles', () => {
    const titles = book.docs.filter((d) => d.kind === 'chapter').map((d) => d.title);
    expect(titles[0]).toBe('Introduction');
    expect(titles[6]).toBe('Planning for Mistakes');
    expect(titles[14]).toBe('Model Quality');
    expect(titles[19]).toBe('Data Science and Software Engineering Process Models');
    expect(titles[28]).toBe('Transparency and Accountability');
  });
});

describe('the EPUB of the manuscript', () => {
  it('should pass EPUBCheck with no errors and no warnings', () => {
    const result = epubcheck(epub, ['--failonwarnings']);
    expect(result.output).toMatch(/No errors or warnings detected/);
  });

  it('should carry the licence, the accessibility set, the language and a reproducible package', () => {
    expect(zipEntryNames(epub)[0]).toBe('mimetype');
    const opf = unzipEpub(epub)['OEBPS/content.opf']!;
    expect(opf).not.toMatch(/All rights reserved/i);
    expect(opf).toContain('<dc:language>en</dc:language>');
    expect(opf).toContain('<meta property="dcterms:modified">2025-04-08T00:00:00Z</meta>');
    expect(opf).toContain('urn:isbn:9780262049726');
    for (const feature of ['tableOfContents', 'alternativeText', 'pageNavigation', 'MathML']) {
      expect(opf).toContain(`<meta property="schema:accessibilityFeature">${feature}</meta>`);
    }
    expect(opf).toMatch(/properties="cover-image"/);
    expect(opf).toMatch(/href="ch15.xhtml" media-type="application\/xhtml\+xml" properties="mathml"/);
    expect(opf).not.toContain('scripted');
  });

  it('should put the print page numbers in the EPUB where the PDF prints them', () => {
    const files = unzipEpub(epub);
    const nav = files['OEBPS/nav.xhtml']!;
    const list = [...nav.matchAll(/<li><a href="([^"#]+)#(page-[^"]+)">([^<]+)<\/a><\/li>/g)];
    expect(list.length).toBeGreaterThan(100);
    // Every tenth page: the text right after the marker is printed on that page of the PDF.
    let checked = 0;
    for (const [, file, id, label] of list.filter((_, i) => i % 10 === 5)) {
      const xhtml = files[`OEBPS/${file}`]!;
      const marker = xhtml.indexOf(`id="${id}"`);
      const after = xhtml.slice(xhtml.indexOf('>', marker) + 1);
      const text = plain(after.replace(/<span[^>]*pagebreak[^>]*\/>/g, '').replace(/<[^>]+>/g, ' ').replace(/&#x([0-9A-F]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16))).replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => ({amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"})[name]!)).replace(/\u00ad/g, '').slice(0, 40);
      const words = text.split(' ').slice(0, 4).join(' ');
      const index = labels.indexOf(label!);
      expect(index, `page ${label}`).toBeGreaterThanOrEqual(0);
      expect(plain(pages[index]!), `page ${label} should contain "${words}"`).toContain(words);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('the print PDF of the manuscript', () => {
  it('should start every chapter and part on a right-hand (odd) page', () => {
    for (let n = 1; n <= 29; n++) {
      const index = openerPage(n);
      expect(index, `chapter ${n}`).toBeGreaterThan(0);
      expect((index + 1) % 2, `chapter ${n} on page ${index + 1}`).toBe(1);
    }
    const partPages = pages.map((p, i) => (/^\s*PART [IVX]+\s*$/m.test(p) ? i : -1)).filter((i) => i >= 0);
    expect(partPages).toHaveLength(6);
    for (const index of partPages) expect((index + 1) % 2).toBe(1);
  });

  it('should number the TOC entries with the page on which each chapter title is printed', () => {
    const tocPages = pages.filter((p, i) => i < pages.findIndex((q) => /^\s*Preface\s*$/m.test(q)) && /\.{0}\s\d+\s*$/m.test(p));
    const toc = tocPages.join('\n');
    for (const doc of book.docs.filter((d) => d.kind === 'chapter')) {
      const match = new RegExp(`^\\s*${doc.number}\\s+${doc.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+')}\\s+(\\d+)\\s*$`, 'm').exec(toc);
      expect(match, `TOC entry for ${doc.title}`).not.toBeNull();
      const index = openerPage(doc.number!);
      expect(match![1], doc.title).toBe(labels[index]);
      // The folio printed at the foot of the opener is the same number.
      expect(lines(pages[index]!).at(-1)).toBe(labels[index]);
    }
  });

  it('should show running heads with the chapter title on right pages and none on openers', () => {
    const chapter = book.docs.find((d) => d.number === 7)!;
    const opener = openerPage(7);
    expect(lines(pages[opener]!)[0]).toBe('CHAPTER 7');
    const right = opener + 2; // the next right-hand page
    expect(lines(pages[right]!)[0]).toMatch(new RegExp(`^7\\s+${chapter.title}\\s+${labels[right]}$`));
    const left = opener + 1;
    expect(lines(pages[left]!)[0]).toMatch(new RegExp(`^${labels[left]}\\s+${book.config.title}$`));
  });

  it('should number the front matter in roman and the body in arabic from 1', () => {
    const firstPart = pages.findIndex((p) => /^\s*PART I\s*$/m.test(p));
    expect(labels[firstPart]).toBe('1');
    expect(labels[firstPart - 1]).toMatch(/^[ivxlc]+$/);
    expect(labels[0]).toBe('i');
  });

  it('should set every footnote at the foot of the page that calls it (print.notes: page)', async () => {
    const links = await noteLinks(fs.readFileSync(pdf));
    const notes = new Set(links.map((l) => l.note));
    expect(notes.size).toBe(stats.footnotes);
    for (const link of links) expect(link.notePage, link.note).toBe(link.callPage);
    // None left for a chapter's end.
    expect(pages.some((page) => /^\s*Notes\s*$/m.test(page))).toBe(false);
  });

  it('should have nested bookmarks that point at the right pages', async () => {
    const outline = await readOutline(pdf);
    const parts = outline.filter((n) => n.title.startsWith('Part '));
    expect(parts.map((p) => p.title)).toEqual(book.parts.map((p) => `${p.label}: ${p.title}`));
    const chapters = parts.flatMap((p) => p.children);
    expect(chapters).toHaveLength(29);
    chapters.forEach((node, i) => {
      expect(node.title).toBe(`${i + 1} ${book.docs.find((d) => d.number === i + 1)!.title}`);
      expect(node.page).toBe(openerPage(i + 1) + 1);
      expect(node.children.length).toBeGreaterThan(1);
      for (const section of node.children) expect(plain(pages[section.page - 1]!)).toContain(section.title.replace(/^[\d.]+ /, '').split(' ')[0]);
    });
  });

  it('should embed every font and carry the metadata, XMP licence and language', () => {
    for (const font of pdffonts(pdf)) expect(font.embedded, font.name).toBe(true);
    expect(pdfInfoField(pdf, 'Title')).toBe('Machine Learning in Production: From Models to Products');
    expect(pdfInfoField(pdf, 'Author')).toBe('Christian Kästner');
    expect(pdfInfoField(pdf, 'Keywords')).toContain('machine learning');
    expect(pdfInfoField(pdf, 'Subject')).toBeTruthy();
    expect(pdfInfoField(pdf, 'Creator')).toMatch(/book-pipeline/);
    expect(pdfInfoField(pdf, 'Tagged')).toBe('yes');
    expect(pdfInfoField(pdf, 'CreationDate')).toMatch(/Apr\s+8 00:00:00 2025/);
    const xmp = pdfinfo(pdf, ['-meta']);
    expect(xmp).toContain('<xmpRights:WebStatement>https://creativecommons.org/licenses/by-nc-nd/4.0/</xmpRights:WebStatement>');
    expect(xmp).toContain('<cc:license rdf:resource="https://creativecommons.org/licenses/by-nc-nd/4.0/"/>');
  });

  it('should print the stand-in note and the licence on the copyright page', () => {
    const copyright = plain(pages.find((p) => plain(p).includes('This work is licensed'))!);
    expect(copyright).toContain('The chapter texts of this edition are stand-ins written for the build pipeline');
    expect(copyright).toContain('https://creativecommons.org/licenses/by-nc-nd/4.0/');
    expect(copyright).toContain('978-0-262-04972-6');
  });

  it('should fill in page references with the page where the target is printed', () => {
    const text = plain(pages.join('\n'));
    const refs = [...text.matchAll(/(Figure|Section|Table) (\d+\.\d+) on page (\d+)/g)];
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const [, kind, number, folio] of refs) {
      const page = pages[labels.indexOf(folio!)]!;
      expect(plain(page), `${kind} ${number} on page ${folio}`).toMatch(new RegExp(`(^|\\s)${number!.replace('.', '\\.')}\\s`));
    }
  });

  it('should print index entries with the pages where the terms are printed', async () => {
    const outline = await readOutline(pdf);
    const indexStart = outline.find((n) => n.title === 'Index')!.page - 1;
    expect(indexStart).toBeGreaterThan(0);
    // Terms whose index entry is the text as printed, with their page numbers from the index.
    const shown = new Map<string, string[]>();
    const labelOf = new Map<string, string>();
    for (const doc of book.docs) {
      visit(doc.tree, 'element', (node: Element) => {
        if (node.properties?.className && String(node.properties.className).includes('idx') && node.properties.id) {
          labelOf.set(String(node.properties.id), toString(node).trim().toLowerCase());
        }
      });
    }
    for (const entry of book.index) {
      if (entry.sub || entry.ids.length === 0) continue;
      // Only terms printed as they are indexed, so the page can be checked by its text.
      if (entry.ids.every((anchor) => labelOf.get(anchor.id) === entry.term.toLowerCase())) shown.set(entry.term, []);
    }
    const indexText = pdftext(pdf).split('\f').slice(indexStart).join('\n').replace(/\u00ad/g, '').replace(/-\n/g, '').replace(/,\n/g, ', ');
    let checked = 0;
    for (const term of [...shown.keys()].slice(0, 60)) {
      const match = new RegExp(`^\\s*${term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, ([\\dxvi, ]+)$`, 'm').exec(indexText);
      if (!match) continue;
      for (const folio of match[1]!.split(', ')) {
        const page = pages[labels.indexOf(folio.trim())];
        expect(page, `${term} → ${folio}`).toBeDefined();
        expect(plain(page!).toLowerCase(), `${term} on page ${folio}`).toContain(term.toLowerCase());
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('should leave online-only figures out of print', () => {
    const online = book.labels.get('fig-ops-dashboard')!;
    expect(online).toBeDefined();
    const text = plain(pages.join('\n'));
    expect(text).not.toContain(`${online.text} Dashboard on the day`);
    expect(text).toContain(`${online.text} (online edition)`);
  });
});

describe('reproducibility', () => {
  it('should build byte-identical EPUB and PDF files twice with the same SOURCE_DATE_EPOCH', async () => {
    const again = await buildBook(MANUSCRIPT, {sourceDateEpoch: EPOCH});
    expect(Buffer.compare(fs.readFileSync(again.epub!), fs.readFileSync(epub))).toBe(0);
    // Page by page first, so that a difference shows where it is.
    expect(pdfPages(again.pdf!)).toEqual(pages);
    expect(Buffer.compare(fs.readFileSync(again.pdf!), fs.readFileSync(pdf))).toBe(0);
  });
});
