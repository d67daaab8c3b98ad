/**
 * Where a page draws its images, and at what resolution: a reading of the page's content
 * streams for the operators that place them (`q`, `Q`, `cm`, `Do`), into Form XObjects too (an
 * SVG drawing is a form, its embedded bitmaps images inside it). Strings, inline images and
 * comments are skipped, not interpreted.
 */
import {PDFName, PDFDict, PDFArray, PDFNumber, PDFRawStream, PDFRef, decodePDFRawStream, type PDFPage, type PDFContext} from 'pdf-lib';

export interface PlacedImage {
  pixelWidth: number;
  pixelHeight: number;
  /** Drawn size on the page, in points. */
  widthPt: number;
  heightPt: number;
  /** The lower of its horizontal and vertical resolution, pixels per inch. */
  ppi: number;
}

type Matrix = [number, number, number, number, number, number];
const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];
const multiply = (m: Matrix, n: Matrix): Matrix => [
  m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3],
  m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3],
  m[4] * n[0] + m[5] * n[2] + n[4], m[4] * n[1] + m[5] * n[3] + n[5],
];

export function contentImages(page: PDFPage): PlacedImage[] {
  const {context} = page.node;
  const found: PlacedImage[] = [];
  const contents = page.node.get(PDFName.of('Contents'));
  const value = contents ? context.lookup(contents) : undefined;
  const streams = (value instanceof PDFArray ? value.asArray() : [contents]).map((item) => (item ? context.lookup(item) : undefined));
  const text = streams.filter((s): s is PDFRawStream => s instanceof PDFRawStream).map(decode).join('\n');
  const resources = page.node.Resources();
  walk(text, resources, IDENTITY, context, found, 0);
  return found;
}

function decode(stream: PDFRawStream): string {
  try {
    return Buffer.from(decodePDFRawStream(stream).decode()).toString('latin1');
  } catch {
    return '';
  }
}

function walk(text: string, resources: PDFDict | undefined, start: Matrix, context: PDFContext, found: PlacedImage[], depth: number) {
  if (depth > 8) return;
  const xobjects = resources?.lookupMaybe(PDFName.of('XObject'), PDFDict);
  let ctm = start;
  const stack: Matrix[] = [];
  const operands: string[] = [];
  for (const token of tokens(text)) {
    if (/^[-+.\d]/.test(token) || token.startsWith('/')) {
      operands.push(token);
      continue;
    }
    if (token === 'q') stack.push(ctm);
    else if (token === 'Q') ctm = stack.pop() ?? start;
    else if (token === 'cm' && operands.length >= 6) {
      const m = operands.slice(-6).map(Number) as Matrix;
      if (m.every(Number.isFinite)) ctm = multiply(m, ctm);
    } else if (token === 'Do' && operands.length >= 1) {
      const ref = xobjects?.get(PDFName.of(operands.at(-1)!.slice(1)));
      const object = ref instanceof PDFRef ? context.lookup(ref) : ref;
      if (object instanceof PDFRawStream) {
        const subtype = object.dict.get(PDFName.of('Subtype'));
        if (subtype === PDFName.of('Image')) {
          const pixelWidth = number(object.dict.get(PDFName.of('Width')));
          const pixelHeight = number(object.dict.get(PDFName.of('Height')));
          const widthPt = Math.hypot(ctm[0], ctm[1]);
          const heightPt = Math.hypot(ctm[2], ctm[3]);
          if (pixelWidth > 1 && pixelHeight > 1 && widthPt > 1 && heightPt > 1) {
            found.push({pixelWidth, pixelHeight, widthPt, heightPt, ppi: Math.min(pixelWidth / (widthPt / 72), pixelHeight / (heightPt / 72))});
          }
        } else if (subtype === PDFName.of('Form')) {
          const matrix = object.dict.lookupMaybe(PDFName.of('Matrix'), PDFArray);
          const m = matrix ? (matrix.asArray().map((n) => number(n)) as Matrix) : IDENTITY;
          const inner = object.dict.lookupMaybe(PDFName.of('Resources'), PDFDict) ?? resources;
          walk(decode(object), inner, multiply(m, ctm), context, found, depth + 1);
        }
      }
    }
    operands.length = 0;
  }
}

const number = (value: unknown): number => (value instanceof PDFNumber ? value.asNumber() : 0);

/** The content stream's tokens, without strings, comments, dictionaries' brackets and inline images. */
function* tokens(text: string): Generator<string> {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '%') { while (i < n && text[i] !== '\n' && text[i] !== '\r') i++; continue; }
    if (c === '(') {
      let level = 0;
      for (; i < n; i++) {
        if (text[i] === '\\') { i++; continue; }
        if (text[i] === '(') level++;
        else if (text[i] === ')' && --level === 0) { i++; break; }
      }
      yield '(string)';
      continue;
    }
    if (c === '<' && text[i + 1] !== '<') { const end = text.indexOf('>', i); i = end < 0 ? n : end + 1; yield '<hex>'; continue; }
    if (c === '<' || c === '>') { i += text[i + 1] === c ? 2 : 1; continue; }
    if (c === '[' || c === ']' || c === '{' || c === '}') { i++; continue; }
    let j = i + 1;
    if (c === '/') while (j < n && !/[\s/()<>[\]{}%]/.test(text[j]!)) j++;
    else while (j < n && !/[\s/()<>[\]{}%]/.test(text[j]!)) j++;
    const token = text.slice(i, j);
    i = j;
    if (token === 'BI') {
      // An inline image: skip to its end (`EI` after whitespace).
      const end = text.slice(i).search(/\sEI(\s|$)/);
      i = end < 0 ? n : i + end + 3;
      continue;
    }
    yield token;
  }
}
