/** Shared helpers for end-to-end tests: build a book, run the real checkers on the outputs. */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {unzipSync} from 'fflate';
import {build, type BuildResult} from '../pipeline/build.ts';
import {diagnosticsOf} from '../pipeline/util/messages.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

export function tempDir(prefix = 'book-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function buildBook(manuscript: string, options: {targets?: ('epub' | 'pdf')[]; out?: string; sourceDateEpoch?: number} = {}) {
  const out = options.out ?? tempDir();
  const result: BuildResult = await build({
    manuscript, out, targets: options.targets ?? ['epub', 'pdf'],
    ...(options.sourceDateEpoch !== undefined ? {sourceDateEpoch: options.sourceDateEpoch} : {}),
  });
  const find = (ext: string) => result.outputs.find((o) => o.path.endsWith(ext))?.path;
  return {result, out, epub: find('.epub'), pdf: find('.pdf')};
}

/** Messages of every file, as `rule-id` strings, for assertions. */
export function messages(result: BuildResult): {file: string; line?: number; column?: number; rule: string; fatal: boolean; reason: string}[] {
  return diagnosticsOf(result.files).map((d) => ({
    file: d.file, line: d.line, column: d.column, rule: String(d.ruleId), fatal: d.severity === 'error', reason: d.message,
  }));
}

export interface EpubCheckResult {
  errors: number;
  warnings: number;
  fatals: number;
  output: string;
}

export function epubcheck(file: string, args: string[] = []): EpubCheckResult {
  const run = spawnSync('java', ['-jar', '/usr/share/java/epubcheck.jar', ...args, file], {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
  const output = `${run.stdout}\n${run.stderr}`;
  const match = /Messages: (\d+) fatals? \/ (\d+) errors? \/ (\d+) warnings?/.exec(output);
  if (!match) {
    if (/No errors or warnings detected/.test(output)) return {fatals: 0, errors: 0, warnings: 0, output};
    throw new Error(`EPUBCheck did not report a summary:\n${output}`);
  }
  return {fatals: Number(match[1]), errors: Number(match[2]), warnings: Number(match[3]), output};
}

export function unzipEpub(file: string): Record<string, string> {
  const entries = unzipSync(fs.readFileSync(file));
  return Object.fromEntries(Object.entries(entries).map(([name, bytes]) => [name, Buffer.from(bytes).toString('utf8')]));
}

export function zipEntryNames(file: string): string[] {
  return execFileSync('unzip', ['-Z1', file], {encoding: 'utf8'}).trim().split('\n');
}

export function pdfinfo(file: string, args: string[] = []): string {
  return execFileSync('pdfinfo', [...args, file], {encoding: 'utf8'});
}

export function pdfInfoField(file: string, field: string): string | undefined {
  const line = pdfinfo(file).split('\n').find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}

/** Text of one page (1-based) or of the whole document. */
export function pdftext(file: string, page?: number, layout = false): string {
  const args = [...(layout ? ['-layout'] : []), ...(page ? ['-f', String(page), '-l', String(page)] : []), file, '-'];
  return execFileSync('pdftotext', args, {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
}

/** Every page's text, split on form feeds (pdftotext ends each page with \f). */
export function pdfPages(file: string): string[] {
  const text = execFileSync('pdftotext', ['-layout', file, '-'], {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
  const pages = text.split('\f');
  if (pages.at(-1)?.trim() === '') pages.pop();
  return pages;
}

export function pdffonts(file: string): {name: string; embedded: boolean}[] {
  const lines = execFileSync('pdffonts', [file], {encoding: 'utf8'}).trim().split('\n').slice(2);
  return lines.map((line) => {
    const columns = line.trim().split(/\s+/);
    // name type… encoding emb sub uni object ID: emb is the 5th field from the end.
    return {name: columns[0]!, embedded: columns.at(-5) === 'yes'};
  });
}

/** Normalises whitespace and soft hyphens for comparing printed text. */
export function plain(text: string): string {
  return text.replace(/\u00ad/g, '').replace(/-\n\s*/g, '').replace(/\s+/g, ' ').trim();
}

import {PDFDocument, PDFName, PDFDict, PDFArray, PDFRef, PDFHexString, PDFString} from 'pdf-lib';
import {readDestinations, decodeName} from '../pipeline/targets/pdf/read.ts';

export interface OutlineNode {
  title: string;
  page: number;
  children: OutlineNode[];
}

/** Reads the PDF bookmarks with their target pages (1-based). */
export async function readOutline(file: string): Promise<OutlineNode[]> {
  const doc = await PDFDocument.load(fs.readFileSync(file), {updateMetadata: false});
  const pageIndex = new Map(doc.getPages().map((p, i) => [p.ref.toString(), i + 1]));
  const outlines = doc.catalog.lookup(PDFName.of('Outlines'));
  if (!(outlines instanceof PDFDict)) return [];
  const walk = (ref: unknown): OutlineNode[] => {
    const nodes: OutlineNode[] = [];
    let current = ref;
    while (current instanceof PDFRef) {
      const dict = doc.context.lookup(current) as PDFDict;
      const title = dict.lookup(PDFName.of('Title'));
      const dest = dict.lookup(PDFName.of('Dest'));
      const pageRef = dest instanceof PDFArray ? dest.get(0) : undefined;
      nodes.push({
        title: title instanceof PDFHexString || title instanceof PDFString ? title.decodeText() : '',
        page: pageRef ? pageIndex.get(pageRef.toString()) ?? 0 : 0,
        children: walk(dict.get(PDFName.of('First'))),
      });
      current = dict.get(PDFName.of('Next'));
    }
    return nodes;
  };
  return walk(outlines.get(PDFName.of('First')));
}

/** Link annotations to notes: the page of each call and of the note it points to (Chrome's slivers of a line over a page's edge left out). */
export async function noteLinks(bytes: Uint8Array): Promise<{note: string; callPage: number; notePage: number | undefined}[]> {
  const doc = await PDFDocument.load(bytes);
  const dests = readDestinations(doc);
  const out: {note: string; callPage: number; notePage: number | undefined}[] = [];
  doc.getPages().forEach((page, i) => {
    for (const ref of page.node.Annots()?.asArray() ?? []) {
      const annot = doc.context.lookup(ref) as PDFDict;
      const dest = annot.get(PDFName.of('Dest')) ?? (annot.lookup(PDFName.of('A')) as PDFDict | undefined)?.get(PDFName.of('D'));
      const name = dest instanceof PDFName ? decodeName(dest.asString()) : dest instanceof PDFString || dest instanceof PDFHexString ? dest.decodeText() : '';
      const rect = (annot.lookup(PDFName.of('Rect')) as PDFArray).asArray().map((n) => Number(String(n)));
      if (!/-fn-/.test(name) || Math.abs(rect[3]! - rect[1]!) < 1) continue;
      out.push({note: name, callPage: i + 1, notePage: dests.get(name)?.page});
    }
  });
  return out;
}

