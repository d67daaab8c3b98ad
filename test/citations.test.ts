import {describe, expect, it} from 'vitest';
import {loadBibliography, openBibliography, formatCitations, formatCitationsSync, expectedCitations, type CitationRequest} from '../pipeline/stages/bibliography.ts';
import {parseBibliography, registerAhead, citeprocFormat as formatHere} from '../pipeline/stages/citeproc.ts';

const BIB = `
@article{lee2020a, author = {Lee, Ann and Park, Bo}, title = {Feature stores in practice}, journal = {Journal of Examples}, year = {2020}}
@article{lee2020b, author = {Lee, Ann and Park, Bo}, title = {Monitoring models after release}, journal = {Journal of Examples}, year = {2020}}
@book{chen2018, author = {Chen, Wei and Ortiz, Luz and Novak, Jan}, title = {Data quality}, publisher = {Example Press}, year = {2018}}
@book{chen2018other, author = {Chen, Wei and Brandt, Kai and Novak, Jan}, title = {Data validation}, publisher = {Example Press}, year = {2018}}
@book{smith2015, author = {Smith, John}, title = {Reliable systems}, publisher = {Example Press}, year = {2015}}
@book{smith2015other, author = {Smith, Mary}, title = {Responsible systems}, publisher = {Example Press}, year = {2015}}
`;
const SOURCES = [{path: 'references.bib', text: BIB}];
const CITED = ['lee2020a', 'lee2020b', 'chen2018', 'chen2018other', 'smith2015', 'smith2015other'];
const EACH: CitationRequest[] = CITED.map((key) => ({items: [{key}], mode: 'paren'}));

describe('citations', () => {
  const load = () => loadBibliography(SOURCES, 'apa', new Map());

  it('tells apart works that the bibliography tells apart, in citations and bibliography alike', () => {
    const {citations, bibliography} = formatCitationsSync(load(), EACH, CITED, 'en');
    // Same authors, same year: a/b suffixes, as in the bibliography.
    expect(citations[0]).toBe('(Lee & Park, 2020a)');
    expect(citations[1]).toBe('(Lee & Park, 2020b)');
    // Same first author and year, different co-authors: no two citations read the same.
    expect(new Set(citations).size).toBe(citations.length);
    // Different people with the same surname get initials.
    expect(citations[4]).toBe('(J. Smith, 2015)');
    expect(citations[5]).toBe('(M. Smith, 2015)');
    expect(bibliography.map((entry) => entry.key).sort()).toEqual([...CITED].sort());
    expect(bibliography.find((entry) => entry.key === 'lee2020a')?.html).toContain('(2020a)');
    expect(bibliography.find((entry) => entry.key === 'lee2020b')?.html).toContain('(2020b)');
    // APA orders the bibliography by author.
    expect(bibliography[0]!.key).toMatch(/^chen/);
  });

  it('needs no disambiguation when only one of two similar works is cited', () => {
    const {citations, bibliography} = formatCitationsSync(load(), [{items: [{key: 'lee2020a'}], mode: 'paren'}], ['lee2020a'], 'en');
    expect(citations).toEqual(['(Lee & Park, 2020)']);
    expect(bibliography).toHaveLength(1);
    expect(bibliography[0]!.html).toContain('Feature stores in practice');
    expect(bibliography[0]!.html).not.toContain('<div');
  });

  it('formats narrative citations, locators and groups', () => {
    const {citations} = formatCitationsSync(load(), [
      {items: [{key: 'smith2015'}], mode: 'narrative'},
      {items: [{key: 'smith2015', locator: 'p. 12'}], mode: 'paren'},
      {items: [{key: 'smith2015'}, {key: 'chen2018', prefix: 'see'}], mode: 'paren'},
    ], ['smith2015', 'chen2018'], 'en');
    expect(citations[0]).toBe('Smith (2015)');
    expect(citations[1]).toBe('(Smith, 2015, p. 12)');
    // APA sorts the works of a group by author.
    expect(citations[2]).toBe('(see Chen et al., 2018; Smith, 2015)');
  });

  it('remembers texts by the set of cited works, so a new citation elsewhere cannot leave a stale text', () => {
    const bib = load();
    const request: CitationRequest[] = [{items: [{key: 'lee2020a'}], mode: 'paren'}];
    expect(formatCitationsSync(bib, request, ['lee2020a'], 'en').citations).toEqual(['(Lee & Park, 2020)']);
    expect(formatCitationsSync(bib, request, ['lee2020a', 'lee2020b'], 'en').citations).toEqual(['(Lee & Park, 2020a)']);
    expect(formatCitationsSync(bib, request, ['lee2020a'], 'en').citations).toEqual(['(Lee & Park, 2020)']);
  });

  it('reads and formats in a worker thread with the same results, and a remembered bibliography needs no thread', async () => {
    const memo = new Map<string, string>();
    const threaded = await openBibliography(SOURCES, 'apa', 'en', memo);
    expect(threaded.thread).toBeDefined();
    expect([...threaded.keys].sort()).toEqual([...CITED].sort());
    const fromThread = await formatCitations(threaded, EACH, CITED, 'en');
    expect(threaded.thread).toBeUndefined();
    expect(fromThread).toEqual(formatCitationsSync(load(), EACH, CITED, 'en'));

    // The same sources again, with the memo a build cache keeps: no thread, the same texts.
    const again = await openBibliography(SOURCES, 'apa', 'en', memo);
    expect(again.thread).toBeUndefined();
    expect(await formatCitations(again, EACH, CITED, 'en')).toEqual(fromThread);
  });

  it('registers the expected works ahead in the thread, and gives the same texts whether the guess was right or not', async () => {
    const reference = formatCitationsSync(load(), EACH, CITED, 'en');
    for (const expected of [CITED, [...CITED].reverse(), CITED.slice(1), [...CITED, 'nobody2000'], ['lee2020a']]) {
      const threaded = await openBibliography(SOURCES, 'apa', 'en', new Map(), () => ({cited: expected, requests: EACH.slice(1)}));
      expect(threaded.thread).toBeDefined();
      expect(await formatCitations(threaded, EACH, CITED, 'en'), expected.join(' ')).toEqual(reference);
    }
    // In this thread: a registry filled ahead is used only for exactly the works cited, in order.
    const {csl} = parseBibliography(SOURCES);
    const ahead = registerAhead(csl, 'apa', 'en', [...CITED, 'nobody2000'], [...EACH, {items: [{key: 'nobody2000'}], mode: 'paren'}])!;
    expect(ahead.cited).toEqual(CITED);
    expect(ahead.formatted.size).toBe(EACH.length);
    expect(formatHere(csl, 'apa', 'en', EACH, CITED, true, ahead)).toEqual(reference);
    const other = registerAhead(csl, 'apa', 'en', ['lee2020a'])!;
    expect(formatHere(csl, 'apa', 'en', EACH, CITED, true, other)).toEqual(reference);
  });

  it('expects the cited keys in the order of the text, footnotes after it, code left out', () => {
    const chapter = [
      'Intro citing @smith2015 and [see @lee2020a, p. 3; -@chen2018].',
      '',
      'A note here.[^n]',
      '',
      '[^n]: As @lee2020b argues.',
      '',
      'Back in the text, [@smith2015other].',
      '',
      '```',
      'code mentioning @chen2018other',
      '```',
      '',
      'And `@chen2018other` in inline code; an email a@b.org is no citation.',
    ].join('\n');
    const expected = expectedCitations([chapter, 'Second chapter: @chen2018other and @smith2015 again, see @fig-x.']);
    expect(expected.cited).toEqual(['smith2015', 'lee2020a', 'chen2018', 'smith2015other', 'lee2020b', 'chen2018other']);
    // The citations as the parser reads them (each distinct one once; cross-references left out).
    expect(expected.requests).toEqual([
      {items: [{key: 'smith2015'}], mode: 'narrative'},
      {items: [{key: 'lee2020a', prefix: 'see ', locator: 'p. 3'}, {key: 'chen2018'}], mode: 'paren'},
      {items: [{key: 'smith2015other'}], mode: 'paren'},
      {items: [{key: 'lee2020b'}], mode: 'narrative'},
      {items: [{key: 'chen2018other'}], mode: 'narrative'},
    ]);
  });

  it('reports unreadable and duplicate entries at their lines, from the thread as in this thread', async () => {
    const text = `@book{a1, author = {Ann, A}, title = {One}, year = {2001}}\n@book{a1, author = {Bob, B}, title = {Two}, year = {2002}}\n`;
    const here = loadBibliography([{path: 'refs.bib', text}], 'apa');
    const there = await openBibliography([{path: 'refs.bib', text}], 'apa', 'en');
    for (const bib of [here, there]) {
      const messages = bib.files[0]!.messages.map((m) => `${m.line}:${m.ruleId}:${m.fatal}`);
      expect(messages).toEqual(['2:duplicate-citation-key:false']);
    }
    await formatCitations(there, [], [], 'en');
  });
});
