/**
 * The print HTML carries a soft hyphen (U+00AD) at every hyphenation point (html.ts: Chrome here
 * has no hyphenation dictionaries), and Chrome writes each one into the PDF as
 * `/Span <</ActualText <FEFF00AD>>> BDC … <glyph> Tj EMC` with an invisible glyph; where a line
 * breaks there, the hyphen is a glyph of its own that reads `-`. Text extraction, search, copy
 * and screen readers saw `ma\u00ADchine` everywhere. The rewrite of the page content streams
 * below leaves the drawing as it is and the text as the words, with `-` only at line ends.
 * Deterministic (zlib at a fixed level).
 */
import {promisify} from 'node:util';
import {deflate as deflateCallback, inflate as inflateCallback} from 'node:zlib';
import pMap from 'p-map';
import {PDFArray, PDFName, PDFNumber, PDFRawStream, PDFRef, type PDFDocument, type PDFPage} from 'pdf-lib';

const SPAN = /\/Span\s*<<\s*\/ActualText\s*<feff00ad>\s*>>\s*BDC\s*([^]*?)\s*EMC/gi;

/**
 * Removes the soft hyphens from every page's text. Chrome draws each one, inside or at the end
 * of a line, as an invisible glyph in a span that says U+00AD, positioned by its own `Td` like
 * every glyph; where the line breaks it draws the hyphen as a glyph of its own after the span,
 * which reads as `-`. The span and its glyph go (the `Td` stays, so nothing moves); in a
 * ligature's ActualText (`f\u00ADf`) the U+00AD goes.
 */
export async function cleanSoftHyphens(doc: PDFDocument): Promise<{removed: number; ligatures: number}> {
  const counts = {removed: 0, ligatures: 0};
  // zlib is most of the work: on libuv's threads, a few streams at a time (both cores).
  const refs = doc.getPages().flatMap((page) => contentRefs(page));
  await pMap(refs, async (ref) => {
    {
      const stream = doc.context.lookup(ref);
      if (!(stream instanceof PDFRawStream)) return;
      const filter = stream.dict.get(PDFName.of('Filter'));
      const flate = filter instanceof PDFName && filter.asString() === '/FlateDecode';
      if (filter && !flate) return;
      let text: string;
      try {
        text = Buffer.from(flate ? await inflate(stream.contents) : stream.contents).toString('latin1');
      } catch {
        // Not a stream Chrome wrote (nor one that inflates): left as it is.
        return;
      }
      if (!/ActualText\s*<feff(?:[0-9a-f]{4})*?00ad/i.test(text)) return;
      const rewritten = text
        .replace(SPAN, (whole: string, body: string) => {
          const glyph = /^([-\d.]+\s+[-\d.]+\s+Td)\s*<[0-9a-f]+>\s*Tj$/i.exec(body.trim());
          if (!glyph) return whole;
          counts.removed++;
          return glyph[1]!;
        })
        .replace(/\/ActualText\s*<feff((?:[0-9a-f]{4})+)>/gi, (whole: string, units: string) => {
          const kept = units.match(/.{4}/g)!.filter((unit) => unit.toLowerCase() !== '00ad');
          if (kept.length * 4 === units.length) return whole;
          counts.ligatures++;
          return `/ActualText <feff${kept.join('')}>`;
        });
      if (rewritten === text) return;
      const bytes = Buffer.from(rewritten, 'latin1');
      const contents = flate ? await deflate(bytes, {level: 6}) : bytes;
      const dict = stream.dict.clone(doc.context);
      dict.set(PDFName.of('Length'), PDFNumber.of(contents.byteLength));
      doc.context.assign(ref, PDFRawStream.of(dict, new Uint8Array(contents)));
    }
  }, {concurrency: 4});
  return counts;
}

const inflate = promisify(inflateCallback);
const deflate = promisify(deflateCallback) as (data: Buffer, options: {level: number}) => Promise<Buffer>;

function contentRefs(page: PDFPage): PDFRef[] {
  const contents = page.node.get(PDFName.of('Contents'));
  if (contents instanceof PDFRef) {
    const target = page.doc.context.lookup(contents);
    if (target instanceof PDFArray) return target.asArray().filter((item): item is PDFRef => item instanceof PDFRef);
    return [contents];
  }
  if (contents instanceof PDFArray) return contents.asArray().filter((item): item is PDFRef => item instanceof PDFRef);
  return [];
}
