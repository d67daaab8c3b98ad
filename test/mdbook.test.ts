/**
 * mdBook projects (`--manuscript DIR` with book.toml): the helpers of mdBook's `links`
 * preprocessor, SUMMARY.md and book.toml, what the loader makes of mdBook's Markdown, and the
 * fixture project test/fixtures/mdbook-book built into an EPUB and a PDF.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {PDFDocument, PDFName, PDFDict, PDFArray, PDFString, PDFHexString} from 'pdf-lib';
import type {Element, Root} from 'hast';
import {visit} from 'unist-util-visit';
import {toString} from 'hast-util-to-string';
import {diagnosticsOf} from '../pipeline/util/messages.ts';
import {VFile} from 'vfile';
import {parseBookToml} from '../pipeline/inputs/mdbook/config.ts';
import {parseSummary} from '../pipeline/inputs/mdbook/summary.ts';
import {mdbookIds} from '../pipeline/inputs/mdbook/page.ts';
import {parseSelection, selectLines, expandHelpers, type ExpandContext} from '../pipeline/inputs/mdbook/includes.ts';
import {loadBook} from '../pipeline/stages/load.ts';
import {FIXTURES, tempDir, buildBook, epubcheck, unzipEpub, readOutline, pdftext, plain, type OutlineNode} from './helpers.ts';

const FIXTURE = path.join(FIXTURES, 'mdbook-book');

/** Writes a small mdBook project and returns its folder. */
function project(files: Record<string, string>): string {
  const dir = tempDir('mdbook-');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const TOML = '[book]\ntitle = "Tiny"\nauthors = ["Ada Example"]\nlanguage = "en"\n';

type Message = {file: string; line?: number; rule: string; fatal?: boolean | null; reason: string};
function messagesOf(files: VFile[]): Message[] {
  const fatal = {error: true, warning: false, info: undefined} as const;
  return diagnosticsOf(files).map((d) => ({
    file: d.file.split(path.sep).join('/'), line: d.line, rule: String(d.ruleId), fatal: fatal[d.severity], reason: d.message,
  }));
}

function elements(tree: Root, test: (node: Element) => boolean): Element[] {
  const found: Element[] = [];
  visit(tree, 'element', (node: Element) => {
    if (test(node)) found.push(node);
  });
  return found;
}

describe('mdBook include helpers', () => {
  const file = 'one\ntwo\nthree\nfour\nfive';
  const lines = (spec?: string) => selectLines(file, parseSelection(spec)).map((l) => l.line).join(',');

  it('should take line ranges as mdBook does', () => {
    expect(lines()).toBe('one,two,three,four,five');
    expect(lines('2')).toBe('two');
    expect(lines('2:4')).toBe('two,three,four');
    expect(lines('4:')).toBe('four,five');
    expect(lines(':2')).toBe('one,two'); // `file.rs::2`
    expect(lines('9:')).toBe('');
  });

  it('should take the lines between anchors, without other anchors', () => {
    const text = 'a\n// ANCHOR: all\nb\n// ANCHOR: inner\nc\n// ANCHOR_END: inner\n// ANCHOR_END: all\nd';
    expect(selectLines(text, parseSelection('all')).map((l) => [l.number, l.line])).toEqual([[3, 'b'], [5, 'c']]);
    expect(selectLines(text, parseSelection('inner')).map((l) => l.line)).toEqual(['c']);
  });

  it('should expand includes recursively and map every line to its file', async () => {
    const sources: Record<string, string> = {
      'src/code/lib.rs': 'use x;\n// ANCHOR: f\nfn f() {}\n// ANCHOR_END: f\nfn g() {}\n',
      'src/parts/note.md': 'Note line 1\n{{#include ../code/lib.rs:5}}\n',
      'src/main.rs': 'fn main() {}\n',
    };
    const files = new Map<string, VFile>();
    const notes: {reason: string}[] = [];
    let title = '';
    const context = {
      read: async (rel: string) => (rel in sources ? {text: sources[rel]!} : {error: `\`${rel}\` does not exist`}),
      files: {get: (rel: string) => files.get(rel) ?? files.set(rel, new VFile({path: rel})).get(rel)!, register() {}, byPath: files},
      notes: {add: (_kind: string, _severity: string, _file: VFile, _place: unknown, reason: string) => notes.push({reason}), flush() {}},
      onTitle: (t: string) => (title = t),
    } as unknown as ExpandContext;
    const page = [
      '{{#title Tab Title}}# Page',
      '```rust',
      '{{#include code/lib.rs:f}}',
      '```',
      '{{ #include parts/note.md }}',
      '\\{{#include not/expanded.md}}',
      '{{#rustdoc_include code/lib.rs:f}}',
      '{{#playground main.rs editable}}',
      '{{#include missing.md}}',
      'end',
    ].join('\n');
    const out = await expandHelpers(page, 'src/page.md', context);
    const text = out.lines.join('\n');
    expect(title).toBe('Tab Title');
    expect(out.lines[0]).toBe('# Page');
    expect(text).toContain('```rust\nfn f() {}\n```');
    expect(text).toContain('Note line 1\nfn g() {}');
    expect(text).toContain('{{#include not/expanded.md}}');
    expect(text).not.toContain('\\{{#include');
    expect(text).toContain('# use x;\nfn f() {}\n# fn g() {}');
    expect(text).toContain('```rust,editable\nfn main() {}\n```');
    expect(text).toContain('{{#include missing.md}}\nend');
    // Lines know where they came from.
    const origin = (needle: string) => out.origins[out.lines.findIndex((l) => l === needle)];
    expect(origin('fn f() {}')).toEqual({path: 'src/code/lib.rs', line: 3});
    expect(origin('Note line 1')).toEqual({path: 'src/parts/note.md', line: 1});
    expect(origin('fn g() {}')).toEqual({path: 'src/code/lib.rs', line: 5});
    expect(origin('end')).toEqual({path: 'src/page.md', line: 10});
    expect(files.get('src/page.md')!.messages.map((m) => [m.line, m.reason])).toEqual([[9, 'Cannot include `missing.md`: `src/missing.md` does not exist']]);
  });

  it('should make heading ids as mdBook does', () => {
    expect(mdbookIds(['Hello, World!', 'Hello World', 'Über `code` 2', 'Hello World'])).toEqual(['hello-world', 'hello-world-1', 'Über-code-2', 'hello-world-2']);
  });
});

describe('SUMMARY.md and book.toml', () => {
  it('should read prefix, parts, nested numbered chapters, drafts and suffix chapters', () => {
    const text = fs.readFileSync(path.join(FIXTURE, 'src', 'SUMMARY.md'), 'utf8');
    const {file, summary} = parseSummary(text, 'SUMMARY.md', 'src');
    const brief = (entries: typeof summary.prefix): unknown[] => entries.map((e) => [e.number?.join('.') ?? '-', e.title, e.path ?? null, ...(e.children.length ? [brief(e.children)] : [])]);
    expect(brief(summary.prefix)).toEqual([['-', 'Foreword', 'src/foreword.md']]);
    expect(summary.parts.map((p) => [p.title, brief(p.chapters)])).toEqual([
      ['Foundations', [
        ['1', 'Getting Started', 'src/01-getting-started.md', [
          ['1.1', 'Installing the Tools', 'src/01-1-installing.md'],
          ['1.2', 'A First Model', 'src/01-2-first-model.md', [['1.2.1', 'Checking the Model', 'src/01-2-1-checking.md']]],
        ]],
        ['2', 'Data Quality', 'src/02-data-quality.md'],
      ]],
      ['Operations', [['3', 'Deployment', 'src/03-deployment.md', [['3.1', 'Monitoring', 'src/03-1-monitoring.md']]], ['4', 'Future Work', null]]],
    ]);
    expect(brief(summary.suffix)).toEqual([['-', 'Contributors', 'src/contributors.md']]);
    expect(file.messages.map((m) => [m.line, m.ruleId])).toEqual([[19, 'mdbook-separator']]);
  });

  it('should number chapters across lists and parts, with chapters before the first part', () => {
    const {summary} = parseSummary('- [A](a.md)\n\n---\n\n- [B](b.md)\n  - [B1](b1.md)\n\n# Part\n\n- [C](c.md)\n', 'SUMMARY.md', 'src');
    expect(summary.parts.map((p) => [p.title, p.chapters.map((c) => c.number?.join('.'))])).toEqual([[undefined, ['1', '2']], ['Part', ['3']]]);
    expect(summary.parts[0]!.chapters[1]!.children[0]!.number).toEqual([2, 1]);
  });

  it('should reject a list after the suffix chapters, at its line', () => {
    const {file} = parseSummary('- [A](a.md)\n\n[Suffix](s.md)\n\n- [B](b.md)\n', 'SUMMARY.md', 'src');
    expect(file.messages.map((m) => [m.line, m.fatal])).toEqual([[5, true]]);
  });

  it('should ignore renderer and preprocessor tables with one info each, and keep hidelines', () => {
    const text = fs.readFileSync(path.join(FIXTURE, 'book.toml'), 'utf8');
    const {file, book, settings} = parseBookToml(text, 'book.toml');
    expect(book).toMatchObject({title: 'Machine Learning Notes', authors: ['Ada Example', 'Grace Sample'], language: 'en'});
    expect(settings).toMatchObject({src: 'src', hidelines: {python: '~'}, expandLinks: true});
    expect(file.messages.map((m) => [m.line, m.ruleId, m.fatal])).toEqual([[10, 'mdbook-preprocessor', undefined], [14, 'mdbook-output', undefined]]);
  });

  it('should point at a wrong value in book.toml', () => {
    const {file} = parseBookToml('[book]\ntitle = "T"\nauthors = "Ada"\n', 'book.toml');
    expect(file.messages.map((m) => [m.line, m.fatal, m.reason])).toEqual([[3, true, '`book.authors` in book.toml must be a list of names, such as `["Ada Lovelace"]`']]);
  });
});

describe('reading an mdBook project', () => {
  it('should build with defaults from book.toml when there is no book.yaml', async () => {
    const dir = project({
      'book.toml': '[book]\ntitle = "Kleines Buch"\nauthors = ["Ada Example"]\nlanguage = "de"\n',
      'src/SUMMARY.md': '- [Eins](eins.md)\n',
      'src/eins.md': '# Eins\n\nText.\n',
    });
    const {book, files} = await loadBook(dir);
    expect(messagesOf(files).filter((m) => m.fatal !== undefined && m.fatal !== null)).toEqual([]);
    expect(book!.config).toMatchObject({title: 'Kleines Buch', language: 'de', authors: [{name: 'Ada Example'}]});
    expect(book!.config.license.name).toMatch(/^Copyright © \d{4} Ada Example$/);
    expect(book!.config.license.url).toBe('');
    expect(book!.docs.map((d) => [d.id, d.kind, d.number, d.title])).toEqual([['ch01', 'chapter', 1, 'Eins']]);
    expect(book!.parts).toEqual([]);
  });

  it('should take metadata from book.yaml and refuse a chapter list there', async () => {
    const dir = project({
      'book.toml': TOML,
      'book.yaml': 'publisher: Fixture Press\ndate: 2024-02-03\nparts: []\npublsher: typo\n',
      'src/SUMMARY.md': '- [One](one.md)\n',
      'src/one.md': '# One\n',
    });
    const {book, files} = await loadBook(dir);
    expect(book).toBeUndefined();
    const messages = messagesOf(files);
    expect(messages.find((m) => m.reason.startsWith('`parts` is not used'))).toMatchObject({line: 3, fatal: false});
    expect(messages.find((m) => m.reason.includes('publsher'))).toMatchObject({file: expect.stringMatching(/book\.yaml$/), line: 4, fatal: true});
  });

  it('should point every message at the author\'s file and line, through includes and merged sub-chapters', async () => {
    const dir = project({
      'book.toml': TOML,
      'src/SUMMARY.md': '- [A](a.md)\n  - [Sub](a-1.md)\n- [Missing](nowhere.md)\n',
      'src/a.md': '# A\n\nText.\n\n{{#include inc.md}}\n\n![Missing picture](img/none.png)\n',
      'src/inc.md': 'Line one.\n\n![Also missing](img/gone.png)\n',
      'src/a-1.md': '# Sub\n\nIntro.\n\n![Gone too](img/gone2.png)\n',
    });
    const {files} = await loadBook(dir);
    const errors = messagesOf(files).filter((m) => m.fatal === true).map((m) => [m.file.replace(/^.*\/src\//, 'src/'), m.line, m.rule]);
    expect(errors).toEqual(expect.arrayContaining([
      ['src/SUMMARY.md', 3, 'missing-file'],
      ['src/a.md', 7, 'missing-image'],
      ['src/inc.md', 3, 'missing-image'],
      ['src/a-1.md', 5, 'missing-image'],
    ]));
    expect(errors).toHaveLength(4);
  });

  it('should keep mdBook\'s text as text and mdBook\'s structure as SUMMARY.md says', async () => {
    const dir = project({
      'book.toml': TOML,
      'src/SUMMARY.md': '[Preface](preface.md)\n\n# Part One\n\n- [A](a.md)\n    - [Sub](sub/a-1.md)\n- [Later]()\n- [B](b.md)\n',
      'src/preface.md': 'No heading here, so SUMMARY.md names it.\n',
      'src/a.md': [
        '# A',
        '',
        'Prices: $5 and $10, thanks to @someone.',
        '',
        '![A lone picture](img/p.png)',
        '',
        '## Own section',
        '',
        'Links: [sub](sub/a-1.md#details), [b](b.html), [b again](./b.md#far-away), [licence](../LICENSE),',
        '[remote](https://example.org/x.md), [draft](later.md), <a href="b.md">html</a>.',
        '',
        '![badge](https://img.shields.io/badge.svg)',
        '',
        '```rust,ignore',
        '# fn hidden_line() {}',
        'fn shown() {}',
        '## [attribute] with one hash',
        '```',
        '',
        '<div class="hidden">Not printed.</div>',
        '',
        'Note[^1]',
        '',
        '[^1]: A note of page A.',
      ].join('\n'),
      'src/sub/a-1.md': '# Sub\n\n## Details\n\n![Sub picture](../img/p.png)\n\nBack [up](../a.md#own-section).[^1]\n\n[^1]: A note of the sub-chapter.\n',
      'src/b.md': '# B\n\n## Far away\n',
      'src/img/p.png': fs.readFileSync(path.join(FIXTURE, 'src', 'img', 'pipeline.png')) as unknown as string,
    });
    const {book, files} = await loadBook(dir);
    const messages = messagesOf(files);
    expect(messages.filter((m) => m.fatal === true)).toEqual([]);
    expect(messages.filter((m) => m.fatal === false).map((m) => m.rule).sort()).toEqual(['mdbook-link-outside-book', 'mdbook-remote-image']);
    expect(messages.find((m) => m.rule === 'mdbook-link-outside-book')!.reason).toMatch(/`\.\.\/LICENSE`.*also .*a\.md:10/);

    expect(book!.docs.map((d) => [d.id, d.kind, d.number ?? null, d.title])).toEqual([
      ['front-preface', 'front', null, 'Preface'], ['ch01', 'chapter', 1, 'A'], ['ch03', 'chapter', 3, 'B'],
    ]);
    expect(book!.parts.map((p) => [p.label, p.title, p.docIds])).toEqual([['Part I', 'Part One', ['ch01', 'ch03']]]);
    const a = book!.docs[1]!;
    expect(a.sections.map((s) => [s.number ?? null, s.title])).toEqual([[null, 'Own section'], ['1.1', 'Sub']]);
    const text = toString(a.tree);
    expect(text).toContain('Prices: $5 and $10, thanks to @someone.');
    expect(elements(a.tree, (n) => n.tagName === 'math')).toEqual([]);
    expect(elements(a.tree, (n) => n.tagName === 'figure')).toEqual([]);
    expect(elements(a.tree, (n) => n.tagName === 'img').map((n) => n.properties.dataAsset)).toEqual(['img/p.png', 'img/p.png'].map((p) => `src/${p}`));
    expect(text).not.toContain('hidden_line');
    expect(text).not.toContain('Not printed');
    expect(text).toContain('fn shown() {}\n# [attribute] with one hash');
    expect(elements(a.tree, (n) => n.tagName === 'code' && String(n.properties.className).includes('language-rust'))).toHaveLength(1);
    // Links: to headings in merged sub-chapters, other chapters, `.html` names; the rest is text.
    const links = elements(a.tree, (n) => n.tagName === 'a' && !String(n.properties.className ?? '').match(/noteref|backlink/))
      .map((n) => [toString(n), n.properties.href ?? null]);
    expect(links).toEqual([
      ['sub', '#ch01.1.details'], ['b', '#ch03.b'], ['b again', '#ch03.far-away'], ['remote', 'https://example.org/x.md'],
      ['html', '#ch03.b'], ['badge', 'https://img.shields.io/badge.svg'], ['up', '#ch01.own-section'],
    ]);
    expect(text).toContain('licence');
    expect(text).toContain('draft');
    // Both pages' `[^1]` notes survive the merge.
    expect(elements(a.tree, (n) => n.tagName === 'aside').map((n) => toString(n).trim())).toEqual([
      expect.stringContaining('A note of page A.'), expect.stringContaining('A note of the sub-chapter.'),
    ]);
    expect(messages.find((m) => m.rule === 'mdbook-draft')).toMatchObject({line: 7, reason: expect.stringContaining('“Later” (2)')});
  });
});

describe('the mdBook fixture', () => {
  let epub: string;
  let pdf: string;
  beforeAll(async () => {
    const built = await buildBook(FIXTURE);
    expect(built.result.ok).toBe(true);
    epub = built.epub!;
    pdf = built.pdf!;
  });

  it('should pass EPUBCheck with no errors and no warnings', () => {
    const result = epubcheck(epub);
    expect(result, result.output).toMatchObject({fatals: 0, errors: 0, warnings: 0});
  });

  it('should have PDF bookmarks that follow SUMMARY.md', async () => {
    const outline = (await readOutline(pdf)).filter((n) => n.title !== 'Contents');
    const shape = (nodes: OutlineNode[]): unknown[] => nodes.map((n) => (n.children.length ? [n.title, shape(n.children)] : n.title));
    expect(shape(outline)).toEqual([
      'Foreword',
      ['Part I: Foundations', [
        ['1 Getting Started', ['Why this book', '1.1 Installing the Tools', '1.2 A First Model']],
        ['2 Data Quality', ['Measuring quality']],
      ]],
      ['Part II: Operations', [
        ['3 Deployment', ['Rolling out', '3.1 Monitoring']],
      ]],
      'Contributors',
    ]);
    const pages: number[] = [];
    const walk = (nodes: OutlineNode[]) => nodes.forEach((n) => { pages.push(n.page); walk(n.children); });
    walk(outline);
    expect(pages.every((page, i) => page > 0 && (i === 0 || page >= pages[i - 1]!))).toBe(true);
    // 1.2.1 is a subsection of 1.2 in the text (bookmarks go two levels below a chapter).
    expect(plain(pdftext(pdf))).toContain('1.2.1 Checking the Model');
  });

  it('should have the same contents in the EPUB navigation', () => {
    const nav = unzipEpub(epub)['OEBPS/nav.xhtml']!;
    const toc = nav.slice(nav.indexOf('<nav'), nav.indexOf('</nav>'));
    const labels = [...toc.matchAll(/<a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1]);
    expect(labels).toEqual(expect.arrayContaining(['Foreword', 'Part I: Foundations', '1. Getting Started', '1.1 Installing the Tools', '3.1 Monitoring', 'Contributors']));
    expect(labels.indexOf('1.2 A First Model')).toBeLessThan(labels.indexOf('2. Data Quality'));
    expect(labels.join('|')).not.toMatch(/Future Work/);
  });

  it('should not link to a Markdown file anywhere', async () => {
    const entries = unzipEpub(epub);
    for (const [name, content] of Object.entries(entries)) {
      if (!/\.(xhtml|opf|ncx)$/.test(name)) continue;
      const urls = [...content.matchAll(/(?:href|src)="([^"]*)"/g)].map((m) => m[1]!);
      expect(urls.filter((url) => /\.md(#|$)/.test(url)), name).toEqual([]);
    }
    const doc = await PDFDocument.load(fs.readFileSync(pdf), {updateMetadata: false});
    const uris: string[] = [];
    for (const page of doc.getPages()) {
      const annots = page.node.lookup(PDFName.of('Annots'));
      if (!(annots instanceof PDFArray)) continue;
      for (let i = 0; i < annots.size(); i++) {
        const action = annots.lookup(i, PDFDict).lookup(PDFName.of('A'));
        const uri = action instanceof PDFDict ? action.lookup(PDFName.of('URI')) : undefined;
        if (uri instanceof PDFString || uri instanceof PDFHexString) uris.push(uri.decodeText());
      }
    }
    expect(uris.length).toBeGreaterThan(0);
    expect(uris.filter((uri) => /\.md(#|$)/.test(uri))).toEqual([]);
    expect(pdftext(pdf)).not.toMatch(/⟨[^⟩]*\.md[#⟩]/);
  });

  it('should keep every figure caption', () => {
    const captions: string[] = [];
    for (const name of fs.readdirSync(path.join(FIXTURE, 'src'))) {
      if (!name.endsWith('.md')) continue;
      const text = fs.readFileSync(path.join(FIXTURE, 'src', name), 'utf8');
      for (const match of text.matchAll(/<figcaption>([\s\S]*?)<\/figcaption>/g)) {
        captions.push(match[1]!.replace(/<[^>]+>/g, '').replace(/[*_]/g, '').replace(/\s+/g, ' ').trim());
      }
    }
    expect(captions).toHaveLength(4);
    const xhtml = Object.entries(unzipEpub(epub)).filter(([name]) => name.endsWith('.xhtml')).map(([, text]) => text).join('\n');
    const epubCaptions = [...xhtml.matchAll(/<figcaption[^>]*>([\s\S]*?)<\/figcaption>/g)]
      .map((m) => m[1]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim());
    expect(epubCaptions).toHaveLength(captions.length);
    const printed = plain(pdftext(pdf));
    for (const caption of captions) {
      expect(epubCaptions.some((c) => c.includes(caption)), caption).toBe(true);
      expect(printed, caption).toContain(caption);
    }
  });

  it('should print what mdBook shows: included code, no hidden lines, no helpers', () => {
    const printed = pdftext(pdf);
    expect(printed).toContain('pub fn train(reviews');
    expect(printed).toContain('pub fn predict(weights');
    expect(printed).not.toMatch(/\/\/ ANCHOR/);
    expect(printed).not.toContain('use std::collections::HashMap;');
    expect(printed).not.toContain('debug: fitted');
    expect(printed).toContain('assert!(accuracy > 0.9');
    expect(printed).not.toMatch(/\{\{#(?!include file\.rs)/);
    expect(plain(printed)).toContain('more than $5 of compute and more than $10 of attention');
    expect(plain(printed)).toContain('as @ada-example likes to say');
    // The chapter's own `<div class="chapter">Chapter 2</div>` would repeat the printed label.
    const chapter2 = unzipEpub(epub)['OEBPS/ch02.xhtml']!.replace(/<[^>]+>/g, ' ');
    expect(chapter2.match(/Chapter 2/g)).toHaveLength(1);
  });
});
