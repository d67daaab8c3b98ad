/**
 * SVG drawings with their bitmaps inside (`data:` URLs), as diagram tools export them: accepted
 * when the bytes are what they say, normalised so that the EPUB passes EPUBCheck, the bitmaps
 * scaled to what each target needs, the drawing looking the same. Look-alikes that carry HTML,
 * scripts, damaged or huge data, or SVGs nested without end are refused at the figure's line,
 * and none of their bytes reaches an output.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import sharp from 'sharp';
import {checkSvg, parseDataUri} from '../pipeline/stages/svg-check.ts';
import {normaliseSvg, svgForTarget, parseTransform} from '../pipeline/stages/svg-normalise.ts';
import {build} from '../pipeline/build.ts';
import {aceGate} from '../pipeline/gates.ts';
import {EPUB_MAX_IMAGE_WIDTH, EPUB_MAX_IMAGE_HEIGHT} from '../pipeline/targets/epub/index.ts';
import {epubcheck, messages, pdftext, tempDir} from './helpers.ts';
import {epubEntries, listFiles} from './hostile-helpers.ts';
import {bitmap, DRAWINGS, keynoteSvg, writeDrawingsBook} from '../bench/drawings.ts';
import {PLACEHOLDER_NOTE} from '../pipeline/stages/placeholder.ts';

const svg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">${body}</svg>`;
const image = (uri: string) => svg(`<image width="100" height="100" xlink:href="${uri}"/>`);
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const MARKER = 'HOSTILE-9c2e51-PAYLOAD';

/** `<svg>` inside `<svg>` as `data:image/svg+xml,` `depth` times (percent-encoded, so it grows slowly). */
function nestedSvg(depth: number): string {
  let inner = svg(`<rect width="10" height="10"/><text>${MARKER}</text>`);
  for (let i = 0; i < depth; i++) inner = image(`data:image/svg+xml,${encodeURIComponent(inner)}`);
  return inner;
}

/** Each look-alike, with the reason it is refused for. */
async function lookAlikes(): Promise<Record<string, {text: string; reason: RegExp}>> {
  const png = await bitmap(64, 64, 'png');
  const html = `<html><body><script>alert("${MARKER}")</script></body></html>`;
  const scripted = svg(`<script>alert("${MARKER}")</script><rect width="1" height="1"/>`);
  const base = b64(png);
  return {
    'html-as-png': {text: image(`data:image/png;base64,${b64(html)}`), reason: /embedded `image\/png` whose bytes are not an image/},
    'text-html': {text: image(`data:text/html;base64,${b64(html)}`), reason: /embedded `text\/html` \(only PNG, JPEG, GIF, WebP and SVG/},
    'svg-with-script': {text: image(`data:image/svg+xml;base64,${b64(scripted)}`), reason: /embedded SVG that contains a `<script>`/},
    'svg-with-script-escaped': {text: image(`data:image/svg+xml,${encodeURIComponent(scripted)}`), reason: /embedded SVG that contains a `<script>`/},
    'truncated-base64': {text: image(`data:image/png;base64,${base.slice(0, base.length - 3)}`), reason: /not complete base64/},
    'truncated-png': {text: image(`data:image/png;base64,${base.slice(0, Math.floor(base.length / 8) * 4)}`), reason: /embedded `image\/png` that cannot be decoded/},
    'huge': {text: image(`data:image/png;base64,${b64(png)}${'A'.repeat(50 * 1024 * 1024)}`), reason: /embedded `image\/png` that is larger than 16 MB/},
    'nested-100': {text: nestedSvg(100), reason: /SVGs embedded in each other more than 3 deep/},
    'javascript': {text: image(`javascript:alert("${MARKER}")`), reason: /a link to another file or URL/},
    'not-xml': {text: svg('<g><rect width="1" height="1"></g>'), reason: /markup that is not well-formed XML \(line 1, column \d+: Unexpected close tag\)/},
    'remote-in-css': {text: svg(`<rect width="9" height="9" style="fill: url(http://127.0.0.1:9/${MARKER})"/>`), reason: /an external stylesheet reference/},
  };
}

describe('checkSvg on drawings with embedded images', () => {
  it('should accept what diagram tools export: patterns, nested SVGs, PNG and JPEG, CSS data images', async () => {
    for (const [name, make] of Object.entries(DRAWINGS)) expect([name, await checkSvg(await make())]).toEqual([name, []]);
    const png = b64(await bitmap(8, 8, 'png'));
    expect(await checkSvg(svg(`<rect width="9" height="9" style="fill: url('data:image/png;base64,${png}')"/>`))).toEqual([]);
    expect(await checkSvg(svg(`<filter id="f"><feImage xlink:href="data:image/png;base64,${png}"/></filter><rect width="9" height="9" filter="url(#f)"/>`))).toEqual([]);
    expect(await checkSvg(nestedSvg(3))).toEqual([]);
    // Base64 wrapped over lines, as XML tools write it.
    expect(await checkSvg(image(`data:image/png;base64,${png.replace(/(.{76})/g, '$1\n')}`))).toEqual([]);
  });

  it('should refuse each look-alike for what it is', async () => {
    for (const [name, {text, reason}] of Object.entries(await lookAlikes())) {
      const problems = await checkSvg(text);
      expect([name, problems.join('; ')]).toEqual([name, expect.stringMatching(reason)]);
    }
  });

  it('should see a data URL only where it is an href or written plainly in CSS', async () => {
    const png = b64(await bitmap(8, 8, 'png'));
    // An escape-spelled `data:` in CSS is not collected as an image: refused.
    expect(await checkSvg(svg(`<rect style="fill: url(\\64 ata:image/png;base64,${png})"/>`))).toEqual(['an external stylesheet reference']);
    expect(parseDataUri('data:image/PNG;charset=x;BASE64,AAAA')).toEqual({mediaType: 'image/png', base64: true, data: 'AAAA'});
    expect(parseDataUri('dat:image/png,AAAA')).toBeUndefined();
  });
});

/** Renders an SVG with sharp (librsvg) at `width` pixels, as raw RGB. */
async function render(text: string, width: number): Promise<Buffer> {
  return sharp(Buffer.from(text), {density: 300}).resize({width, fit: 'fill'}).flatten({background: '#ffffff'}).removeAlpha().raw().toBuffer();
}

function meanDifference(a: Buffer, b: Buffer): number {
  expect(a.byteLength).toBe(b.byteLength);
  let sum = 0;
  for (let i = 0; i < a.byteLength; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.byteLength;
}

/** The pixel sizes of the bitmaps embedded in an SVG. */
async function embeddedSizes(text: string): Promise<{width: number; height: number}[]> {
  const sizes = [];
  for (const match of text.matchAll(/data:image\/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)/g)) {
    const {width, height} = await sharp(Buffer.from(match[1]!, 'base64')).metadata();
    sizes.push({width: width!, height: height!});
  }
  return sizes;
}

describe('normalising drawings for a target', () => {
  it('should read transforms as SVG does', () => {
    expect(parseTransform('translate(10 20) scale(2)')).toEqual([2, 0, 0, 2, 10, 20]);
    expect(parseTransform('matrix(0.5,0,0,0.5,3,4)')).toEqual([0.5, 0, 0, 0.5, 3, 4]);
    expect(parseTransform('rotate(90)')!.map((n) => Math.round(n * 1e6) / 1e6)).toEqual([0, 1, -1, 0, 0, 0]);
    expect(parseTransform('scale(2) nonsense(1)')).toBeUndefined();
  });

  it('should find the size each bitmap is drawn at: through patterns, transforms and nested viewports', async () => {
    // Keynote: a 1024 px bitmap in a pattern filling a rectangle scaled to 200 of the drawing's 400 units.
    const keynote = await normaliseSvg(await keynoteSvg(), 1600, 2400);
    expect([...keynote.needs.values()].map((n) => [Math.round(n.width), Math.round(n.height)])).toEqual([[800, 800]]);
    const omnigraffle = await normaliseSvg(await DRAWINGS.omnigraffle(), 1000, 1000);
    // 800 × 600 scaled by 0.3 → 240 × 180 units; the nested 230-unit viewport shows 800 units: 230 × 230; 2 px per unit.
    expect([...omnigraffle.needs.values()].map((n) => [Math.round(n.width), Math.round(n.height)])).toEqual([[480, 360], [460, 460]]);
  });

  it('should keep every drawing looking the same, with no document type, editor data or unknown attributes left', async () => {
    for (const [name, make] of Object.entries(DRAWINGS)) {
      const original = await make();
      const normalised = await svgForTarget(original, 1600, 2400);
      expect(normalised).not.toMatch(/<!DOCTYPE|sodipodi|inkscape:|<metadata|content="&lt;mxfile/);
      expect(normalised).not.toMatch(/<image[^>]*\sfill=/);
      expect(normalised.match(/<image/g)?.length).toBe(original.match(/<image/g)!.length - (name === 'inkscape' ? 1 : 0));
      const difference = meanDifference(await render(original, 600), await render(normalised, 600));
      expect([name, difference]).toEqual([name, expect.any(Number)]);
      // Out of 255 per channel: resampled bitmaps differ by a little, shapes not at all.
      expect(difference).toBeLessThan(3);
    }
  });

  it('should draw a bitmap placed through a one-tile pattern as the image itself, and leave real patterns alone', async () => {
    for (const make of [DRAWINGS.keynote, DRAWINGS.flywheel]) {
      const normalised = await svgForTarget(await make(), 1600, 2400);
      expect(normalised).not.toContain('<pattern');
      expect(normalised).not.toContain('url(#p.');
    }
    const png = b64(await bitmap(40, 40, 'png'));
    const pattern = `<defs><pattern id="t" patternUnits="userSpaceOnUse" width="40" height="40"><image xlink:href="data:image/png;base64,${png}" width="40" height="40"/></pattern></defs>`;
    // Tiled (the rectangle is larger than a tile), stroked, or rounded: still a pattern, and drawn the same.
    for (const shape of ['<rect width="100" height="100" fill="url(#t)"/>', '<rect width="40" height="40" fill="url(#t)" stroke="#000"/>', '<rect width="40" height="40" rx="5" fill="url(#t)"/>']) {
      const original = svg(pattern + shape);
      const normalised = await svgForTarget(original, 1600, 2400);
      expect(normalised).toContain('<pattern');
      expect(meanDifference(await render(original, 200), await render(normalised, 200))).toBeLessThan(1);
    }
    const exact = svg(pattern + '<g transform="translate(30 30)"><rect width="40" height="40" fill="url(#t)"/></g>');
    const rewritten = await svgForTarget(exact, 1600, 2400);
    expect(rewritten).not.toContain('<pattern');
    expect(meanDifference(await render(exact, 200), await render(rewritten, 200))).toBeLessThan(1);
  });

  it('should scale large bitmaps down to what the drawing needs, never up', async () => {
    const original = await DRAWINGS.flywheel();
    // 60 of 600 units at 1600 px across: 160 px for an 800 px icon.
    const epub = await svgForTarget(original, EPUB_MAX_IMAGE_WIDTH, EPUB_MAX_IMAGE_HEIGHT);
    for (const size of await embeddedSizes(epub)) expect(size).toEqual({width: 160, height: 160});
    expect(epub.length).toBeLessThan(original.length / 2);
    // A drawing whose bitmap is shown at its own size keeps it as it was.
    const keynote = await keynoteSvg(256);
    expect(await embeddedSizes(await svgForTarget(keynote, 1600, 2400))).toEqual([{width: 256, height: 256}]);
    // The same input gives the same bytes.
    expect(await svgForTarget(original, 1600, 2400)).toBe(epub);
  });
});

/** Pixels of a rendered PDF page that are clearly coloured (the drawings' bitmaps are; text is black). */
function colouredPixels(pdf: string, page: number, dir: string): number {
  const prefix = path.join(dir, `page-${page}`);
  const run = spawnSync('pdftoppm', ['-r', '30', '-f', String(page), '-l', String(page), '-singlefile', pdf, prefix]);
  expect(run.status).toBe(0);
  const ppm = fs.readFileSync(`${prefix}.ppm`);
  // P6 header: magic, width, height, maxval, each followed by white space.
  let offset = 0;
  for (let fields = 0; fields < 4; offset++) if (/\s/.test(String.fromCharCode(ppm[offset]!)) && !/\s/.test(String.fromCharCode(ppm[offset - 1]!))) fields++;
  let count = 0;
  for (let i = offset; i + 2 < ppm.length; i += 3) {
    const [r, g, b] = [ppm[i]!, ppm[i + 1]!, ppm[i + 2]!];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) count++;
  }
  return count;
}

describe('an mdBook book whose figures are diagram-tool exports with embedded bitmaps', () => {
  let dir: string;
  let root: string;
  let epub: string;
  let pdf: string;
  beforeAll(async () => {
    dir = tempDir('book-drawings-');
    root = await writeDrawingsBook(dir);
    const out = path.join(dir, 'dist');
    const result = await build({manuscript: root, out, targets: ['epub', 'pdf'], sourceDateEpoch: 1_700_000_000});
    expect(messages(result).filter((m) => m.fatal)).toEqual([]);
    epub = result.outputs.find((o) => o.path.endsWith('.epub'))!.path;
    pdf = result.outputs.find((o) => o.path.endsWith('.pdf'))!.path;
  }, 180_000);

  it('should pass EPUBCheck with no errors and no warnings, and Ace', async () => {
    const check = epubcheck(epub);
    expect([check.fatals, check.errors, check.warnings]).toEqual([0, 0, 0]);
    const ace = await aceGate(epub);
    expect(ace.problems).toEqual([]);
  }, 180_000);

  it('should carry every embedded image of every drawing, and be smaller than its drawings', () => {
    const inputs = fs.readdirSync(path.join(root, 'src', 'img')).map((f) => fs.readFileSync(path.join(root, 'src', 'img', f), 'utf8'));
    const svgs = Object.entries(epubEntries(epub)).filter(([name]) => name.endsWith('.svg')).map(([, text]) => text);
    expect(svgs).toHaveLength(inputs.length);
    const count = (texts: string[]) => texts.reduce((n, t) => n + (t.match(/<image[^>]*data:image/g)?.length ?? 0), 0);
    expect(count(svgs)).toBe(count(inputs));
    const inputBytes = inputs.reduce((n, t) => n + Buffer.byteLength(t), 0);
    expect(fs.statSync(epub).size).toBeLessThan(inputBytes / 2);
  });

  it('should print each drawing: the page of every figure shows its bitmaps', () => {
    const text = pdftext(pdf).split('\f');
    const figures = Object.keys(DRAWINGS).map((name) => text.findIndex((page) => page.includes(`exported from ${name}`)) + 1);
    expect(figures.every((page) => page > 0)).toBe(true);
    for (const page of new Set(figures)) expect(colouredPixels(pdf, page, dir)).toBeGreaterThan(500);
    // A page of text alone has none.
    const titlePage = text.findIndex((page) => page.includes('Drawings Exported')) + 1;
    expect(colouredPixels(pdf, titlePage, dir)).toBeLessThan(50);
  });
});

describe('look-alike drawings in a book', () => {
  it('should each be refused at the line of its figure, with a placeholder, and none of their bytes in the outputs', async () => {
    const dir = tempDir('book-lookalikes-');
    const manuscript = path.join(dir, 'manuscript');
    fs.mkdirSync(path.join(manuscript, 'chapters'), {recursive: true});
    fs.mkdirSync(path.join(manuscript, 'img'));
    const cases = await lookAlikes();
    let chapter = '# Look-alikes\n';
    const lines = new Map<string, number>();
    for (const [name, {text}] of Object.entries(cases)) {
      fs.writeFileSync(path.join(manuscript, 'img', `${name}.svg`), text);
      chapter += `\n![A drawing called ${name}.](../img/${name}.svg){fig-alt="A drawing."}\n`;
      lines.set(name, chapter.split('\n').length - 1);
    }
    fs.writeFileSync(path.join(manuscript, 'img', 'fine.svg'), await keynoteSvg(128));
    chapter += '\n![A fine drawing.](../img/fine.svg){fig-alt="A drawing."}\n';
    fs.writeFileSync(path.join(manuscript, 'chapters', '01-lookalikes.md'), chapter);
    fs.writeFileSync(path.join(manuscript, 'book.yaml'), [
      'title: Look-alike Drawings', 'authors:', '  - name: Mallory Example', 'date: 2024-01-15', 'language: en',
      'license:', '  name: Creative Commons Attribution 4.0 International', '  short: CC BY 4.0', '  url: https://creativecommons.org/licenses/by/4.0/',
      'parts:', '  - title: Drawings', '    chapters: [chapters/01-lookalikes.md]', '',
    ].join('\n'));
    const out = path.join(dir, 'dist');
    const result = await build({manuscript, out, targets: ['epub', 'pdf'], sourceDateEpoch: 1_700_000_000});
    expect(result.ok).toBe(false);
    const errors = messages(result).filter((m) => m.fatal);
    for (const [name, {reason}] of Object.entries(cases)) {
      const error = errors.find((m) => m.reason.includes(`\`img/${name}.svg\``));
      expect([name, error?.line, error?.rule, error?.reason]).toEqual([name, lines.get(name), 'missing-image', expect.stringMatching(reason)]);
    }
    expect(errors).toHaveLength(Object.keys(cases).length);
    expect(result.files.flatMap((f) => f.messages).filter((m) => m.fatal).every((m) => m.note === PLACEHOLDER_NOTE)).toBe(true);

    // The book is written around them: placeholders, the fine drawing, nothing of theirs.
    expect(listFiles(out).sort()).toEqual(['look-alike-drawings.epub', 'look-alike-drawings.pdf']);
    const entries = epubEntries(path.join(out, 'look-alike-drawings.epub'));
    const all = Object.values(entries).join('\n');
    expect(all.match(/class="figure-missing"/g)).toHaveLength(Object.keys(cases).length);
    expect(Object.keys(entries).filter((name) => name.endsWith('.svg'))).toHaveLength(1);
    expect(all).not.toContain(MARKER);
    for (const {text} of Object.values(cases)) {
      const payload = /(?:base64,|,)([^"]{40})/.exec(text)?.[1];
      if (payload) expect(all).not.toContain(payload);
    }
    const printed = pdftext(path.join(out, 'look-alike-drawings.pdf')).replaceAll('\u00ad', '');
    expect(printed).not.toContain(MARKER);
    expect(printed.match(/Figure not included/g)).toHaveLength(Object.keys(cases).length);
    const check = epubcheck(path.join(out, 'look-alike-drawings.epub'));
    expect([check.fatals, check.errors, check.warnings]).toEqual([0, 0, 0]);
  }, 180_000);
});
