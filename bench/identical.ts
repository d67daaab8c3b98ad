/**
 * Shows that a change to the pipeline keeps the outputs' bytes: builds the stand-in book, the
 * mdBook fixtures and the generated bench book (no cache, a fixed SOURCE_DATE_EPOCH) and prints
 * the SHA-256 of every output. `--save FILE` records them; `--compare FILE` exits 1 on any change.
 *
 *   npx tsx bench/identical.ts --save /tmp/before.json   # before a refactoring
 *   npx tsx bench/identical.ts --compare /tmp/before.json # after it
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {createHash} from 'node:crypto';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';
import {build} from '../pipeline/build.ts';
import {generateBook} from './generate.ts';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const {values} = parseArgs({options: {
  save: {type: 'string'}, compare: {type: 'string'}, 'skip-bench-book': {type: 'boolean', default: false},
}});

const books: [string, string][] = [
  ['stand-in book', path.join(ROOT, 'manuscript')],
  ['mdBook fixture', path.join(ROOT, 'test/fixtures/mdbook-book')],
  ['mdBook quirks', path.join(ROOT, 'test/fixtures/mdbook-quirks')],
];
if (!values['skip-bench-book']) books.push(['bench book', (await generateBook({log: (line) => console.error(line)})).dir]);

const sums: Record<string, string> = {};
const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'book-identical-'));
try {
  for (const [name, manuscript] of books) {
    const out = path.join(scratch, name.replace(/\W+/g, '-'));
    const start = performance.now();
    const result = await build({manuscript, out, targets: ['epub', 'pdf'], sourceDateEpoch: 1_700_000_000});
    if (result.outputs.length === 0) throw new Error(`${name}: nothing was built`);
    for (const output of result.outputs) {
      const digest = createHash('sha256').update(await fs.readFile(output.path)).digest('hex');
      sums[`${name}: ${path.basename(output.path)}`] = digest;
    }
    console.error(`${name}: ${result.outputs.length} outputs in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
} finally {
  await fs.rm(scratch, {recursive: true, force: true});
}
for (const [key, digest] of Object.entries(sums)) console.log(`${digest.slice(0, 16)}  ${key}`);
if (values.save) await fs.writeFile(values.save, `${JSON.stringify(sums, null, 2)}\n`);
if (values.compare) {
  const before = JSON.parse(await fs.readFile(values.compare, 'utf8')) as Record<string, string>;
  const changed = [...new Set([...Object.keys(before), ...Object.keys(sums)])].filter((key) => before[key] !== sums[key]);
  for (const key of changed) console.log(`CHANGED ${key}: ${before[key]?.slice(0, 16) ?? 'absent'} → ${sums[key]?.slice(0, 16) ?? 'absent'}`);
  console.log(changed.length === 0 ? 'identical: every output has the same bytes' : `${changed.length} outputs differ`);
  process.exitCode = changed.length === 0 ? 0 : 1;
}
