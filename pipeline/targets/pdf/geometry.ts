/** The print page's geometry from `book.yaml`'s `print`: lengths, the @page rules, the image bounds. */
import type {Book} from '../../model.ts';

/** The largest raster images the print needs: about 300 dpi across the text width, and the page's height. */
export function printImageBounds(print: Book['config']['print']): {maxWidth: number; maxHeight: number} {
  const textWidth = toPoints(print.trim.width) - toPoints(print.margins.inner) - toPoints(print.margins.outer);
  return {maxWidth: Math.ceil((textWidth / 72) * 300), maxHeight: Math.ceil((toPoints(print.trim.height) / 72) * 300)};
}

/** A CSS length in points. */
export function toPoints(length: string): number {
  const match = /^(\d+(?:\.\d+)?)(in|mm|cm|pt)$/.exec(length);
  if (!match) throw new Error(`Not a length: ${length}`);
  const factor = {in: 72, mm: 72 / 25.4, cm: 72 / 2.54, pt: 1}[match[2] as 'in' | 'mm' | 'cm' | 'pt'];
  return Number(match[1]) * factor;
}

/** The @page rules: the trim size (with bleed), the margins of left and right pages, the font size. */
export function pageRules(book: Book): string {
  const p = book.config.print;
  const bleed = p.bleed ? toPoints(p.bleed) : 0;
  const pt = (length: string) => `${(toPoints(length) + bleed).toFixed(2)}pt`;
  const width = toPoints(p.trim.width) + 2 * bleed;
  const height = toPoints(p.trim.height) + 2 * bleed;
  return `
@page { size: ${width.toFixed(2)}pt ${height.toFixed(2)}pt; margin: ${pt(p.margins.top)} ${pt(p.margins.outer)} ${pt(p.margins.bottom)} ${pt(p.margins.inner)}; }
@page :left { margin-left: ${pt(p.margins.outer)}; margin-right: ${pt(p.margins.inner)}; }
@page :right { margin-left: ${pt(p.margins.inner)}; margin-right: ${pt(p.margins.outer)}; }
html { font-size: ${p.fontSize}; }
`;
}

/** The page as Chrome's destinations measure it (with bleed), the text area's height and one body line, in points. */
export function textArea(print: Book['config']['print']): {pageHeight: number; contentHeight: number; lineHeight: number} {
  const bleed = print.bleed ? toPoints(print.bleed) : 0;
  return {
    pageHeight: toPoints(print.trim.height) + 2 * bleed,
    contentHeight: toPoints(print.trim.height) - toPoints(print.margins.top) - toPoints(print.margins.bottom),
    // print.css sets the body's line-height to 1.4.
    lineHeight: toPoints(print.fontSize) * 1.4,
  };
}
