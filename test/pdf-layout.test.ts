/**
 * The layout pass prints the book in pieces side by side. Every block starts on a new page, so a
 * piece lays out as it does in the whole book: joined, the pieces must put every measured id on
 * the page the whole book puts it on.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import path from 'node:path';
import {PDFDocument} from 'pdf-lib';
import {loadBook} from '../pipeline/stages/load.ts';
import type {Book} from '../pipeline/model.ts';
import {printDocument} from '../pipeline/targets/pdf/html.ts';
import {printCss, printResources, joinLayoutDestinations, LAYOUT_PIECES} from '../pipeline/targets/pdf/index.ts';
import {openBrowser} from '../pipeline/targets/pdf/chrome.ts';
import {readDestinations, type Destination} from '../pipeline/targets/pdf/read.ts';
import {TEMPLATES} from '../pipeline/build.ts';
import {ROOT} from './helpers.ts';

let book: Book;
beforeAll(async () => {
  const loaded = await loadBook(path.join(ROOT, 'manuscript'));
  book = loaded.book!;
  expect(book).toBeDefined();
});

describe('the layout pass in pieces', () => {
  it('should place every id on the page the whole book places it on', async () => {
    const css = printCss(TEMPLATES);
    const whole = printDocument(book, css, {probe: true});
    const split = printDocument(book, css, {probe: true, pieces: LAYOUT_PIECES});
    expect(whole.pieces).toHaveLength(1);
    expect(split.pieces).toHaveLength(LAYOUT_PIECES);
    // Each block is in exactly one piece, in reading order.
    const blockIds = split.blocks.map((b) => b.id);
    const where = blockIds.map((id) => split.pieces.findIndex((html) => html.includes(`data-block="${id}"`)));
    expect(where.every((i) => i >= 0)).toBe(true);
    expect([...where].sort((a, b) => a - b)).toEqual(where);
    expect(new Set(where).size).toBe(LAYOUT_PIECES);

    const session = await openBrowser(printResources(book, () => true));
    let wholeDests: Map<string, Destination>;
    let joined: Map<string, Destination>;
    try {
      const read = async (html: string) => readDestinations(await PDFDocument.load(await session.print(html, {timeoutMs: 120_000, tagged: false})));
      wholeDests = joinLayoutDestinations([await read(whole.pieces[0]!)]);
      joined = joinLayoutDestinations(await Promise.all(split.pieces.map(read)));
    } finally {
      await session.close();
    }
    expect(wholeDests.size).toBeGreaterThan(500);
    // Every probed id (blocks, their paragraphs, TOC entries, page and index references) is where
    // the whole book has it. (The whole book also records the targets of its own links, which a
    // piece records only for links inside it: nothing reads those.)
    const probed = [...new Set([...split.blocks.map((b) => b.id), ...split.measuredIds, ...split.blockChildIds])];
    expect(probed.length).toBeGreaterThan(500);
    const pick = (dests: Map<string, Destination>) => Object.fromEntries(probed.filter((id) => dests.has(id)).map((id) => [id, dests.get(id)]));
    expect(Object.keys(pick(joined)).length).toBeGreaterThan(probed.length * 0.95);
    expect(pick(joined)).toEqual(pick(wholeDests));
    // The last chapter is far into the book: its pages were offset by the first piece's.
    const last = split.blocks.filter((b) => b.kind === 'chapter').at(-1)!;
    expect(joined.get(last.id)!.page).toBeGreaterThan(100);
  }, 240_000);
});

describe('joining the pieces', () => {
  const at = (page: number, y = 500): Destination => ({page, y});
  it('should offset each piece by the pages before its predecessors\' probes and drop the probes', () => {
    const joined = joinLayoutDestinations([
      new Map([['a', at(1)], ['b', at(3, 200)], ['page-probe', at(5)]]),
      new Map([['c', at(1)], ['d', at(2, 100)], ['page-probe', at(4)]]),
    ]);
    expect(Object.fromEntries(joined)).toEqual({a: at(1), b: at(3, 200), c: at(5), d: at(6, 100)});
  });

  it('should refuse a piece whose probe Chrome did not record', () => {
    expect(() => joinLayoutDestinations([new Map([['a', at(1)]])])).toThrow(/page probe is missing/);
  });
});
