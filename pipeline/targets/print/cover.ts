/**
 * The print cover: back, spine and front on one sheet with bleed, as print-on-demand services
 * take it. The spine is the page count times the paper's thickness per page (KDP's published
 * figures for white, cream and colour paper, or a length from `book.yaml`); the front is the
 * cover image, the spine carries the title and the authors (from 80 pages: thinner spines take no
 * text), the back the cover text or the description and the ISBN. Pure: book and fonts in, bytes out.
 */
import {PDFDocument, rgb, degrees, type PDFFont, type PDFPage} from 'pdf-lib';
import fontkit from '@pdf-lib/fontkit';
import type {Book} from '../../model.ts';
import {toPoints} from '../pdf/geometry.ts';

/** Inches per page (KDP: black ink on white or cream paper, colour on white). */
export const PAPER_THICKNESS = {white: 0.002252, cream: 0.0025, color: 0.002347} as const;
/** Bleed of a cover when `print.bleed` is not set. */
export const COVER_BLEED = '0.125in';
const SPINE_TEXT_MIN_PAGES = 80;

export interface CoverGeometry {
  /** All in points. */
  width: number;
  height: number;
  bleed: number;
  spine: number;
  trimWidth: number;
  trimHeight: number;
}

export function coverGeometry(book: Book, pageCount: number): CoverGeometry {
  const {print} = book.config;
  const paper = print.paper ?? 'white';
  const perPage = typeof paper === 'string' && paper in PAPER_THICKNESS
    ? PAPER_THICKNESS[paper as keyof typeof PAPER_THICKNESS] * 72
    : toPoints(paper);
  const bleed = toPoints(print.bleed ?? COVER_BLEED);
  const trimWidth = toPoints(print.trim.width);
  const trimHeight = toPoints(print.trim.height);
  const spine = pageCount * perPage;
  return {width: 2 * trimWidth + spine + 2 * bleed, height: trimHeight + 2 * bleed, bleed, spine, trimWidth, trimHeight};
}

export async function coverPdf(book: Book, pageCount: number, fonts: {regular: Uint8Array; bold: Uint8Array}, sourceDateEpoch: number): Promise<Uint8Array> {
  const g = coverGeometry(book, pageCount);
  const doc = await PDFDocument.create({updateMetadata: false});
  doc.registerFontkit(fontkit);
  const regular = await doc.embedFont(fonts.regular, {subset: true});
  const bold = await doc.embedFont(fonts.bold, {subset: true});
  const page = doc.addPage([g.width, g.height]);
  page.setBleedBox(0, 0, g.width, g.height);
  page.setTrimBox(g.bleed, g.bleed, g.width - 2 * g.bleed, g.height - 2 * g.bleed);
  const {config} = book;
  const authors = config.authors.map((a) => a.name).join(', ');
  const ink = rgb(0.1, 0.1, 0.1);
  page.drawRectangle({x: 0, y: 0, width: g.width, height: g.height, color: rgb(1, 1, 1)});

  // Front: the cover image over the whole front panel and its bleed, or the title set in type.
  const frontX = g.bleed + g.trimWidth + g.spine;
  const image = book.cover && /jpe?g/.test(book.cover.mediaType) ? await doc.embedJpg(book.cover.bytes)
    : book.cover && /png/.test(book.cover.mediaType) ? await doc.embedPng(book.cover.bytes) : undefined;
  if (image) {
    // Cover the panel (cut what overflows), as `object-fit: cover`.
    const panel = {x: frontX, y: 0, width: g.trimWidth + g.bleed, height: g.height};
    const scale = Math.max(panel.width / image.width, panel.height / image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    page.drawImage(image, {x: panel.x + (panel.width - w) / 2, y: panel.y + (panel.height - h) / 2, width: w, height: h});
  } else {
    centred(page, config.title, bold, 28, frontX + g.trimWidth / 2, g.bleed + g.trimHeight * 0.62, g.trimWidth * 0.8, ink);
    centred(page, authors, regular, 14, frontX + g.trimWidth / 2, g.bleed + g.trimHeight * 0.45, g.trimWidth * 0.8, ink);
  }

  // Spine: title and authors, reading top to bottom (as English-language books do).
  if (pageCount >= SPINE_TEXT_MIN_PAGES) {
    const size = Math.min(11, g.spine * 0.45);
    const text = `${config.title}   ${authors}`;
    const width = bold.widthOfTextAtSize(text, size);
    const x = g.bleed + g.trimWidth + g.spine / 2 + size * 0.35;
    page.drawText(text, {x, y: g.bleed + (g.trimHeight + width) / 2, size, font: bold, color: ink, rotate: degrees(-90)});
  }

  // Back: the cover text, wrapped, and the ISBN.
  const back = config.print.coverText ?? config.description ?? '';
  const margin = 0.6 * 72;
  let y = g.bleed + g.trimHeight - margin - 12;
  for (const line of wrap(back, regular, 11, g.trimWidth - 2 * margin)) {
    page.drawText(line, {x: g.bleed + margin, y, size: 11, font: regular, color: ink});
    y -= 15;
  }
  if (config.identifiers?.isbn) page.drawText(`ISBN ${config.identifiers.isbn}`, {x: g.bleed + margin, y: g.bleed + margin, size: 9, font: regular, color: ink});

  const date = new Date(sourceDateEpoch * 1000);
  doc.setTitle(`${config.title} — cover`);
  doc.setAuthor(authors);
  doc.setCreator('book-pipeline');
  doc.setProducer('book-pipeline');
  doc.setCreationDate(date);
  doc.setModificationDate(date);
  return doc.save({useObjectStreams: false});
}

function centred(page: PDFPage, text: string, font: PDFFont, size: number, cx: number, y: number, max: number, color: ReturnType<typeof rgb>) {
  let s = size;
  while (s > 8 && font.widthOfTextAtSize(text, s) > max) s -= 1;
  page.drawText(text, {x: cx - font.widthOfTextAtSize(text, s) / 2, y, size: s, font, color});
}

function wrap(text: string, font: PDFFont, size: number, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      const next = line ? `${line} ${word}` : word;
      if (font.widthOfTextAtSize(next, size) > width && line) {
        lines.push(line);
        line = word;
      } else line = next;
    }
    if (line) lines.push(line);
    lines.push('');
  }
  return lines;
}
