/**
 * A manuscript full of HTML that would run code or fetch things (test/fixtures/hostile-html):
 * the full build (EPUB and PDF) succeeds with a warning at each attack's line, no output holds
 * any of it, and a loopback canary server named in every attack hears nothing.
 */
import {describe, it, expect, beforeAll, afterAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {fromHtml} from 'hast-util-from-html';
import type {Element, Nodes} from 'hast';
import {buildBook, messages, pdftext, plain} from './helpers.ts';
import {startCanary, copyFixture, epubEntries, epubProblems, pdfActions, type Canary} from './hostile-helpers.ts';
import {unsafeParts} from '../pipeline/plugins/sanitize.ts';
import {TEMPLATES, type BuildResult} from '../pipeline/build.ts';
import {printDocument} from '../pipeline/targets/pdf/html.ts';
import {printCss} from '../pipeline/targets/pdf/index.ts';
import {renderPage} from '../pipeline/preview/render.ts';

let canary: Canary;
let result: BuildResult;
let epub: string;
let pdf: string;
let out: string;

beforeAll(async () => {
  canary = await startCanary();
  const {manuscript} = copyFixture('hostile-html', {CANARY: canary.host});
  const built = await buildBook(manuscript);
  result = built.result;
  out = built.out;
  epub = built.epub!;
  pdf = built.pdf!;
});

afterAll(async () => {
  await canary?.close();
});

/** What each fixture line holds, as `file:line rule` (the column is the element's). */
const EXPECTED = [
  '01-elements.md:5 unsafe-html', // <script> inline
  '01-elements.md:7 unsafe-html', // <script src>
  '01-elements.md:9 unsafe-html', // <iframe>
  '01-elements.md:11 unsafe-html', // <object>
  '01-elements.md:13 unsafe-html', // <embed>
  '01-elements.md:15 unsafe-html', // <base>
  '01-elements.md:17 unsafe-html', // <meta http-equiv>
  '01-elements.md:19 unsafe-html', // <link rel=stylesheet>
  '01-elements.md:21 unsafe-html', // <form>
  '01-elements.md:21 unsafe-html', // <input type=image>
  '01-elements.md:23 unsafe-html', // onclick
  '01-elements.md:23 unsafe-html', // onmouseover
  '01-elements.md:25 unsafe-html', // <svg><script>
  '01-elements.md:27 unsafe-html', // srcset
  '01-elements.md:27 unsafe-html', // onerror
  '01-elements.md:29 unsafe-html', // <picture>
  '01-elements.md:29 unsafe-html', // <source srcset>
  '01-elements.md:31 unsafe-html', // <video poster>
  '01-elements.md:33 unsafe-html', // ontoggle
  '01-elements.md:35 unsafe-html', // <noscript>
  '01-elements.md:37 unsafe-html', // <template>
  ...[5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 31, 33, 35].map((line) => `02-urls.md:${line} unsafe-url`),
  '03-styles.md:3 unsafe-html', // <style>
  '03-styles.md:5 unsafe-html', // style=
  '03-styles.md:7 unsafe-html', // style= with behavior and escapes
  '03-styles.md:9 unsafe-html', // background=
  '03-styles.md:11 unsafe-html', // ping=
  '03-styles.md:13 unsafe-html', // longdesc=
];

describe('a manuscript of hostile HTML', () => {
  it('should build, with one warning at the line of each attack and no errors', () => {
    const found = messages(result).map((m) => `${path.basename(m.file)}:${m.line} ${m.rule}`).sort();
    expect(found).toEqual([...EXPECTED].sort());
    expect(messages(result).every((m) => !m.fatal)).toBe(true);
    expect(result.ok).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual(['a-hostile-book.epub', 'a-hostile-book.pdf']);
  });

  it('should say what it removed, with the URL, so the author can find it', () => {
    const reasons = messages(result).map((m) => m.reason);
    expect(reasons).toContain('Removed `<script>` with its content: it is not allowed in the book');
    expect(reasons).toContain('Removed event handler `onclick` on `<p>`');
    expect(reasons).toContain("Removed unsafe URL `JaVaScRiPt:alert('PWNED-2')` in `href` on `<a>`");
    expect(reasons).toContain("Removed unsafe URL `java\\u0009script:alert('PWNED-5')` in `href` on `<a>`");
    expect(reasons).toContain('Removed `srcset` on `<img>`: the book loads no other files or URLs');
  });

  it('should not let the canary server hear a single request during the build', () => {
    expect(canary.requests).toEqual([]);
    expect(canary.connections).toBe(0);
    // The print page asked Chrome for nothing but its own files.
    expect(messages(result).filter((m) => m.rule === 'refused-request')).toEqual([]);
  });

  it('should leave no element, handler or URL that runs or fetches in any EPUB document', () => {
    expect(epubProblems(epub)).toEqual([]);
    for (const [name, text] of Object.entries(epubEntries(epub))) {
      if (!/\.(x?html|opf|ncx|css)$/.test(name)) continue;
      expect(text, name).not.toMatch(/PWNED|javascript:|vbscript:|data:text|127\.0\.0\.1|CANARY|<script|\son[a-z]+=/i);
    }
  });

  it('should give no EPUB document the `scripted` or `remote-resources` property', () => {
    const opf = Object.entries(epubEntries(epub)).find(([name]) => name.endsWith('.opf'))![1];
    expect(opf).not.toMatch(/scripted|remote-resources/);
    expect(opf).toMatch(/<item [^>]*media-type="application\/xhtml\+xml"/);
  });

  it('should keep the safe parts: link texts, the images, the licence link', () => {
    const chapters = Object.entries(epubEntries(epub)).filter(([name]) => /ch0\d\.xhtml$/.test(name)).map(([, text]) => text).join('\n');
    expect(chapters).toContain('A paragraph that had two handlers.');
    expect(chapters).toContain('>mixed case</a>');
    expect(chapters).toMatch(/<img [^>]*src="images\/img-[0-9a-f]+\.svg"/);
    expect(chapters).toContain('href="https://creativecommons.org/licenses/by/4.0/"');
  });

  it('should put no script, launch or foreign link action into the PDF', async () => {
    const actions = await pdfActions(pdf);
    expect(actions.dangerousKeys).toEqual([]);
    expect(actions.dangerousActions).toEqual([]);
    for (const uri of actions.uris) expect(uri).toMatch(/^https:\/\/(creativecommons\.org|example\.org)\//);
    const text = plain(pdftext(pdf));
    expect(text).toContain('A paragraph that had two handlers.');
    expect(text).not.toMatch(/PWNED|javascript:|127\.0\.0\.1/i);
  });

  it('should leave nothing that runs or fetches in the print HTML or the preview', () => {
    const book = result.book!;
    const [html] = printDocument(book, printCss(TEMPLATES), {probe: true}).pieces;
    expect(unsafeParts(fromHtml(html!), {allowStyleElements: true})).toEqual([]);
    expect(html).not.toMatch(/PWNED|javascript:|vbscript:|127\.0\.0\.1/i);
    for (const doc of book.docs) {
      const page = renderPage(book, doc.id, {diagnostics: [], buildId: 1});
      expect(page, doc.id).toBeDefined();
      const main = findElement(fromHtml(page!), 'main');
      expect(main, doc.id).toBeDefined();
      expect(unsafeParts(main!), doc.id).toEqual([]);
    }
  });
});

function findElement(tree: Nodes, tagName: string): Element | undefined {
  const stack: Nodes[] = [tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.type === 'element' && node.tagName === tagName) return node;
    if ('children' in node) stack.push(...(node.children as Nodes[]));
  }
  return undefined;
}
