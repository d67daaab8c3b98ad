/**
 * Golden fixtures for the Markdown stage: each `test/fixtures/markdown/<case>/input.md` is
 * chapter 1 of a two-chapter book; its HTML and its messages are compared with the files
 * beside it. Regenerate with `npx vitest run test/markdown.test.ts -u` and review the diff.
 */
import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {toHtml} from 'hast-util-to-html';
import {parseDoc} from '../pipeline/stages/markdown.ts';
import {resolveBook, glossaryFromYaml} from '../pipeline/stages/resolve.ts';
import {loadBibliography} from '../pipeline/stages/bibliography.ts';
import {VFile} from 'vfile';
import {FIXTURES} from './helpers.ts';

const CASES = path.join(FIXTURES, 'markdown');

const OTHER = `# Other

## Plain Section

## Target {#sec-target}

![Other figure.](../img/a.svg){#fig-other fig-alt="A figure in another chapter."}
`;

const BIB = `@inproceedings{sculley2015hidden,
  author = {Sculley, D. and Holt, Gary and Golovin, Daniel},
  title = {Hidden Technical Debt in Machine Learning Systems},
  booktitle = {Advances in Neural Information Processing Systems 28},
  year = {2015}
}
@inproceedings{amershi2019software,
  author = {Amershi, Saleema and Begel, Andrew},
  title = {Software Engineering for Machine Learning: A Case Study},
  booktitle = {ICSE-SEIP},
  year = {2019}
}
`;

export function renderCase(input: string) {
  const first = parseDoc({id: 'ch01', kind: 'chapter', path: 'chapters/01-test.md', text: input, number: 1, partIndex: 0});
  const other = parseDoc({id: 'ch02', kind: 'chapter', path: 'chapters/02-other.md', text: OTHER, number: 2, partIndex: 0});
  const glossaryFile = new VFile({path: 'glossary.yaml'});
  const resolved = resolveBook({
    docs: [first.doc, other.doc],
    files: new Map([[first.doc.id, first.file], [other.doc.id, other.file]]),
    labels: [...first.labels, ...other.labels],
    bibliography: loadBibliography([{path: 'refs.bib', text: BIB}], 'apa'),
    glossary: glossaryFromYaml([{path: 'glossary.yaml', data: {'feature store': 'A shared store of computed features.'}, file: glossaryFile}]),
    language: 'en',
  });
  const html = toHtml(first.doc.tree);
  const messages = first.file.messages
    .map((m) => `${m.line ?? '?'}:${m.column ?? '?'} ${m.fatal ? 'error' : 'warning'} ${m.reason} ${m.ruleId}`)
    .join('\n');
  return {html, messages, resolved, doc: first.doc};
}

describe('Markdown stage (golden fixtures)', () => {
  for (const name of fs.readdirSync(CASES).sort()) {
    it(`should render ${name} as recorded`, async () => {
      const input = fs.readFileSync(path.join(CASES, name, 'input.md'), 'utf8');
      const {html, messages} = renderCase(input);
      await expect(`${html}\n`).toMatchFileSnapshot(path.join(CASES, name, 'output.html'));
      await expect(`${messages}\n`).toMatchFileSnapshot(path.join(CASES, name, 'messages.txt'));
    });
  }
});
