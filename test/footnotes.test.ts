/**
 * Footnotes at the bottom of their page (issue: print that printers accept). The settling is
 * checked on made-up measurements (a pushed call, no room, a table in the way), and a chapter
 * with many notes of every length is printed and read back: every note at the foot of the page
 * of its call, or on the next page where the layout says so; `print.notes: chapter` keeps the
 * notes at the chapter's end.
 */
import {describe, it, expect, beforeAll, afterAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {PDFDocument} from 'pdf-lib';
import {settleNotes, floatId, type Note, type NoteMetrics, type NotePlan, type NoteBlock} from '../pipeline/targets/pdf/footnotes.ts';
import {readDestinations, type Destination} from '../pipeline/targets/pdf/read.ts';
import {openPrinter, type PageLayout} from '../pipeline/targets/pdf/index.ts';
import {loadBook} from '../pipeline/stages/load.ts';
import {TEMPLATES} from '../pipeline/build.ts';
import {FIXTURES, tempDir, pdftext, noteLinks} from './helpers.ts';

const metrics: NoteMetrics = {pageHeight: 648, contentHeight: 540, lineHeight: 15, heights: new Map([['n1', 30], ['n2', 45]]), ruleHeight: 10};
const note = (id: string): Note => ({id, callId: `${id}-call`, docId: 'ch1'});
const at = (page: number, offset: number): Destination => ({page, y: metrics.pageHeight - offset});
const blocks = (...ids: string[]): Map<string, NoteBlock[]> => new Map([['ch1', ids.map((id) => ({id, flowing: !id.startsWith('tbl')}))]]);

describe('settling the notes on made-up measurements', () => {
  it('should stand a page\'s float before the latest block that leaves its notes room, reaching the page\'s bottom', () => {
    const dests = new Map([['ch1', at(1, 0)], ['p1', at(2, 0)], ['p2', at(2, 300)], ['p3', at(2, 490)], ['n1-call', at(2, 320)]]);
    const step = settleNotes([note('n1')], new Map(), dests, blocks('p1', 'p2', 'p3'), metrics);
    expect(step.done).toBe(false);
    const [spec] = step.plan.get('ch1')!;
    // p3 starts 490 pt down: the notes (rule 10 + 30) and one line do not fit below it.
    expect(spec).toMatchObject({page: 1, notes: ['n1'], carried: [], anchor: {kind: 'before', id: 'p2'}, reserve: 40});
    expect(spec!.height).toBeCloseTo(540 - 300 - 2, 5);
  });

  it('should call a chapter settled when each float stands where it was planned and holds its page\'s notes', () => {
    const plan: NotePlan = new Map([['ch1', [{page: 1, notes: ['n1'], carried: [], anchor: {kind: 'before', id: 'p2'}, height: 238, reserve: 40}]]]);
    const dests = new Map([['ch1', at(1, 0)], ['p2', at(2, 300)], [floatId('ch1', 1), at(2, 300)], ['n1-call', at(2, 320)]]);
    const step = settleNotes([note('n1')], plan, dests, blocks('p2'), metrics);
    expect(step.done).toBe(true);
    expect(step.plan).toEqual(plan);
    // The float slipped to the next page: not settled.
    dests.set(floatId('ch1', 1), at(3, 0));
    expect(settleNotes([note('n1')], plan, dests, blocks('p2'), metrics).done).toBe(false);
  });

  it('should keep the space of a note whose own space pushed its call over, and set the note with its call', () => {
    // Planned: n1 and n2 on page 1 (rule + 30 + 45). Measured: n2's call went to page 2.
    const plan: NotePlan = new Map([['ch1', [{page: 1, notes: ['n1', 'n2'], carried: [], anchor: {kind: 'before', id: 'p2'}, height: 238, reserve: 85}]]]);
    const dests = new Map([['ch1', at(1, 0)], ['p2', at(2, 300)], [floatId('ch1', 1), at(2, 300)], ['n1-call', at(2, 310)], ['n2-call', at(3, 20)], ['p4', at(3, 100)]]);
    const step = settleNotes([note('n1'), note('n2')], plan, dests, blocks('p2', 'p4'), metrics);
    const [first] = step.plan.get('ch1')!;
    expect(first).toMatchObject({page: 1, notes: ['n1'], reserve: 85});
    // The next pass measures the same; page 2 gets n2 then.
    const again = settleNotes([note('n1'), note('n2')], step.plan, dests, blocks('p2', 'p4'), metrics);
    expect(again.plan.get('ch1')!.map((s) => [s.page, s.notes])).toEqual([[1, ['n1']], [2, ['n2']]]);
  });

  it('should carry a note to the next page when nothing on the page of its call leaves it room', () => {
    // The only block starts above the page; the call is on the page's last line.
    const dests = new Map([['ch1', at(1, 0)], ['p1', at(1, 0)], ['n1-call', at(2, 530)], ['p2', at(3, 40)]]);
    const step = settleNotes([note('n1')], new Map(), dests, blocks('p1', 'p2'), metrics);
    expect(step.plan.get('ch1')).toEqual([expect.objectContaining({page: 1, notes: [], carried: ['n1'], height: 0})]);
    const next = settleNotes([note('n1')], step.plan, dests, blocks('p1', 'p2'), metrics);
    expect(next.plan.get('ch1')!.at(-1)).toMatchObject({page: 2, notes: ['n1'], anchor: {kind: 'before', id: 'p2'}});
  });

  it('should not stand a float where a table would start beside it', () => {
    const dests = new Map([['ch1', at(1, 0)], ['p1', at(2, 100)], ['p2', at(2, 300)], ['tbl-x', at(2, 400)], ['n1-call', at(2, 120)]]);
    const step = settleNotes([note('n1')], new Map(), dests, blocks('p1', 'p2', 'tbl-x'), metrics);
    expect(step.plan.get('ch1')![0]!.anchor).toEqual({kind: 'before', id: 'p1'});
  });
});

/** A chapter of 60 paragraphs with 23 notes: short and long, two in one paragraph, some in quick succession. */
function notesChapter(): {markdown: string; count: number} {
  const words = 'models data teams release monitoring latency drift fairness evaluation pipeline feedback users'.split(' ');
  const sentence = (i: number, n: number) => Array.from({length: n}, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ');
  const paras: string[] = [];
  const defs: string[] = [];
  let note = 0;
  for (let i = 0; i < 60; i++) {
    let text = `Paragraph ${i + 1} on ${sentence(i, 20 + (i * 13) % 50)}.`;
    if (i % 5 === 2 || i % 11 === 0) {
      note++;
      text = text.replace(/\.$/, `[^n${note}] and ${sentence(i + 1, 12)}.`);
      defs.push(`[^n${note}]: Note ${note}: ${sentence(note, note % 4 === 0 ? 90 : 8 + (note * 5) % 30)}.`);
      if (i % 10 === 2) {
        note++;
        text += ` A second call here.[^n${note}]`;
        defs.push(`[^n${note}]: Note ${note}, the second of its paragraph.`);
      }
    }
    paras.push(text);
    if (i % 17 === 16) paras.push(`## Section ${i}`);
  }
  return {markdown: `# Notes Everywhere {#ch-notes}\n\n${paras.join('\n\n')}\n\n${defs.join('\n\n')}\n`, count: defs.length};
}

describe('a chapter with many notes, printed', () => {
  let dir: string;
  let layout: PageLayout;
  let bytes: Uint8Array;
  let file: string;
  const chapter = notesChapter();
  beforeAll(async () => {
    dir = tempDir('book-notes-');
    fs.cpSync(path.join(FIXTURES, 'mini'), dir, {recursive: true});
    fs.writeFileSync(path.join(dir, 'chapters', '04-notes.md'), chapter.markdown);
    const yaml = path.join(dir, 'book.yaml');
    fs.writeFileSync(yaml, fs.readFileSync(yaml, 'utf8').replace('chapters: [chapters/03-gamma.md]', 'chapters: [chapters/03-gamma.md, chapters/04-notes.md]'));
    const {book} = await loadBook(dir);
    const printer = openPrinter(book!, {templates: TEMPLATES, sourceDateEpoch: 0, log: () => undefined});
    try {
      layout = await printer.paginate();
      bytes = (await printer.render(layout)).bytes;
    } finally {
      await printer.close();
    }
    file = path.join(dir, 'notes.pdf');
    fs.writeFileSync(file, bytes);
  }, 240_000);
  afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

  it('should set every note at the foot of its call\'s page, or on the next page where the layout reports it', async () => {
    const links = await noteLinks(bytes);
    // Every note of the new chapter (and the mini book's own) is linked from its call.
    expect(chapter.count).toBeGreaterThan(20);
    expect(new Set(links.map((l) => l.note).filter((id) => /-fn-n\d+$/.test(id))).size).toBe(chapter.count);
    const carried = new Set(layout.unsettled.flatMap((line) => line.split(/[ ,()]+/)));
    for (const link of links) {
      if (carried.has(link.note)) expect(link.notePage).toBe(link.callPage + 1);
      else expect(link.notePage, link.note).toBe(link.callPage);
    }
    expect(layout.passes).toBeGreaterThan(1);
    // No note was left for the end of the chapter.
    expect(pdftext(file)).not.toMatch(/^Notes$/m);
  });

  it('should print each note below the text of its page, in the notes\' smaller size', async () => {
    const doc = await PDFDocument.load(bytes);
    const dests = readDestinations(doc);
    for (const link of await noteLinks(bytes)) {
      const noteDest = dests.get(link.note)!;
      const number = /-fn-n(\d+)$/.exec(link.note)?.[1];
      if (number) expect(pdftext(file, noteDest.page), link.note).toContain(`Note ${number}`);
      // The note starts in the lower part of the page (PDF y grows upwards).
      expect(noteDest.y, link.note).toBeLessThan(648 * 0.75);
    }
  });

  it('should gather the notes at the chapter\'s end with print.notes: chapter', async () => {
    fs.appendFileSync(path.join(dir, 'book.yaml'), 'print:\n  notes: chapter\n');
    const yaml = fs.readFileSync(path.join(dir, 'book.yaml'), 'utf8');
    expect(yaml).toContain('notes: chapter');
    const {book} = await loadBook(dir);
    expect(book!.config.print.notes).toBe('chapter');
    const printer = openPrinter(book!, {templates: TEMPLATES, sourceDateEpoch: 0, log: () => undefined});
    try {
      const chapterLayout = await printer.paginate();
      expect(chapterLayout.passes).toBe(1);
      const pdf = await printer.render(chapterLayout);
      fs.writeFileSync(file, pdf.bytes);
      const links = (await noteLinks(pdf.bytes)).filter((l) => /-fn-n\d+$/.test(l.note));
      const pages = new Set(links.map((l) => l.notePage));
      // All the notes on the pages after the chapter's text, under a "Notes" heading.
      expect(Math.min(...pages as Set<number>)).toBeGreaterThan(Math.max(...links.map((l) => l.callPage)));
      expect(pdftext(file)).toMatch(/^Notes$/m);
    } finally {
      await printer.close();
    }
  }, 240_000);
});
