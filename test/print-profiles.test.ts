// Print profiles (issue 19): the KDP manuscript, the PDF/X-1a file and the cover, checked with
// qpdf, Ghostscript, poppler and pdf-lib; and the preflight, shown to find what it looks for.
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import {PDFDocument, PDFName, PDFDict, PDFArray, PDFRawStream, PDFNumber, decodePDFRawStream, rgb} from 'pdf-lib';
import {build} from '../pipeline/build.ts';
import {preflight} from '../pipeline/targets/print/preflight.ts';
import {FIXTURES, ROOT, tempDir, messages} from './helpers.ts';

const IN = 72;
const BLEED = 0.125 * IN;
const MARKS = 18;

let out: string;
let files: Record<string, string>;
let result: Awaited<ReturnType<typeof build>>;

async function buildPrint(dir: string, outDir: string) {
  return build({manuscript: dir, out: outDir, targets: ['pdf'], sourceDateEpoch: 1_700_000_000});
}

beforeAll(async () => {
  const dir = tempDir();
  fs.cpSync(path.join(FIXTURES, 'mini'), dir, {recursive: true});
  fs.appendFileSync(path.join(dir, 'book.yaml'), [
    'description: A small book that tests the print channels of the pipeline.',
    'print:',
    '  trim: {width: 6in, height: 9in}',
    '  bleed: 0.125in',
    '  cropMarks: true',
    '  paper: cream',
    '  profiles: [screen, kdp, pdfx]',
    '',
  ].join('\n'));
  out = tempDir();
  result = await buildPrint(dir, out);
  files = Object.fromEntries(result.outputs.map((o) => [path.basename(o.path).replace(/^a-small-test-book\.?/, '') || 'screen', o.path]));
  // The same input again gives the same bytes, Ghostscript's file included.
  const again = await buildPrint(dir, tempDir());
  for (const output of again.outputs) {
    const name = path.basename(output.path);
    expect(fs.readFileSync(output.path).equals(fs.readFileSync(path.join(out, name))), `${name} is reproducible`).toBe(true);
  }
}, 300_000);

const load = (file: string) => PDFDocument.load(fs.readFileSync(file), {updateMetadata: false});

describe('print profiles', () => {
  it('should write one file per profile and the cover beside the screen PDF, with no errors', () => {
    expect(Object.keys(files).sort()).toEqual(['cover.pdf', 'kdp.pdf', 'pdf', 'pdfx.pdf']);
    expect(messages(result).filter((m) => m.fatal).map((m) => m.reason)).toEqual([]);
  });

  it('should make the KDP file without bookmarks, links or marks, bleeding only at the top, bottom and outer edge', async () => {
    const [kdp, screen] = [await load(files['kdp.pdf']!), await load(files['pdf']!)];
    expect(kdp.getPageCount()).toBe(screen.getPageCount());
    expect(screen.catalog.get(PDFName.of('Outlines'))).toBeDefined();
    expect(kdp.catalog.get(PDFName.of('Outlines'))).toBeUndefined();
    expect(kdp.catalog.get(PDFName.of('Metadata'))).toBeUndefined();
    expect(screen.getPages().some((p) => p.node.get(PDFName.of('Annots')))).toBe(true);
    kdp.getPages().forEach((page, i) => {
      expect(page.node.get(PDFName.of('Annots')), `page ${i + 1}`).toBeUndefined();
      const media = page.getMediaBox();
      const trim = page.getTrimBox();
      expect([media.width, media.height]).toEqual([6 * IN + BLEED, 9 * IN + 2 * BLEED]);
      expect([trim.width, trim.height]).toEqual([6 * IN, 9 * IN]);
      const inner = i % 2 === 0 ? trim.x - media.x : media.x + media.width - (trim.x + trim.width);
      const outer = i % 2 === 0 ? media.x + media.width - (trim.x + trim.width) : trim.x - media.x;
      expect([inner, outer, trim.y - media.y]).toEqual([0, BLEED, BLEED]);
    });
  });

  it('should make a PDF/X-1a file that qpdf, Ghostscript and poppler accept: grey, opaque, boxes set, fonts embedded', async () => {
    const file = files['pdfx.pdf']!;
    expect(spawnSync('qpdf', ['--check', file]).status).toBe(0);
    const gs = spawnSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dPDFSTOPONERROR', '-sDEVICE=nullpage', file], {encoding: 'utf8'});
    expect(gs.status, gs.stderr).toBe(0);
    const info = spawnSync('pdfinfo', [file], {encoding: 'utf8'}).stdout;
    expect(info).toMatch(/PDF subtype:\s+PDF\/X-1a:2001/);
    expect(info).toMatch(/PDF version:\s+1\.3/);
    const fonts = spawnSync('pdffonts', [file], {encoding: 'utf8'}).stdout.split('\n').slice(2).filter(Boolean);
    expect(fonts.length).toBeGreaterThan(0);
    for (const line of fonts) expect(line.split(/\s+/).at(-5), line).toBe('yes');

    const doc = await load(file);
    const intent = doc.catalog.lookup(PDFName.of('OutputIntents'), PDFArray).lookup(0, PDFDict);
    expect(intent.get(PDFName.of('S'))).toBe(PDFName.of('GTS_PDFX'));
    const profile = intent.lookup(PDFName.of('DestOutputProfile'));
    if (!(profile instanceof PDFRawStream)) throw new Error('the output intent has no profile stream');
    expect(Buffer.from(decodePDFRawStream(profile).decode()).subarray(12, 20).toString('latin1')).toBe('prtrCMYK');
    const names = new Set<string>();
    const flags = new Set<string>();
    for (const [, object] of doc.context.enumerateIndirectObjects()) {
      if (object === profile) continue;
      const dict = object instanceof PDFRawStream ? object.dict : object;
      if (!(dict instanceof PDFDict)) continue;
      const text = dict.toString();
      for (const match of text.matchAll(/\/(DeviceRGB|CalRGB|ICCBased|Lab|DeviceCMYK|DeviceGray)\b/g)) names.add(match[1]!);
      if (/\/SMask\s*\d+ \d+ R|\/S \/Transparency/.test(text)) flags.add('transparency');
      for (const key of ['CA', 'ca']) {
        const alpha = dict.get(PDFName.of(key));
        if (alpha instanceof PDFNumber && alpha.asNumber() < 1) flags.add('alpha');
      }
    }
    expect([...names].filter((n) => n !== 'DeviceGray' && n !== 'DeviceCMYK')).toEqual([]);
    expect([...flags]).toEqual([]);
    for (const page of doc.getPages()) {
      const contents = page.node.get(PDFName.of('Contents'));
      const stream = contents ? doc.context.lookup(contents) : undefined;
      const streams = stream instanceof PDFArray ? stream.asArray().map((s) => doc.context.lookup(s)) : [stream];
      for (const s of streams) if (s instanceof PDFRawStream) expect(Buffer.from(decodePDFRawStream(s).decode()).toString('latin1')).not.toMatch(/\s(rg|RG)\s/);
      const [media, bleed, trim] = [page.getMediaBox(), page.getBleedBox(), page.getTrimBox()];
      expect([trim.width, trim.height]).toEqual([6 * IN, 9 * IN]);
      expect([bleed.x - media.x, bleed.width, bleed.height].map((n) => Math.round(n * 100) / 100)).toEqual([MARKS, 6 * IN + 2 * BLEED, 9 * IN + 2 * BLEED]);
      expect(trim.x - bleed.x).toBeCloseTo(BLEED, 2);
    }
  });

  it('should make a cover as wide as back + spine + front + 2 × bleed for the paper', async () => {
    const pages = (await load(files['pdf']!)).getPageCount();
    const cover = (await load(files['cover.pdf']!)).getPage(0);
    const spine = pages * 0.0025 * IN;
    expect(cover.getWidth()).toBeCloseTo(2 * 6 * IN + spine + 2 * BLEED, 3);
    expect(cover.getHeight()).toBeCloseTo(9 * IN + 2 * BLEED, 3);
    const trim = cover.getTrimBox();
    expect([trim.x, trim.width]).toEqual([BLEED, 2 * 6 * IN + spine]);
    const text = spawnSync('pdftotext', [files['cover.pdf']!, '-'], {encoding: 'utf8'}).stdout;
    expect(text).toContain('A small book that tests the print channels');
    expect(text).toContain('ISBN 978-0-306-40615-7');
  });
});

describe('the preflight', () => {
  it('should find RGB colour, a missing output intent and links in a PDF that claims nothing', async () => {
    const findings = await preflight(fs.readFileSync(files['pdf']!), 'pdfx');
    const rules = findings.map((f) => f.message);
    expect(rules.some((m) => /PDF\/X-1a:2001/.test(m))).toBe(true);
    expect(rules.some((m) => /output intent/.test(m))).toBe(true);
    expect(rules.some((m) => /DeviceRGB|colour space/.test(m))).toBe(true);
    expect(findings.some((f) => f.rule === 'print-interactive')).toBe(true);
  });

  it('should measure an image’s printed resolution and warn below 300 ppi', async () => {
    const doc = await PDFDocument.create();
    const png = await doc.embedPng(fs.readFileSync(path.join(FIXTURES, 'mini/img/cover.png')));
    const page = doc.addPage([6 * IN, 9 * IN]);
    page.drawImage(png, {x: 10, y: 10, width: png.width / 150 * IN, height: png.height / 150 * IN});
    const small = doc.addPage([6 * IN, 9 * IN]);
    small.drawImage(png, {x: 10, y: 10, width: png.width / 400 * IN, height: png.height / 400 * IN});
    const findings = await preflight(await doc.save(), 'kdp');
    const low = findings.filter((f) => f.rule === 'image-resolution');
    expect(low.map((f) => [f.page, Math.round(f.image!.ppi)])).toEqual([[1, 150]]);
  });

  it('should find figures without alternative text and an untagged screen PDF', async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawRectangle({x: 1, y: 1, width: 5, height: 5, color: rgb(1, 0, 0)});
    const findings = await preflight(await doc.save(), 'screen');
    expect(findings.map((f) => f.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/not marked as tagged/), expect.stringMatching(/no structure tree/), expect.stringMatching(/language/),
    ]));
    // The book's own screen PDF passes (Chrome's figure groupings are /Div, every /Figure has its text).
    expect((await preflight(fs.readFileSync(files['pdf']!), 'screen')).filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([]);
  });

  it('should refuse an unknown profile on the command line', () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, 'pipeline/bin.js'), 'build', '--print-profile', 'offset'], {cwd: ROOT, encoding: 'utf8'});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--print-profile takes `screen`, `kdp`, `pdfx`, not `offset`');
  });
});
