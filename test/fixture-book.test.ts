/** End to end on the small fixture book: both outputs, checked with the real tools. */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {buildBook, epubcheck, unzipEpub, zipEntryNames, pdfInfoField, pdftext, readOutline, FIXTURES, ROOT, tempDir, plain, type OutlineNode} from './helpers.ts';

const MINI = path.join(FIXTURES, 'mini');
let epub: string;
let pdf: string;

beforeAll(async () => {
  const built = await buildBook(MINI);
  expect(built.result.ok).toBe(true);
  epub = built.epub!;
  pdf = built.pdf!;
});

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'pipeline/cli.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: {...process.env, ...env},
  });
}

describe('the fixture book', () => {
  it('should build an EPUB that EPUBCheck passes with no errors and no warnings', () => {
    const result = epubcheck(epub);
    expect(result.output).toMatch(/No errors or warnings detected/);
    expect(result.errors + result.fatals + result.warnings).toBe(0);
  });

  it('should put mimetype first in the EPUB and never say "All rights reserved"', () => {
    expect(zipEntryNames(epub)[0]).toBe('mimetype');
    const files = unzipEpub(epub);
    const opf = files['OEBPS/content.opf']!;
    expect(opf).not.toMatch(/All rights reserved/i);
    expect(opf).toContain('<dc:rights>Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International (CC BY-NC-ND 4.0)</dc:rights>');
    expect(opf).toContain('<link rel="cc:license" href="https://creativecommons.org/licenses/by-nc-nd/4.0/"/>');
    expect(files['OEBPS/copyright.xhtml']).toContain('https://creativecommons.org/licenses/by-nc-nd/4.0/');
  });

  it('should nest the EPUB navigation by part, chapter and section', () => {
    const nav = unzipEpub(epub)['OEBPS/nav.xhtml']!;
    const toc = nav.slice(nav.indexOf('epub:type="toc"'), nav.indexOf('epub:type="landmarks"'));
    expect(toc).toMatch(/<li><a href="part1.xhtml">Part I: Beginnings<\/a><ol[^>]*>\s*<li><a href="ch01.xhtml">1. Alpha Chapter<\/a><ol[^>]*>\s*<li><a href="ch01.xhtml#ch01-pictures|ch01.xhtml#sec-alpha-pictures">/);
    expect(toc).toContain('Part II: Endings');
  });

  it('should turn a link to another chapter file into a working link in the EPUB', () => {
    const files = unzipEpub(epub);
    const chapter = files['OEBPS/ch01.xhtml']!;
    expect(chapter).toContain('href="ch03.xhtml#sec-gamma-two"');
    expect(chapter).not.toMatch(/href="[^"]*\.md/);
    expect(files['OEBPS/ch03.xhtml']).toContain('id="sec-gamma-two"');
  });

  it('should print a PDF with title and author metadata, bookmarks for every chapter and every chapter title', async () => {
    expect(pdfInfoField(pdf, 'Title')).toBe('A Small Test Book: Fixtures for the Pipeline');
    expect(pdfInfoField(pdf, 'Author')).toBe('Ada Example');
    expect(pdfInfoField(pdf, 'Tagged')).toBe('yes');
    expect(Number(pdfInfoField(pdf, 'Pages'))).toBeGreaterThan(8);
    const outline = await readOutline(pdf);
    const flat = (nodes: OutlineNode[]): OutlineNode[] => nodes.flatMap((n) => [n, ...flat(n.children)]);
    const titles = flat(outline).map((n) => n.title);
    for (const title of ['1 Alpha Chapter', '2 Beta Chapter', '3 Gamma Chapter']) expect(titles).toContain(title);
    const text = plain(pdftext(pdf));
    for (const title of ['Alpha Chapter', 'Beta Chapter', 'Gamma Chapter']) expect(text).toContain(title);
  });

  it('should make a link to another chapter land on that chapter\'s page in the PDF', async () => {
    const outline = await readOutline(pdf);
    const gamma = outline.find((n) => n.title.startsWith('Part II'))!.children[0]!;
    const section = gamma.children.find((n) => n.title.includes('Gamma Two'))!;
    // The link in chapter 1 points at the destination of the section's heading.
    const {PDFDocument, PDFName, PDFArray, PDFDict} = await import('pdf-lib');
    const doc = await PDFDocument.load(fs.readFileSync(pdf));
    const dests = doc.catalog.lookup(PDFName.of('Dests'), PDFDict);
    const target = dests.lookup(PDFName.of('sec-gamma-two'), PDFArray);
    const pageRef = target.get(0).toString();
    expect(doc.getPages().findIndex((p) => p.ref.toString() === pageRef) + 1).toBe(section.page);
    expect(plain(pdftext(pdf, section.page))).toContain('Gamma Two');
  });
});

describe('the command line', () => {
  it('should report a typo in book.yaml with file, line and column, and exit 1', () => {
    const dir = tempDir();
    fs.cpSync(MINI, dir, {recursive: true});
    const config = fs.readFileSync(path.join(dir, 'book.yaml'), 'utf8').replace('language: en', 'langauge: en');
    fs.writeFileSync(path.join(dir, 'book.yaml'), config);
    const run = cli(['check', '--manuscript', dir]);
    expect(run.status).toBe(1);
    const line = config.split('\n').findIndex((l) => l.startsWith('langauge')) + 1;
    expect(run.stderr).toContain('book.yaml');
    expect(run.stderr).toMatch(new RegExp(`${line}:1-${line}:9 +error +Unknown field \`langauge\`; did you mean \`language\`\\?`));
  });

  it('should report a link to a missing chapter at its line, and exit 1 without writing outputs', () => {
    const dir = tempDir();
    fs.cpSync(MINI, dir, {recursive: true});
    const file = path.join(dir, 'chapters', '02-beta.md');
    fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\nSee [the missing one](07-missing.md).\n`);
    const out = tempDir();
    const run = cli(['build', '--manuscript', dir, '--out', out]);
    expect(run.status).toBe(1);
    const line = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('07-missing.md')) + 1;
    expect(run.stderr).toContain(path.join('chapters', '02-beta.md'));
    expect(run.stderr).toMatch(new RegExp(`${line}:5-${line}:\\d+ +error +Link to a chapter that is not in book.yaml: \`07-missing.md\``));
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('should reject an unknown option with exit code 2', () => {
    const run = cli(['build', '--bogus']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--bogus'/);
  });

  it('should reject an invalid SOURCE_DATE_EPOCH with exit code 2', () => {
    const run = cli(['check', '--manuscript', MINI], {SOURCE_DATE_EPOCH: 'yesterday'});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('SOURCE_DATE_EPOCH must be a whole number');
  });

  it('should still build the EPUB when no Chrome is found, and say how to get one (exit 2)', () => {
    const out = tempDir();
    const run = cli(['build', '--manuscript', MINI, '--out', out], {PUPPETEER_EXECUTABLE_PATH: '/nonexistent/chrome'});
    expect(run.status).toBe(2);
    expect(fs.readdirSync(out)).toEqual(['a-small-test-book.epub']);
    expect(run.stderr).toMatch(/PUPPETEER_EXECUTABLE_PATH (names|is set to) `\/nonexistent\/chrome`/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('should build only the EPUB with --only epub', () => {
    const out = tempDir();
    const run = cli(['build', '--manuscript', MINI, '--out', out, '--only', 'epub']);
    expect(run.status).toBe(0);
    expect(fs.readdirSync(out)).toEqual(['a-small-test-book.epub']);
  });
});

describe('images', () => {
  it('should scale an oversized photo for the EPUB and to print resolution for the PDF, keeping SVG as SVG', async () => {
    const sharp = (await import('sharp')).default;
    const {execFileSync} = await import('node:child_process');
    const dir = tempDir();
    fs.cpSync(MINI, dir, {recursive: true});
    await sharp({create: {width: 4800, height: 3200, channels: 3, background: '#7799bb'}}).jpeg({quality: 90}).toFile(path.join(dir, 'img', 'big.jpg'));
    const chapter = path.join(dir, 'chapters', '03-gamma.md');
    fs.appendFileSync(chapter, '\n![A large photo.](../img/big.jpg){#fig-gamma-big fig-alt="A flat blue-grey area."}\n');
    const built = await buildBook(dir);
    const files = (await import('fflate')).unzipSync(fs.readFileSync(built.epub!));
    const images = Object.keys(files).filter((name) => name.startsWith('OEBPS/images/'));
    const jpegs = await Promise.all(images.filter((n) => n.endsWith('.jpg')).map((n) => sharp(Buffer.from(files[n]!)).metadata()));
    expect(jpegs.map((m) => m.width)).toEqual([1600]);
    expect(images.some((n) => n.endsWith('.svg'))).toBe(true);
    // pdfimages lists the embedded raster images with their pixel size.
    const list = execFileSync('pdfimages', ['-list', built.pdf!], {encoding: 'utf8'}).split('\n').slice(2).filter(Boolean);
    const widths = list.map((line) => Number(line.trim().split(/\s+/)[3]));
    expect(Math.max(...widths)).toBeLessThanOrEqual(1650);
    expect(Math.max(...widths)).toBeGreaterThanOrEqual(1500);
  });
});

describe('configuration variants', () => {
  it('should add bleed with trim and bleed boxes, and put series and an ebook ISBN into the EPUB', async () => {
    const dir = tempDir();
    fs.cpSync(MINI, dir, {recursive: true});
    const config = fs.readFileSync(path.join(dir, 'book.yaml'), 'utf8')
      .replace('  isbn: 978-0-306-40615-7', '  isbn: 978-0-306-40615-7\n  ebookIsbn: 978-1-4028-9462-6')
      .replace('publisher: Fixture Press', 'publisher: Fixture Press\nseries: {name: Fixture Series, position: 2}\nprint:\n  trim: {width: 6in, height: 9in}\n  bleed: 0.125in\n  cropMarks: true');
    fs.writeFileSync(path.join(dir, 'book.yaml'), config);
    const built = await buildBook(dir);
    expect(built.result.ok).toBe(true);
    const {PDFDocument} = await import('pdf-lib');
    const doc = await PDFDocument.load(fs.readFileSync(built.pdf!));
    const page = doc.getPage(4);
    expect(page.getSize()).toEqual({width: 6 * 72 + 18, height: 9 * 72 + 18});
    const trim = page.getTrimBox();
    expect([trim.x, trim.y, trim.width, trim.height]).toEqual([9, 9, 432, 648]);
    expect(page.getBleedBox().width).toBe(450);
    const opf = unzipEpub(built.epub!)['OEBPS/content.opf']!;
    expect(opf).toContain('<dc:identifier id="pub-id">urn:isbn:9781402894626</dc:identifier>');
    expect(opf).toContain('<meta property="belongs-to-collection" id="series">Fixture Series</meta>');
    expect(opf).toContain('<meta refines="#series" property="group-position">2</meta>');
    expect(epubcheck(built.epub!).errors).toBe(0);
  });
});
