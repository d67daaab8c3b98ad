/**
 * Pathological Markdown (the kinds micromark and cmark use in their performance tests, and a
 * 5 MB chapter) either goes through the HTML stage or gets one clear error at its line
 * (rule `limits`): never an exception, a stack overflow or a hang. Speed is not asserted;
 * vitest's timeout catches a hang. Nesting just inside the limits builds the EPUB and the PDF.
 */
import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {parseDoc, type ParsedDoc} from '../pipeline/stages/markdown.ts';
import {checkMarkdownLimits, LIMITS} from '../pipeline/stages/limits.ts';
import {buildBook, messages, pdftext, plain} from './helpers.ts';
import {copyFixture, epubEntries, epubProblems} from './hostile-helpers.ts';

const HANG_GUARD = 120_000;

function parse(text: string): ParsedDoc {
  return parseDoc({id: 'ch01', kind: 'chapter', path: 'chapters/01-hostile.md', text, number: 1});
}

/** Fatal messages as `line:column rule`, and their reasons. */
function fatal(parsed: ParsedDoc) {
  return parsed.file.messages.filter((m) => m.fatal).map((m) => ({at: `${m.line}:${m.column}`, rule: m.ruleId, reason: m.reason}));
}

function markdownFiles(folder: string): string[] {
  return fs.readdirSync(folder, {recursive: true, withFileTypes: true})
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

const range = (n: number, f: (i: number) => string) => Array.from({length: n}, (_, i) => f(i)).join('');

/** Inputs that must be refused: [name, text, line of the error, what the message says]. */
const REFUSED: [string, () => string, number, RegExp][] = [
  ['lists nested 10 000 deep', () => `# T\n\n${'- '.repeat(10_000)}a\n`, 3, /Lists or block quotes nest more than 100 levels deep/],
  ['block quotes nested 10 000 deep', () => `# T\n\n${'>'.repeat(10_000)} a\n`, 3, /Lists or block quotes nest more than 100 levels deep/],
  ['lists nested by indentation', () => `# T\n\n${range(300, (i) => `${'  '.repeat(i)}- a\n`)}`, 204, /indented 402 columns/],
  ['`*a**b` 50 000 times', () => `# T\n\n${'*a**b'.repeat(50_000)}\n`, 3, /more than 5000 emphasis markers and brackets/],
  ['emphasis nested 10 000 deep', () => `# T\n\n${'*a '.repeat(10_000)}x${' b*'.repeat(10_000)}\n`, 3, /emphasis nested too deeply/],
  ['50 000 `[`', () => `# T\n\n${'['.repeat(50_000)}\n`, 3, /More than 100 `\[` are open at once/],
  ['brackets nested 10 000 deep', () => `# T\n\n${'['.repeat(10_000)}a${']'.repeat(10_000)}\n`, 3, /More than 100 `\[` are open at once/],
  ['links nested 10 000 deep', () => `# T\n\n${'[a '.repeat(10_000)}x${'](u)'.repeat(10_000)}\n`, 3, /More than 100 `\[`/],
  ['images nested 10 000 deep', () => `# T\n\n${'![a '.repeat(10_000)}x${'](u)'.repeat(10_000)}\n`, 3, /More than 100 `\[`/],
  ['`[a](` 20 000 times', () => `# T\n\n${'[a]('.repeat(20_000)}\n`, 3, /more than 5000 emphasis markers and brackets/],
  ['`] ` 20 000 times', () => `# T\n\n${'] '.repeat(20_000)}\n`, 3, /more than 5000 emphasis markers and brackets/],
  ['a chain of 10 000 reference links in one paragraph', () =>
    `# T\n\n${range(10_000, (i) => `[r${i}]: /u${i}\n`)}\n${range(10_000, (i) => `[x][r${i}] `)}\n`, 10_004, /more than 5000 emphasis markers and brackets/],
  ['10 000 footnote references in one paragraph', () =>
    `# T\n\n${range(10_000, (i) => `x[^${i}] `)}\n\n${range(10_000, (i) => `[^${i}]: n\n`)}`, 3, /more than 5000 emphasis markers and brackets/],
  ['`:::` blocks nested 10 000 deep', () => `# T\n\n${':::note\n'.repeat(10_000)}`, 103, /`:::` blocks nest more than 100 levels deep/],
  ['a run of 10 000 backticks', () => `# T\n\nCode: ${'`'.repeat(10_000)}a\n`, 3, /A run of 10000 backticks/],
  ['backtick runs of every length', () => `# T\n\n${range(200, (i) => `${'`'.repeat(i + 1)} x `)}\n`, 3, /A run of 33 backticks/],
  ['unclosed CDATA 5 000 times', () => `# T\n\n${'<![CDATA[ '.repeat(5_000)}\n`, 3, /More than 100 `\[` are open at once/],
  ['50 000 list items', () => `# T\n\n${'- a\n'.repeat(50_001)}`, 50_003, /more than 50000 list items/],
  ['a table of 20 000 rows', () => `# T\n\n| a | b |\n|---|---|\n${'| x_y *z* | [a](b) |\n'.repeat(20_000)}`, 12_504, /table rows/],
  ['many long paragraphs of emphasis', () => `# T\n\n${`${'*a**b'.repeat(1_500)}\n\n`.repeat(30)}`, 13, /too many emphasis markers and brackets in long paragraphs/],
  ['a 5 MB chapter', () => `# T\n\n${'Plain words in a paragraph of ordinary prose text. '.repeat(100_000)}\n`, 1, /Document is 4\.9 MB; one Markdown file may be at most 1\.0 MB/],
  ['HTML nested 10 000 deep', () => `# T\n\n${'<div>'.repeat(10_000)}x\n`, 1, /Nested too deeply to process/],
  ['HTML nested 300 deep', () => `# T\n\n${'<span>'.repeat(300)}x\n`, 3, /Nested more than 250 levels deep \(HTML elements\)/],
  ['lists nested 100 deep, with emphasis and links 100 deep inside', () =>
    `# T\n\n${'- '.repeat(100)}${'*a '.repeat(60)}${'[a '.repeat(60)}x${'](u)'.repeat(60)}${' b*'.repeat(60)}\n`, 3, /Nested more than 250 levels deep \(lists, quotes, emphasis or links\)/],
];

/** Inputs that are merely unusual: they must go through without an error. */
const ACCEPTED: [string, () => string][] = [
  ['lists nested 90 deep', () => `# T\n\n${'- '.repeat(90)}a\n`],
  ['`*a**b` 1 000 times', () => `# T\n\n${'*a**b'.repeat(1_000)}\n`],
  ['5 000 reference definitions used across paragraphs', () =>
    `# T\n\n${range(5_000, (i) => `[r${i}]: /u${i}\n`)}\n${range(5_000, (i) => `See [x][r${i}].\n\n`)}`],
  ['unclosed HTML constructs', () => `# T\n\n${'<!-- '.repeat(5_000)}\n\n${'<? '.repeat(5_000)}\n\n${'<!A '.repeat(5_000)}\n\n${'<a '.repeat(5_000)}\n`],
  ['lists nested 100 deep', () => `# T\n\n${'- '.repeat(100)}a\n`],
  ['HTML nested 200 deep', () => `# T\n\n<div>${'<span>'.repeat(200)}x${'</span>'.repeat(200)}</div>\n`],
  ['a long line of entities and autolinks', () => `# T\n\n${'&amp; www.example.com a@b.example '.repeat(3_000)}\n`],
  ['many math runs', () => `# T\n\n${'$a$ '.repeat(2_000)}\n`],
  ['an unclosed citation group of 5 000 keys', () => `# T\n\nSee [${'@a '.repeat(5_000)}and more.\n`],
  ['2 000 citation groups in one paragraph', () => `# T\n\n${'[see @a, p. 1; @b] '.repeat(2_000)}\n`],
  ['a 600 KB chapter of prose', () => `# T\n\n${'Plain words in a paragraph of ordinary prose text, with *emphasis*.\n\n'.repeat(9_000)}`],
];

describe('pathological Markdown', () => {
  for (const [name, make, line, reason] of REFUSED) {
    it(`should refuse ${name} with a clear error at its line`, () => {
      let parsed: ParsedDoc | undefined;
      expect(() => {
        parsed = parse(make());
      }).not.toThrow();
      const errors = fatal(parsed!);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.rule).toBe('limits');
      expect(errors[0]!.reason).toMatch(reason);
      expect(Number(errors[0]!.at.split(':')[0])).toBe(line);
      expect(parsed!.doc.tree.children).toEqual([]);
    }, HANG_GUARD);
  }

  for (const [name, make] of ACCEPTED) {
    it(`should get through ${name} without an error`, () => {
      let parsed: ParsedDoc | undefined;
      expect(() => {
        parsed = parse(make());
      }).not.toThrow();
      expect(fatal(parsed!)).toEqual([]);
    }, HANG_GUARD);
  }

  it('should count nothing inside fenced code or code spans', () => {
    const code = `# T\n\n\`\`\`\n${'- '.repeat(500)}\n${'['.repeat(500)}\n\`\`\`\n\nInline \`${'*a**b'.repeat(3_000)}\` code.\n`;
    expect(checkMarkdownLimits(code)).toBeUndefined();
  });

  it('should find no limit exceeded in the fixture books and the manuscript', () => {
    const root = path.resolve(import.meta.dirname, '..');
    const files = [...markdownFiles(path.join(root, 'manuscript')), ...markdownFiles(path.join(root, 'test/fixtures'))];
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) expect(checkMarkdownLimits(fs.readFileSync(file, 'utf8')), file).toBeUndefined();
  });
});

describe('a book nested just inside the limits', () => {
  it('should build the EPUB and the PDF', async () => {
    const {manuscript} = copyFixture('hostile-deep');
    const depth = LIMITS.nesting - 10;
    const chapter = [
      '# Deep', '',
      `${'- '.repeat(depth)}DEEP-LIST`, '',
      `${'>'.repeat(depth)} DEEP-QUOTE`, '',
      `${'*a '.repeat(depth / 2)}DEEP-EMPHASIS${' b*'.repeat(depth / 2)}`, '',
      `${'[a '.repeat(depth / 2)}DEEP-LINK${'](https://example.org/)'.repeat(depth / 2)}`, '',
      `<div>${'<span>'.repeat(depth - 10)}DEEP-HTML${'</span>'.repeat(depth - 10)}</div>`, '',
    ].join('\n');
    fs.writeFileSync(path.join(manuscript, 'chapters/01-deep.md'), chapter);
    const {result, epub, pdf} = await buildBook(manuscript);
    expect(messages(result).filter((m) => m.fatal)).toEqual([]);
    expect(epub && pdf).toBeTruthy();
    expect(epubProblems(epub!)).toEqual([]);
    const xhtml = epubEntries(epub!)['EPUB/ch01.xhtml'] ?? Object.entries(epubEntries(epub!)).find(([name]) => name.endsWith('ch01.xhtml'))![1];
    for (const marker of ['DEEP-LIST', 'DEEP-QUOTE', 'DEEP-EMPHASIS', 'DEEP-LINK', 'DEEP-HTML']) expect(xhtml).toContain(marker);
    // In print, 90 levels of list and quote indentation run off the page; the rest is printed.
    const text = plain(pdftext(pdf!));
    for (const marker of ['DEEP-EMPHASIS', 'DEEP-LINK', 'DEEP-HTML']) expect(text).toContain(marker);
  }, HANG_GUARD * 2);
});
