/**
 * What build.ts knows of the targets: the image sizes each one wants (so images can be scaled
 * for it while the book loads) and how to render. The EPUB is pure; the PDF needs Chrome and is
 * loaded only when asked for (Puppeteer takes half a second to import).
 *
 *   paginate ──► PagePlan ──► pdf.render(layout)
 *                    └──────► epub.render(book, {pages})   (while Chrome prints the final pass)
 */
import type {BookConfig, PrintProfile} from '../config/schema.ts';
import type {Book} from '../model.ts';
import {renderEpub, readEpubTemplates, EPUB_MAX_IMAGE_WIDTH, EPUB_MAX_IMAGE_HEIGHT} from './epub/index.ts';
import {printImageBounds} from './pdf/geometry.ts';
import type {PdfOptions, Printer} from './pdf/index.ts';

export type Target = 'epub' | 'pdf';

/** The largest raster image a target carries; larger ones are scaled down for it. */
export interface ImageBounds {
  maxWidth: number;
  maxHeight: number;
}

export const epubTarget = {
  extension: 'epub',
  imageBounds: (_config: BookConfig): ImageBounds => ({maxWidth: EPUB_MAX_IMAGE_WIDTH, maxHeight: EPUB_MAX_IMAGE_HEIGHT}),
  templates: readEpubTemplates,
  render: renderEpub,
};

export const pdfTarget = {
  extension: 'pdf',
  imageBounds: (config: BookConfig): ImageBounds => printImageBounds(config.print),
  /** Starts Chrome for `book`: `paginate()`, then `render(layout)`, then `close()`. */
  open: async (book: Book, options: PdfOptions): Promise<Printer> => (await import('./pdf/index.ts')).openPrinter(book, options),
};

/** The print channels (print/): the profiles' files and the cover, from the finished screen PDF. */
export const printTarget = {
  /** The print profiles a build makes: the command line's, else book.yaml's (`screen` checks the screen PDF). */
  profiles: (config: BookConfig, asked: PrintProfile[] | undefined): PrintProfile[] => [...new Set(asked ?? config.print.profiles ?? [])],
  files: async (...args: Parameters<typeof import('./print/index.ts').printFiles>) => (await import('./print/index.ts')).printFiles(...args),
};
