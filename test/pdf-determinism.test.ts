/**
 * Chrome's tagged PDF names table cells after a DOM node counter of the renderer process, which
 * runs on across the documents that process laid out before: the same document printed in a
 * renderer that printed something else first gets other names. Each print has a tab of its own,
 * but Chrome may share a renderer between tabs of one site, so the finish renames them by rank.
 * These tests print once, shift the numbers as a used renderer would, and compare.
 */
import {describe, it, expect} from 'vitest';
import {PDFDocument} from 'pdf-lib';
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

describe('tagged table cells', () => {
  it('should get the same names however often the page was printed before', async () => {
    const session = await openBrowser({get: () => undefined});
    let first: Uint8Array;
    try {
      first = await session.print(HTML, {timeoutMs: 60_000});
    } finally {
      await session.close();
    }
    // The same print from a renderer whose counter had run on by 1000 nodes (every mention of a
    // name: the cells' ids and the header cells they refer to).
    const plain = await (await PDFDocument.load(first, {updateMetadata: false})).save({useObjectStreams: false});
    const second = new Uint8Array(Buffer.from(Buffer.from(plain).toString('latin1')
      .replace(/\(node(\d+)\)/g, (_, n: string) => `(node${String(Number(n) + 1000).padStart(n.length, '0')})`), 'latin1'));
    // Without renaming, the counter makes the two prints differ (what this guards against).
    const raw = [await normalised(first, false), await normalised(second, false)];
    expect(raw[0]!.names.length).toBeGreaterThanOrEqual(2);
    expect(raw[1]!.names).not.toEqual(raw[0]!.names);
    // Renamed by rank: the same bytes, and names in the same order as Chrome's.
    const renamed = [await normalised(first, true), await normalised(second, true)];
    expect(Buffer.compare(renamed[0]!.bytes, renamed[1]!.bytes)).toBe(0);
    const rank = (names: string[]) => names.map((name) => [...new Set(names)].sort().indexOf(name));
    expect(renamed[0]!.names.every((name) => /^node0000000\d$/.test(name))).toBe(true);
    expect(rank(renamed[0]!.names)).toEqual(rank(raw[0]!.names));
  }, 120_000);
});
