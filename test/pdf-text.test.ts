/**
 * The PDF's text layer says the text (issue 17): Chrome writes a soft hyphen at every
 * hyphenation point of the print HTML; finish.ts (soft-hyphens.ts) removes them from the text
 * without moving anything on the page. Checked on the stand-in book (manuscript/) against the
 * same print with Chrome's soft hyphens kept, through poppler (pdftotext, pdftoppm) and pdf.js.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {loadBook} from '../pipeline/stages/load.ts';
import {renderPdf} from '../pipeline/targets/pdf/index.ts';
import {TEMPLATES} from '../pipeline/build.ts';
import {getDocument} from 'pdfjs-dist/legacy/build/pdf.mjs';
import {ROOT, pdftext, pdfPages, tempDir} from './helpers.ts';

const MANUSCRIPT = path.join(ROOT, 'manuscript');

/** Distinct words of ten letters or more from the chapters' prose (not code, URLs, labels or attributes). */
function longWords(): string[] {
  const words = new Set<string>();
  const chapters = path.join(MANUSCRIPT, 'chapters');
  for (const file of fs.readdirSync(chapters).filter((f) => f.endsWith('.md')).sort()) {
    let text = fs.readFileSync(path.join(chapters, file), 'utf8');
    text = text.replace(/^---\n[^]*?\n---\n/, '').replace(/^(```|~~~)[^]*?^\1/gm, '').replace(/^\$\$[^]*?^\$\$/gm, '');
    text = text.replace(/`[^`]*`/g, '').replace(/\]\([^)]*\)/g, ']').replace(/\{[^}]*\}/g, '').replace(/<[^>]+>/g, '').replace(/@[\w:-]+/g, '');
    for (const line of text.split('\n')) {
      if (/^\s*(!\[|\||\[\^|:::)/.test(line)) continue;
      for (const match of line.matchAll(/(?<![\w\u00c0-\u024f-])[A-Za-z]{10,}(?![\w\u00c0-\u024f-])/g)) words.add(match[0]);
    }
  }
  return [...words];
}

describe('the PDF text layer', () => {
  let clean: string;
  let kept: string;
  beforeAll(async () => {
    const dir = tempDir('book-pdftext-');
    const book = (await loadBook(MANUSCRIPT)).book!;
    const epoch = 1_700_000_000;
    clean = path.join(dir, 'clean.pdf');
    kept = path.join(dir, 'kept.pdf');
    fs.writeFileSync(clean, (await renderPdf(book, {templates: TEMPLATES, sourceDateEpoch: epoch, log: () => {}})).bytes);
    fs.writeFileSync(kept, (await renderPdf(book, {templates: TEMPLATES, sourceDateEpoch: epoch, log: () => {}, keepSoftHyphens: true})).bytes);
  }, 240_000);

  it('should have no soft hyphen, where Chrome wrote thousands', () => {
    expect(pdftext(kept).split('\u00ad').length - 1).toBeGreaterThan(1000);
    expect(pdftext(clean)).not.toContain('\u00ad');
  });

  it('should hold every long word of the chapters whole', () => {
    const words = longWords();
    expect(words.length).toBeGreaterThanOrEqual(100);
    // Line-end hyphens joined, as a reader's search does; across a page turn, the running head and folio between the halves skipped.
    const joined = (file: string) => pdftext(file).replace(/-\n+\f(?:[^\n]*\n+){2}/g, '').replace(/-\n/g, '').replace(/\s+/g, ' ');
    const text = joined(clean);
    const missing = words.filter((word) => !text.includes(word));
    expect(missing).toEqual([]);
    // Without the rewrite, search finds many of them broken.
    const before = joined(kept);
    expect(words.filter((word) => !before.includes(word)).length).toBeGreaterThan(words.length / 10);
  });

  it('should read as words in pdf.js too', async () => {
    const document = await getDocument({data: new Uint8Array(fs.readFileSync(clean)), isEvalSupported: false, disableFontFace: true}).promise;
    const words = longWords();
    let text = '';
    // Every fifth page: a few dozen pages of prose, headings and notes.
    for (let number = 1; number <= document.numPages; number += 5) {
      const content = await (await document.getPage(number)).getTextContent();
      text += content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('');
    }
    await document.destroy();
    expect(text).not.toContain('\u00ad');
    const flat = text.replace(/-\n/g, '').replace(/\s+/g, ' ');
    const seen = words.filter((word) => flat.includes(word));
    // The words on the pages read are whole: each one found in pdftotext's full text and on these pages.
    expect(seen.length).toBeGreaterThan(20);
    const broken = flat.match(/\b[a-z]+\u00ad[a-z]+\b/g) ?? [];
    expect(broken).toEqual([]);
  }, 60_000);

  it('should keep the pages as they were: count, first and last words, and pixels', () => {
    const a = pdfPages(kept).map((page) => page.replaceAll('\u00ad', '').trim().split(/\s+/));
    const b = pdfPages(clean).map((page) => page.trim().split(/\s+/));
    expect(b.length).toBe(a.length);
    expect(b.map((words) => [words[0], words.at(-1)])).toEqual(a.map((words) => [words[0], words.at(-1)]));
    const dir = tempDir('book-pdftext-pixels-');
    for (const page of [1, Math.floor(a.length / 2), a.length - 3]) {
      const render = (file: string, name: string) => {
        const prefix = path.join(dir, `${name}-${page}`);
        expect(spawnSync('pdftoppm', ['-r', '72', '-f', String(page), '-l', String(page), '-singlefile', '-gray', file, prefix]).status).toBe(0);
        return fs.readFileSync(`${prefix}.pgm`);
      };
      expect(render(clean, 'clean').equals(render(kept, 'kept'))).toBe(true);
    }
  });
});
