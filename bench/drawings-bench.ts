/**
 * Drawings with embedded bitmaps at book scale (issue 20): a book of diagram-tool exports
 * (pipeline/bench/drawings.ts) built into an EPUB and a PDF, in this process, cold (no cache).
 * Prints the input SVGs' size, each output's size and the stage times.
 *
 *   npm run bench:drawings -- [--flywheels 12] [--icons 59] [--pixels 256]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';
import {writeDrawingsBook} from './drawings.ts';
import {build} from '../pipeline/build.ts';
import {unzipSync} from 'fflate';

const {values} = parseArgs({options: {flywheels: {type: 'string', default: '12'}, icons: {type: 'string', default: '59'}, pixels: {type: 'string', default: '256'}}});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'book-bench-drawings-'));
try {
  const root = await writeDrawingsBook(dir, {flywheels: Number(values.flywheels), icons: Number(values.icons), iconPixels: Number(values.pixels)});
  const img = path.join(root, 'src', 'img');
  const inputs = fs.readdirSync(img).map((f) => fs.statSync(path.join(img, f)).size);
  const embedded = fs.readdirSync(img).reduce((n, f) => n + (fs.readFileSync(path.join(img, f), 'utf8').match(/data:image\//g)?.length ?? 0), 0);
  const started = performance.now();
  const result = await build({manuscript: root, out: path.join(dir, 'dist'), targets: ['epub', 'pdf'], sourceDateEpoch: 1_700_000_000});
  const wall = performance.now() - started;
  if (!result.ok) throw new Error(`the drawings book did not build: ${result.files.flatMap((f) => f.messages.map((m) => m.reason)).join('; ')}`);
  const MB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const epub = result.outputs.find((o) => o.path.endsWith('.epub'))!;
  const pdf = result.outputs.find((o) => o.path.endsWith('.pdf'))!;
  const epubSvgs = Object.entries(unzipSync(fs.readFileSync(epub.path))).filter(([name]) => name.endsWith('.svg')).reduce((n, [, b]) => n + b.byteLength, 0);
  const lines = [
    `drawings: ${inputs.length} SVGs, ${embedded} embedded bitmaps, ${MB(inputs.reduce((a, b) => a + b, 0))} in all (largest ${MB(Math.max(...inputs))})`,
    `EPUB: ${MB(epub.bytes)} (its SVGs ${MB(epubSvgs)} before zip compression)`,
    `PDF: ${MB(pdf.bytes)}, ${pdf.pages} pages`,
    `build: ${(wall / 1000).toFixed(1)} s (${Object.entries(result.timings).map(([stage, ms]) => `${stage} ${(ms / 1000).toFixed(1)} s`).join(', ')})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  fs.rmSync(dir, {recursive: true, force: true});
}
