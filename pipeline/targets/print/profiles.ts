/**
 * Print profiles: the files a printer takes, made from the finished screen PDF with pdf-lib.
 *
 * - `kdp` (Amazon KDP Print's manuscript rules): no bookmarks, links, annotations, named
 *   destinations or XMP metadata; with bleed, the bleed only on the top, bottom and outer edge
 *   (the page is 0.125 in wider and 0.25 in taller than the trim, as KDP asks), so the inner edge
 *   of each page is cut away: the left edge of a right-hand page, the right edge of a left-hand one.
 * - `pdfx` (PDF/X-1a:2001): the same without interactivity, crop marks outside the bleed when
 *   `print.cropMarks` asks for them, then Ghostscript (ghostscript.ts) converts colour and
 *   flattens transparency and writes the output intent.
 */
import {PDFDocument, PDFName, PDFDict, PDFArray, rgb, type PDFPage} from 'pdf-lib';
import type {BookConfig} from '../../config/schema.ts';
import {toPoints} from '../pdf/geometry.ts';

type Print = BookConfig['print'];

/** Room for crop marks around the bleed box of a `pdfx` page, in points. */
export const MARKS_MARGIN = 18;

/** The KDP Print manuscript. */
export async function kdpPdf(screen: Uint8Array, print: Print): Promise<Uint8Array> {
  const doc = await PDFDocument.load(screen, {updateMetadata: false});
  withoutInteraction(doc);
  doc.catalog.delete(PDFName.of('Metadata'));
  const bleed = print.bleed ? toPoints(print.bleed) : 0;
  doc.getPages().forEach((page, index) => {
    const {width, height} = page.getSize();
    if (bleed > 0) {
      // Page 1 is a right-hand page: its inner edge is on the left.
      const right = index % 2 === 0;
      const box = right ? [bleed, 0, width - bleed, height] as const : [0, 0, width - bleed, height] as const;
      page.setMediaBox(...box);
      page.setCropBox(...box);
      page.setBleedBox(...box);
      page.setTrimBox(bleed, bleed, width - 2 * bleed, height - 2 * bleed);
    } else {
      page.setTrimBox(0, 0, width, height);
    }
  });
  return doc.save({useObjectStreams: false, addDefaultPage: false, updateFieldAppearances: false});
}

/** The PDF Ghostscript makes the PDF/X file from: nothing interactive, boxes set, marks drawn. */
export async function pdfxSource(screen: Uint8Array, print: Print): Promise<Uint8Array> {
  const doc = await PDFDocument.load(screen, {updateMetadata: false});
  withoutInteraction(doc);
  const bleed = print.bleed ? toPoints(print.bleed) : 0;
  for (const page of doc.getPages()) {
    const {width, height} = page.getSize();
    page.setTrimBox(bleed, bleed, width - 2 * bleed, height - 2 * bleed);
    page.setBleedBox(0, 0, width, height);
    if (print.cropMarks) {
      const m = MARKS_MARGIN;
      page.setMediaBox(-m, -m, width + 2 * m, height + 2 * m);
      page.setCropBox(-m, -m, width + 2 * m, height + 2 * m);
      drawCropMarks(page, bleed, width, height);
    }
  }
  return doc.save({useObjectStreams: false, addDefaultPage: false, updateFieldAppearances: false});
}

/** Marks at the trim's corners, outside the bleed box (PDF/X allows marks only there). */
function drawCropMarks(page: PDFPage, bleed: number, width: number, height: number) {
  const gap = 3;
  const length = MARKS_MARGIN - gap - 2;
  const corners = [[bleed, bleed, -1, -1], [width - bleed, bleed, 1, -1], [bleed, height - bleed, -1, 1], [width - bleed, height - bleed, 1, 1]] as const;
  for (const [x, y, dx, dy] of corners) {
    // Horizontal mark at the trim line y, starting outside the bleed box.
    const outX = dx < 0 ? -gap : width + gap;
    page.drawLine({start: {x: outX, y}, end: {x: outX + dx * length, y}, thickness: 0.25, color: rgb(0, 0, 0)});
    const outY = dy < 0 ? -gap : height + gap;
    page.drawLine({start: {x, y: outY}, end: {x, y: outY + dy * length}, thickness: 0.25, color: rgb(0, 0, 0)});
  }
}

/** Takes out what a printer refuses: bookmarks, links and other annotations, named destinations, actions. */
function withoutInteraction(doc: PDFDocument) {
  for (const key of ['Outlines', 'PageMode', 'Names', 'Dests', 'OpenAction', 'AcroForm']) doc.catalog.delete(PDFName.of(key));
  for (const page of doc.getPages()) {
    page.node.delete(PDFName.of('Annots'));
    page.node.delete(PDFName.of('Tabs'));
  }
  // The structure tree's links point at the annotations that are gone.
  const tree = doc.catalog.lookupMaybe(PDFName.of('StructTreeRoot'), PDFDict);
  if (tree) dropObjectReferences(tree, new Set());
}

/** Removes `/OBJR` kids (references to annotations) from the structure tree. */
function dropObjectReferences(node: PDFDict, seen: Set<PDFDict>) {
  if (seen.has(node)) return;
  seen.add(node);
  const kids = node.get(PDFName.of('K'));
  const list = kids ? node.context.lookup(kids) : undefined;
  if (list instanceof PDFArray) {
    for (let i = list.size() - 1; i >= 0; i--) {
      const kid = list.lookup(i);
      if (kid instanceof PDFDict) {
        if (kid.get(PDFName.of('Type')) === PDFName.of('OBJR')) list.remove(i);
        else dropObjectReferences(kid, seen);
      }
    }
  } else if (list instanceof PDFDict) {
    if (list.get(PDFName.of('Type')) === PDFName.of('OBJR')) node.delete(PDFName.of('K'));
    else dropObjectReferences(list, seen);
  }
}
