/**
 * The one place that sequences the stages: load → (pure stages) → targets → atomic write.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import type {VFile} from 'vfile';
import {loadBook, hasErrors} from './stages/load.ts';
import {renderEpub, type EpubTemplates} from './targets/epub/index.ts';
import {renderPdf, type PdfResult} from './targets/pdf/index.ts';
import {writeOutputsAtomically} from './io/output.ts';
import type {Book} from './model.ts';

export const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates');

export type Target = 'epub' | 'pdf';

export interface BuildOptions {
  manuscript: string;
  out: string;
  targets: Target[];
  /** Seconds since the epoch; undefined = the book's publication date. */
  sourceDateEpoch?: number;
  /** Called when a stage starts and ends, for progress output. */
  onStage?: (stage: string, event: 'start' | 'end', ms?: number) => void;
  /** Only check the manuscript; write nothing. */
  checkOnly?: boolean;
}

export interface BuildResult {
  files: VFile[];
  outputs: {path: string; bytes: number; pages?: number}[];
  ok: boolean;
  timings: Record<string, number>;
  book?: Book;
}

export async function build(options: BuildOptions): Promise<BuildResult> {
  const timings: Record<string, number> = {};
  const stage = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    options.onStage?.(name, 'start');
    const start = performance.now();
    try {
      return await run();
    } finally {
      timings[name] = Math.round(performance.now() - start);
      options.onStage?.(name, 'end', timings[name]);
    }
  };

  const {book, files} = await stage('load', () => loadBook(options.manuscript));
  if (!book || hasErrors(files) || options.checkOnly) {
    return {files, outputs: [], ok: !!book && !hasErrors(files), timings, ...(book ? {book} : {})};
  }
  const epoch = options.sourceDateEpoch ?? Math.floor(Date.parse(`${book.config.date.padEnd(10, '-01').slice(0, 10)}T00:00:00Z`) / 1000);
  const slug = slugOf(book.config.title);
  const outputs = new Map<string, Uint8Array>();
  let pdf: PdfResult | undefined;
  if (options.targets.includes('pdf')) {
    pdf = await stage('pdf', async () => renderPdf(book, {templates: TEMPLATES, sourceDateEpoch: epoch}));
    outputs.set(`${slug}.pdf`, pdf.bytes);
  }
  if (options.targets.includes('epub')) {
    const templates = await readEpubTemplates();
    const bytes = await stage('epub', () =>
      renderEpub(book, templates, {sourceDateEpoch: epoch, ...(pdf ? {pages: {marks: pdf.pageMarks, folios: pdf.folios}} : {})}));
    outputs.set(`${slug}.epub`, bytes);
  }
  await stage('write', () => writeOutputsAtomically(options.out, outputs));
  return {
    files, ok: true, timings, book,
    outputs: [...outputs].map(([name, bytes]) => ({
      path: path.join(options.out, name), bytes: bytes.byteLength,
      ...(name.endsWith('.pdf') && pdf ? {pages: pdf.pageCount} : {}),
    })),
  };
}

export function slugOf(title: string): string {
  return title.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'book';
}

async function readEpubTemplates(): Promise<EpubTemplates> {
  const read = (name: string) => fs.readFile(path.join(TEMPLATES, 'epub', name), 'utf8');
  const hljs = await fs.readFile(fileURLToPath(import.meta.resolve('highlight.js/styles/a11y-light.css')), 'utf8');
  return {
    contentOpf: await read('content.opf.ejs'),
    nav: await read('nav.xhtml.ejs'),
    ncx: await read('toc.ncx.ejs'),
    chapter: await read('chapter.xhtml.ejs'),
    css: `${await read('style.css')}\n/* Code highlighting: highlight.js a11y-light (WCAG AA contrast) */\n${hljs}`,
  };
}
