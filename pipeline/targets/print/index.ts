/**
 * The print channels: from the finished screen PDF, one more file per print profile
 * (`<slug>.kdp.pdf`, `<slug>.pdfx.pdf`) and, with either, the cover (`<slug>.cover.pdf`); each file
 * read back by the preflight for what its printer would reject. All from the same layout pass:
 * nothing is printed again.
 */
import {createRequire} from 'node:module';
import fs from 'node:fs';
import type {Book} from '../../model.ts';
import type {PrintProfile} from '../../config/schema.ts';
import {toPoints} from '../pdf/geometry.ts';
import {kdpPdf, pdfxSource} from './profiles.ts';
import {toPdfx} from './ghostscript.ts';
import {coverPdf} from './cover.ts';
import {preflight, type Finding} from './preflight.ts';

export {preflight, type Finding} from './preflight.ts';
export {coverGeometry, PAPER_THICKNESS} from './cover.ts';
export {GhostscriptNotFoundError} from './ghostscript.ts';

const require = createRequire(import.meta.url);

export interface PrintFile {
  name: string;
  bytes: Uint8Array;
  profile: PrintProfile | 'cover';
  findings: Finding[];
}

export async function printFiles(book: Book, screen: Uint8Array, pageCount: number, profiles: PrintProfile[], options: {slug: string; sourceDateEpoch: number; time?: <T>(name: string, run: () => Promise<T>) => Promise<T>}): Promise<{screen: Finding[]; files: PrintFile[]}> {
  const time = options.time ?? (<T>(_name: string, run: () => Promise<T>) => run());
  const {print} = book.config;
  const trim = {width: toPoints(print.trim.width), height: toPoints(print.trim.height)};
  const bleed = print.bleed ? toPoints(print.bleed) : 0;
  const files: PrintFile[] = [];
  const screenFindings = profiles.includes('screen') ? await time('preflight screen', () => preflight(screen, 'screen')) : [];
  if (profiles.includes('kdp')) {
    const bytes = await time('kdp', () => kdpPdf(screen, print));
    files.push({name: `${options.slug}.kdp.pdf`, bytes, profile: 'kdp', findings: await preflight(bytes, 'kdp', {trim, bleed})});
  }
  if (profiles.includes('pdfx')) {
    const bytes = await time('pdfx', async () => toPdfx(await pdfxSource(screen, print), {color: print.color ?? 'gray', sourceDateEpoch: options.sourceDateEpoch}));
    files.push({name: `${options.slug}.pdfx.pdf`, bytes, profile: 'pdfx', findings: await preflight(bytes, 'pdfx')});
  }
  if (profiles.includes('kdp') || profiles.includes('pdfx')) {
    const font = (weight: number) => fs.readFileSync(require.resolve(`@fontsource/source-sans-3/files/source-sans-3-latin-${weight}-normal.woff`));
    const bytes = await time('cover', () => coverPdf(book, pageCount, {regular: font(400), bold: font(600)}, options.sourceDateEpoch));
    files.push({name: `${options.slug}.cover.pdf`, bytes, profile: 'cover', findings: await preflight(bytes, 'cover')});
  }
  return {screen: screenFindings, files};
}
