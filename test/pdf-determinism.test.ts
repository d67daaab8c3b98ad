/**
 * Chrome's tagged PDF names table cells after a DOM node counter of the renderer process, which
 * runs on across the documents that process laid out before: the same document printed in a
 * renderer that printed something else first gets other names. Each print has a tab of its own,
 * but Chrome may share a renderer between tabs of one site, and two prints of one table have given
 * its header cells their numbers in either order: the finish renames them in reading order.
 * These tests print once, shift and swap the numbers as another print would, and compare.
 */
import {describe, it, expect} from 'vitest';
import {PDFArray, PDFDict, PDFDocument, PDFHexString, PDFName, PDFRef, PDFString} from 'pdf-lib';
import {openBrowser} from '../pipeline/targets/pdf/chrome.ts';
import {renumberStructureIds} from '../pipeline/targets/pdf/finish.ts';

const HTML = `<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><title>Table</title></head><body>
<h1 id="t">A table</h1>
<table><thead><tr><th>Metric</th><th>Value</th></tr></thead>
<tbody><tr><td>Recall</td><td>0.8</td></tr><tr><td>Precision</td><td>0.9</td></tr></tbody></table>
<p><a href="#t">Back to the top</a></p>
</body></html>`;

/** Same dates, no file identifier: what is left to differ is Chrome's own content. */
async function normalised(bytes: Uint8Array, renumber: boolean): Promise<{bytes: Uint8Array; names: string[]}> {
  const doc = await PDFDocument.load(bytes, {updateMetadata: false});
  const date = new Date(0);
  doc.setCreationDate(date);
  doc.setModificationDate(date);
  delete doc.context.trailerInfo.ID;
  if (renumber) renumberStructureIds(doc);
  const saved = await doc.save({useObjectStreams: false});
  const names = [...Buffer.from(saved).toString('latin1').matchAll(/\/ID \((node\d+)\)/g)].map((m) => m[1]!);
  return {bytes: saved, names};
}

/** The /ID of every structure element, in the structure tree's (reading) order. */
function structureIds(doc: PDFDocument): string[] {
  const ids: string[] = [];
  const walk = (value: unknown): void => {
    const object = value instanceof PDFRef ? doc.context.lookup(value) : value;
    if (object instanceof PDFArray) for (let i = 0; i < object.size(); i++) walk(object.get(i));
    else if (object instanceof PDFDict) {
      const id = object.get(PDFName.of('ID'));
      if (id instanceof PDFString || id instanceof PDFHexString) ids.push(id.decodeText());
      walk(object.get(PDFName.of('K')));
    }
  };
  walk((doc.catalog.lookup(PDFName.of('StructTreeRoot')) as PDFDict).get(PDFName.of('K')));
  return ids;
}

describe('tagged table cells', () => {
  it('should get the same names however often the page was printed before', async () => {
    const session = await openBrowser({get: () => undefined});
    let first: Uint8Array;
    try {
      first = await session.print(HTML, {timeoutMs: 60_000});
    } finally {
      await session.close();
    }
    // The same print from a renderer whose counter had run on by 1000 nodes and that numbered
    // the first two cells the other way round (every mention of a name: the cells' ids and the
    // header cells they refer to).
    const plain = await (await PDFDocument.load(first, {updateMetadata: false})).save({useObjectStreams: false});
    const numbers = [...new Set([...Buffer.from(plain).toString('latin1').matchAll(/\(node(\d+)\)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
    const swapped = (n: number) => (n === numbers[0] ? numbers[1]! : n === numbers[1] ? numbers[0]! : n);
    const second = new Uint8Array(Buffer.from(Buffer.from(plain).toString('latin1')
      .replace(/\(node(\d+)\)/g, (_, n: string) => `(node${String(swapped(Number(n)) + 1000).padStart(n.length, '0')})`), 'latin1'));
    // Without renaming, the counter makes the two prints differ (what this guards against).
    const raw = [await normalised(first, false), await normalised(second, false)];
    expect(raw[0]!.names.length).toBeGreaterThanOrEqual(2);
    expect(raw[1]!.names).not.toEqual(raw[0]!.names);
    // Renamed in reading order: the same bytes, the cells named 1, 2, 3… as they come.
    const renamed = [await normalised(first, true), await normalised(second, true)];
    expect(Buffer.compare(renamed[0]!.bytes, renamed[1]!.bytes)).toBe(0);
    expect(renamed[0]!.names.every((name) => /^node0000000\d$/.test(name))).toBe(true);
    const doc = await PDFDocument.load(renamed[0]!.bytes, {updateMetadata: false});
    expect(structureIds(doc)).toEqual(structureIds(doc).map((_, i) => `node${String(i + 1).padStart(8, '0')}`));
  }, 120_000);
});
