/**
 * What real mdBook books contain that our first fixture did not (test/fixtures/mdbook-quirks):
 * HTML comments with `--`, `<sub>`/`<sup>`/`<kbd>`, `<br>` in table cells, `<img width=…>` in
 * pixels and per cent, `align` on `<div>`/`<p>`, `<center>`, a table inside a `<div>`,
 * `<details>`, mdBook's `<div class="warning">`, GitHub alerts (`> [!NOTE]`, which mdBook 0.5
 * renders), a chapter file with a non-ASCII name linked plainly and percent-escaped, a chapter
 * without a `#` title, an empty chapter, and `{{#include}}`/`{{#rustdoc_include}}` with anchors.
 * Each builds into an EPUB that passes EPUBCheck and Ace, and a PDF that prints it.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import path from 'node:path';
import {build} from '../pipeline/build.ts';
import {aceGate} from '../pipeline/gates.ts';
import {FIXTURES, epubcheck, messages, pdftext, tempDir, unzipEpub} from './helpers.ts';

const QUIRKS = path.join(FIXTURES, 'mdbook-quirks');

describe('an mdBook book with the quirks of real ones', () => {
  let epub: string;
  let pdf: string;
  let entries: Record<string, string>;
  let warnings: string[];
  let printed: string;
  beforeAll(async () => {
    const out = tempDir('book-quirks-');
    const result = await build({manuscript: QUIRKS, out, targets: ['epub', 'pdf'], sourceDateEpoch: 1_700_000_000});
    expect(messages(result).filter((m) => m.fatal)).toEqual([]);
    warnings = messages(result).map((m) => `${path.basename(m.file)}:${m.line} ${m.rule}`);
    epub = result.outputs.find((o) => o.path.endsWith('.epub'))!.path;
    pdf = result.outputs.find((o) => o.path.endsWith('.pdf'))!.path;
    entries = unzipEpub(epub);
    printed = pdftext(pdf).replaceAll('\u00ad', '');
  }, 120_000);

  const chapter = (title: string) => Object.values(entries).find((text) => text.includes('epub:type="chapter"') && text.includes(`>${title}<`))!;

  it('should build with one message only: the mdBook-only code attribute', () => {
    expect(warnings).toEqual(['code.md:7 mdbook-code-attributes']);
  });

  it('should pass EPUBCheck and Ace', async () => {
    const check = epubcheck(epub);
    expect([check.fatals, check.errors, check.warnings]).toEqual([0, 0, 0]);
    expect((await aceGate(epub)).problems).toEqual([]);
  }, 120_000);

  it('should keep inline HTML, line breaks in cells and details, and drop comments', () => {
    const markup = chapter('Markup Mix');
    expect(markup).toContain('H<sub>2</sub>O');
    expect(markup).toContain('mc<sup>2</sup>');
    expect(markup).toContain('<kbd>Ctrl</kbd>');
    expect(markup).toContain('<td>Collect<br />and clean</td>');
    expect(markup).toContain('<td>Train<br />evaluate<br />deploy</td>');
    expect(markup).toMatch(/<details[^>]*>\s*<summary>Show the answer<\/summary>/);
    expect(Object.values(entries).join('\n')).not.toMatch(/TODO|three dashes/);
    expect(printed).not.toMatch(/TODO|three dashes/);
    expect(printed).toContain('Collect');
  });

  it('should size images as the author asked, and centre without the obsolete `align`', () => {
    const markup = chapter('Markup Mix');
    expect(markup).toMatch(/<img [^>]*alt="A pipeline"[^>]*width="400" height="200"/);
    expect(markup).toMatch(/<img [^>]*alt="The pipeline again"[^>]*style="width: 50%; height: auto"/);
    expect(markup).toMatch(/<img [^>]*alt="Centered picture"[^>]*width="300" height="150"/);
    expect(markup).not.toMatch(/\salign=/);
    expect(markup).toMatch(/<div class="align-center"[^>]*>\s*<table>/);
    expect(markup).toMatch(/<div class="align-center"[^>]*>Centered text<\/div>/);
    expect(markup).toContain('<div class="warning"');
  });

  it('should make GitHub alerts titled notes, in both outputs', () => {
    const notes = chapter('Notes and Warnings');
    expect(notes).toMatch(/<div class="admonition admonition-note" role="note" aria-label="Note"[^>]*>\s*<p class="admonition-title">Note<\/p>\s*<p>GitHub's alert syntax\.<\/p>/);
    expect(notes).toMatch(/<div class="admonition admonition-warning"[^>]*>\s*<p class="admonition-title">Warning<\/p>\s*<p>Careful here\.<\/p>/);
    expect(notes).not.toContain('[!');
    expect(printed).not.toContain('[!');
    // A bold "Note" paragraph stays the quotation it is.
    expect(notes).toMatch(/<blockquote[^>]*>\s*<p><strong>Note<\/strong>/);
  });

  it('should read chapters with non-ASCII names, without a title, or empty, as SUMMARY.md lists them', () => {
    const nav = entries['OEBPS/nav.xhtml']!;
    const titles = [...nav.matchAll(/<li><a href="ch\d+\.xhtml">([^<]+)<\/a>/g)].map((m) => m[1]);
    expect(titles).toEqual(['Einführung', 'No Title Heading', 'Empty Chapter', 'Markup Mix', 'Code With Anchors', 'Notes and Warnings']);
    expect(chapter('Einführung')).toContain('Ärger mit Umlauten: Größe, Maß, naïve café.');
    expect(printed).toContain('Ärger mit Umlauten');
    // Linked plainly and percent-escaped from the introduction: both reach the chapter's heading.
    const intro = Object.entries(entries).find(([name]) => name.includes('README'))![1];
    const links = [...intro.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]);
    expect(links).toHaveLength(2);
    expect(new Set(links).size).toBe(1);
    expect(links[0]).toMatch(/^ch01\.xhtml#/);
    expect(chapter('Einführung')).toContain(`id="${links[0]!.split('#')[1]}"`);
    expect(chapter('No Title Heading')).toContain('This chapter starts with text, not a heading.');
    expect(chapter('Empty Chapter')).toMatch(/<h1[^>]*>Empty Chapter<\/h1>/);
  });

  it('should include code by anchor, without the anchor lines', () => {
    const code = chapter('Code With Anchors');
    expect(code).not.toContain('ANCHOR');
    expect(code.match(/println!/g)).toHaveLength(2);
    expect(code).toContain('std::io');
    expect(printed).not.toContain('ANCHOR');
  });
});
