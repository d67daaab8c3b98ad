/** EPUBCheck and Ace by DAISY on the fixture book and on the manuscript. */
import {describe, it, expect} from 'vitest';
import path from 'node:path';
import {epubcheckGate, aceGate} from '../pipeline/gates.ts';
import {buildBook, FIXTURES, ROOT} from './helpers.ts';

describe('quality gates', () => {
  for (const [name, manuscript] of [['the fixture book', path.join(FIXTURES, 'mini')], ['the manuscript', path.join(ROOT, 'manuscript')]] as const) {
    it(`should pass EPUBCheck (warnings fail) and Ace with no violations for ${name}`, async () => {
      const {epub} = await buildBook(manuscript, {targets: ['epub']});
      const check = await epubcheckGate(epub!);
      expect(check.problems).toEqual([]);
      expect(check.ok).toBe(true);
      const ace = await aceGate(epub!);
      expect(ace.problems).toEqual([]);
      expect(ace.ok).toBe(true);
    });
  }
});

describe('the Ace gate itself', () => {
  it('should fail an EPUB whose links can only be told apart by colour', async () => {
    const fs = await import('node:fs');
    const {unzipSync, zipSync, strToU8, strFromU8} = await import('fflate');
    const {epub} = await buildBook(path.join(FIXTURES, 'mini'), {targets: ['epub']});
    const entries = unzipSync(fs.readFileSync(epub!));
    const css = strFromU8(entries['OEBPS/style.css']!).replace('a { text-decoration: underline; }', 'a { text-decoration: none; color: #0b5394; }');
    entries['OEBPS/style.css'] = strToU8(css);
    const broken = epub!.replace(/\.epub$/, '-broken.epub');
    const {mimetype, ...rest} = entries;
    fs.writeFileSync(broken, zipSync({mimetype: [mimetype!, {level: 0}], ...rest}));
    const ace = await aceGate(broken);
    expect(ace.ok).toBe(false);
    expect(ace.problems.join('\n')).toContain('link-in-text-block');
  });
});
