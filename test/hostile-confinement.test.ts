/**
 * Confinement: a manuscript can only be built from files inside its folder. Images and the
 * files book.yaml names that lie outside (via `..`, `%2e%2e`, absolute paths, symbolic links,
 * `file:` and remote URLs) are errors at their lines; SVG images that would run or fetch are
 * refused. An image's error leaves a placeholder in a book that is still written (any other
 * error writes nothing); nothing of the outside files shows in any message or output, and the
 * loopback canary named by the remote images hears nothing.
 *
 * Symbolic links are made here at run time, in a copy of the fixture (none is committed).
 */
import {describe, it, expect, beforeAll, afterAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {buildBook, messages, pdftext, FIXTURES, tempDir} from './helpers.ts';
import {startCanary, copyFixture, listFiles, epubEntries, epubProblems, pdfActions, type Canary} from './hostile-helpers.ts';
import {PLACEHOLDER_NOTE} from '../pipeline/stages/placeholder.ts';
import {resolveInside, readInside, similarFiles, OutsideManuscriptError, MissingFileError} from '../pipeline/io/files.ts';
import {svgProblems, sniffMediaType} from '../pipeline/stages/assets.ts';

const SECRET = 'SECRET-6f1d2c-MARKER';

let canary: Canary;
beforeAll(async () => {
  canary = await startCanary();
});
afterAll(async () => {
  await canary?.close();
});

/** A copy of the fixture with secret files next to the manuscript (outside it). */
function hostileCopy(name: string) {
  const {dir, manuscript} = copyFixture(name, {CANARY: canary.host});
  fs.writeFileSync(path.join(dir, 'secret.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>${SECRET}</text></svg>`);
  fs.writeFileSync(path.join(dir, 'secret.md'), `# ${SECRET}\n\n${SECRET}\n`);
  fs.writeFileSync(path.join(dir, 'secret.bib'), `@book{secret, title={${SECRET}}, author={Someone}, year={2020}}\n`);
  fs.writeFileSync(path.join(dir, 'secret.png'), Buffer.concat([fs.readFileSync(path.join(FIXTURES, 'mini/img/cover.png')), Buffer.from(SECRET)]));
  return {dir, manuscript};
}

async function buildAndCheck(manuscript: string) {
  const {result, out} = await buildBook(manuscript);
  const all = messages(result);
  // Nothing of the outside files in any message.
  for (const m of all) expect(m.reason).not.toContain(SECRET);
  expect(result.ok).toBe(false);
  const errors = all.filter((m) => m.fatal).map((m) => `${path.basename(m.file)}:${m.line} ${m.rule}: ${m.reason}`);
  // Errors at images leave placeholders and the book is written (placeholder.ts); any other error writes nothing.
  const placeholders = result.files.flatMap((f) => f.messages).filter((m) => m.fatal && m.note === PLACEHOLDER_NOTE).length;
  const written = listFiles(out);
  if (placeholders < errors.length) expect(written).toEqual([]);
  else await expectNothingRefused(out, manuscript, placeholders, errors);
  return {result, errors};
}

/**
 * The book written around refused images: one placeholder per refused image, no byte of an
 * outside file or of a refused SVG in any EPUB entry, no fetch or script in either output.
 */
async function expectNothingRefused(out: string, manuscript: string, placeholders: number, errors: string[]) {
  const files = listFiles(out);
  const epub = path.join(out, files.find((f) => f.endsWith('.epub'))!);
  const pdf = path.join(out, files.find((f) => f.endsWith('.pdf'))!);
  const entries = epubEntries(epub);
  const text = Object.values(entries).join('\n');
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(canary.host);
  expect(text.match(/class="figure-missing"/g)?.length ?? 0).toBe(placeholders);
  const refused = listFiles(manuscript).filter((f) => errors.some((e) => e.includes(`\`${f}\``)))
    .map((f) => fs.readFileSync(path.join(manuscript, f), 'utf8'));
  for (const body of Object.values(entries)) expect(refused).not.toContain(body);
  expect(epubProblems(epub)).toEqual([]);
  expect(pdftext(pdf)).not.toContain(SECRET);
  const actions = await pdfActions(pdf);
  expect(actions.uris.filter((uri) => uri.includes(canary.host))).toEqual([]);
  expect([...actions.dangerousActions, ...actions.dangerousKeys]).toEqual([]);
  expect(pdftext(pdf).replaceAll('\u00ad', '').match(/Figure not included/g)?.length ?? 0).toBe(placeholders);
}

describe('images that reach outside the manuscript', () => {
  it('should each be an error at its line, with a placeholder in the book and nothing fetched', async () => {
    const {manuscript} = hostileCopy('hostile-confinement');
    fs.symlinkSync('../../secret.svg', path.join(manuscript, 'img/link.svg'));
    fs.symlinkSync('../..', path.join(manuscript, 'img/outside'));
    const {errors} = await buildAndCheck(manuscript);
    const at = (line: number) => errors.filter((e) => e.startsWith(`01-escapes.md:${line} `));
    expect(at(3)).toEqual(['01-escapes.md:3 outside-manuscript: Image `../../secret.svg` is outside the manuscript folder']);
    expect(at(5)).toEqual(['01-escapes.md:5 outside-manuscript: Image `%2e%2e/%2e%2e/secret.svg` is outside the manuscript folder']);
    expect(at(7)).toEqual(['01-escapes.md:7 outside-manuscript: Image `..%2F..%2Fsecret.svg` is outside the manuscript folder']);
    expect(at(9)).toEqual(['01-escapes.md:9 outside-manuscript: Image `/etc/passwd` uses an absolute path; write it relative to the chapter']);
    expect(at(11)).toEqual(['01-escapes.md:11 outside-manuscript: Image `%2Fetc%2Fpasswd` uses an absolute path; write it relative to the chapter']);
    expect(at(13)).toEqual(['01-escapes.md:13 remote-image: Image `file:///etc/passwd` is not a file of the manuscript; `file:`, `data:` and script URLs are not allowed']);
    expect(at(15)).toEqual(['01-escapes.md:15 remote-image: Image `file:///etc/hostname` is not a file of the manuscript; `file:`, `data:` and script URLs are not allowed']);
    expect(at(17)).toEqual([`01-escapes.md:17 remote-image: Image \`http://${canary.host}/remote.png\` is not a file of the manuscript; remote and \`file:\` images are not allowed`]);
    expect(at(19)).toEqual([`01-escapes.md:19 remote-image: Image \`//${canary.host}/protocol-relative.png\` is not a file of the manuscript; remote and \`file:\` images are not allowed`]);
    expect(at(21)).toEqual([`01-escapes.md:21 remote-image: Image \`http://${canary.host}/remote-html.png\` is not a file of the manuscript; remote and \`file:\` images are not allowed`]);
    expect(at(23)).toEqual(['01-escapes.md:23 missing-image: Image `img/link.svg` is outside the manuscript folder (after following links)']);
    expect(at(25)).toEqual(['01-escapes.md:25 missing-image: Image `img/outside/secret.svg` is outside the manuscript folder (after following links)']);
    expect(at(27)).toEqual(['01-escapes.md:27 remote-image: Image `data:image/svg+xml;base64,PHN2Zy8+` is not a file of the manuscript; `file:`, `data:` and script URLs are not allowed']);
    // A missing file behind a link to a folder outside: no "did you mean" listing that folder.
    expect(at(29)).toEqual(['01-escapes.md:29 missing-image: Cannot find image `img/outside/secre.svg`']);
    expect(at(31)).toEqual([]);
    expect(errors).toHaveLength(14);
    expect(canary.requests).toEqual([]);
  });
});

describe('files named in book.yaml that lie outside the manuscript', () => {
  it('should each be an error at its line in book.yaml', async () => {
    const {manuscript} = hostileCopy('hostile-config');
    fs.symlinkSync('../../secret.png', path.join(manuscript, 'img/link.png'));
    fs.symlinkSync('../../secret.md', path.join(manuscript, 'chapters/link.md'));
    const {errors} = await buildAndCheck(manuscript);
    expect(errors.sort()).toEqual([
      'book.yaml:12 missing-image: Image `../secret.png` is outside the manuscript folder (after following links)',
      'book.yaml:13 missing-file: `../secret.bib` is outside the manuscript folder',
      'book.yaml:14 missing-file: `../../../../../../../../etc/passwd` is outside the manuscript folder',
      'book.yaml:15 missing-file: `/etc/hostname` is outside the manuscript folder',
      'book.yaml:18 missing-image: Image `img/link.png` is outside the manuscript folder (after following links)',
      'book.yaml:19 missing-file: `../secret.md` is outside the manuscript folder',
      'book.yaml:19 missing-file: `chapters/link.md` is outside the manuscript folder',
      'book.yaml:20 missing-file: `chapters/../../secret.md` is outside the manuscript folder',
    ]);
  });
});

describe('the configuration files themselves', () => {
  it('should refuse a book.yaml that links outside the manuscript, naming no outside content', async () => {
    const {dir, manuscript} = hostileCopy('mini');
    fs.writeFileSync(path.join(dir, 'outside.yaml'), fs.readFileSync(path.join(manuscript, 'book.yaml')).toString().replace(/^title: .*$/m, `title: ${SECRET}`));
    fs.rmSync(path.join(manuscript, 'book.yaml'));
    fs.symlinkSync('../outside.yaml', path.join(manuscript, 'book.yaml'));
    const {errors} = await buildAndCheck(manuscript);
    expect(errors).toEqual([expect.stringMatching(/^book\.yaml:undefined outside-manuscript: book\.yaml in `.*` links to a file outside the manuscript folder/)]);
  });

  it('should refuse an mdBook project whose `src` or files lie outside it', async () => {
    const {dir, manuscript} = copyFixture('mdbook-book');
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    fs.writeFileSync(path.join(dir, 'SUMMARY.md'), `# Summary\n\n- [${SECRET}](secret.md)\n`);
    const toml = path.join(manuscript, 'book.toml');
    fs.writeFileSync(toml, fs.readFileSync(toml, 'utf8').replace('src = "src"', 'src = ".."'));
    let {errors} = await buildAndCheck(manuscript);
    expect(errors).toEqual(['book.toml:6 outside-manuscript: `../SUMMARY.md` is outside the book folder (see `src` in book.toml); the build reads only files inside it']);

    fs.writeFileSync(toml, fs.readFileSync(toml, 'utf8').replace('src = ".."', 'src = "src"'));
    fs.writeFileSync(path.join(dir, 'outside.yaml'), `publisher: ${SECRET}\n`);
    fs.rmSync(path.join(manuscript, 'book.yaml'), {force: true});
    fs.symlinkSync('../outside.yaml', path.join(manuscript, 'book.yaml'));
    ({errors} = await buildAndCheck(manuscript));
    expect(errors).toEqual(['book.yaml:undefined outside-manuscript: `book.yaml` links to a file outside the book folder; the build reads only files inside it']);
  });
});

describe('SVG images that run scripts or fetch', () => {
  it('should each be refused with the reason, at the line that shows it', async () => {
    const {manuscript} = hostileCopy('hostile-svg');
    const {errors} = await buildAndCheck(manuscript);
    const reason = (file: string) => errors.find((e) => e.includes(`\`img/${file}.svg\``));
    expect(reason('script')).toMatch(/^01-drawings\.md:3 missing-image: SVG .* contains a `<script>`/);
    expect(reason('handler')).toMatch(/^01-drawings\.md:5 .*contains an event handler/);
    expect(reason('import')).toMatch(/^01-drawings\.md:7 .*contains an external stylesheet reference/);
    expect(reason('style-url')).toMatch(/^01-drawings\.md:9 .*contains an external stylesheet reference/);
    expect(reason('escaped-url')).toMatch(/^01-drawings\.md:11 .*contains an external stylesheet reference/);
    expect(reason('image')).toMatch(/^01-drawings\.md:13 .*contains a link to another file or URL/);
    expect(reason('use')).toMatch(/^01-drawings\.md:15 .*contains a link to another file or URL/);
    expect(reason('entity')).toMatch(/^01-drawings\.md:17 .*contains an XML entity declaration/);
    expect(reason('foreign')).toMatch(/^01-drawings\.md:19 .*contains a `<foreignObject>`/);
    expect(reason('stylesheet')).toMatch(/^01-drawings\.md:21 .*contains an external stylesheet reference/);
    expect(reason('animation')).toMatch(/^01-drawings\.md:23 .*contains an animation that changes a link/);
    expect(reason('fine')).toBeUndefined();
    expect(errors).toHaveLength(11);
    expect(canary.requests).toEqual([]);
  });

  it('should see through character references, CSS escapes and comments', () => {
    const svg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">${body}</svg>`;
    expect(svgProblems(svg('<image href="&#x68;ttp://x.test/a.png"/>'))).toEqual(['a link to another file or URL']);
    expect(svgProblems(svg('<rect style="fill:&#117;rl(http://x.test/a)"/>'))).toEqual(['an external stylesheet reference']);
    expect(svgProblems(svg('<style>@\\69mport "http://x.test/a.css";</style>'))).toEqual(['an external stylesheet reference']);
    expect(svgProblems(svg('<style>@im/**/port "http://x.test/a.css";</style>'))).toEqual(['an external stylesheet reference']);
    expect(svgProblems(svg('<style>rect { fill: url( //x.test/a ) }</style>'))).toEqual(['an external stylesheet reference']);
    expect(svgProblems(svg('<svg:script xmlns:svg="http://www.w3.org/2000/svg">x()</svg:script>'))).toContain('a `<script>`');
    expect(svgProblems(svg('<rect onclick = "x()"/>'))).toEqual(['an event handler']);
    expect(svgProblems('<!DOCTYPE svg SYSTEM "http://x.test/a.dtd">' + svg(''))).toEqual(['a document type loaded from elsewhere']);
    // Ordinary drawings pass: fragment references, the standard SVG 1.1 document type, text that looks like code.
    expect(svgProblems('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">' +
      svg('<defs><linearGradient id="g"/></defs><rect fill="url(#g)" style="fill: url(\'#g\')"/><use xlink:href="#g"/><text>onset = url(x) @import</text>'))).toEqual([]);
    expect(sniffMediaType(Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY a "b">]>\n<svg/>'))).toBe('image/svg+xml');
  });
});

describe('confined reads', () => {
  it('should follow symbolic links before deciding, and allow names that merely start with two dots', async () => {
    const dir = tempDir();
    const root = path.join(dir, 'm');
    fs.mkdirSync(path.join(root, 'sub'), {recursive: true});
    fs.writeFileSync(path.join(dir, 'outside.txt'), SECRET);
    fs.writeFileSync(path.join(root, '..inside.txt'), 'ok');
    fs.symlinkSync('../outside.txt', path.join(root, 'link.txt'));
    fs.symlinkSync(dir, path.join(root, 'sub/up'));
    await expect(readInside(root, 'link.txt')).rejects.toBeInstanceOf(OutsideManuscriptError);
    await expect(readInside(root, 'sub/up/outside.txt')).rejects.toBeInstanceOf(OutsideManuscriptError);
    await expect(readInside(root, '../outside.txt')).rejects.toBeInstanceOf(OutsideManuscriptError);
    await expect(readInside(root, path.join(dir, 'outside.txt'))).rejects.toBeInstanceOf(OutsideManuscriptError);
    await expect(resolveInside(root, 'sub')).rejects.toBeInstanceOf(MissingFileError);
    expect((await readInside(root, '..inside.txt')).bytes.toString()).toBe('ok');
    // "Did you mean" hints never list a folder outside.
    expect(await similarFiles(root, 'sub/up/outside.tx')).toEqual([]);
  });
});
