/**
 * The build cache must never change a book: after each kind of edit (a chapter, a template,
 * book.yaml) an incremental build gives the same bytes as a clean build without the cache.
 */
import {describe, it, expect, beforeAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {zipSync, unzipSync, type Zippable} from 'fflate';
import {reporter} from 'vfile-reporter';
import {build, TEMPLATES, readEpubTemplates, type BuildResult} from '../pipeline/build.ts';
import {renderEpub, type RenderedDoc, type XhtmlMemo} from '../pipeline/targets/epub/index.ts';
import type {Book} from '../pipeline/model.ts';
import {BuildCache, bookDigest} from '../pipeline/cache/index.ts';
import {CacheStore} from '../pipeline/cache/store.ts';
import {memoZip, crc32} from '../pipeline/cache/zip.ts';
import {digestValue} from '../pipeline/cache/digest.ts';
import {serialiseParsed, deserialiseParsed, parseDocsCached, docKey} from '../pipeline/cache/docs.ts';
import {parseDoc, type DocInput} from '../pipeline/stages/markdown.ts';
import {loadBook} from '../pipeline/stages/load.ts';
import {renderPdf} from '../pipeline/targets/pdf/index.ts';
import {FIXTURES, tempDir} from './helpers.ts';

const EPOCH = 1_700_000_000;
const MINI = path.join(FIXTURES, 'mini');

const CHAPTER: DocInput = {
  id: 'ch01', kind: 'chapter', path: 'chapters/01-x.md', number: 1, partIndex: 0,
  text: [
    '# A Chapter', '', 'Text with a figure and a problem.', '',
    '![A caption.](../img/x.svg){#fig-x fig-alt="A drawing."}', '',
    '<span onclick="alert(1)">unsafe</span>', '',
    '## A Section {#sec-a}', '', 'See @fig-x and $x^2$.', '',
    '![](missing-alt.png)', '',
  ].join('\n'),
};

describe('cached parse results', () => {
  it('should read back a parsed chapter with the same tree, labels, messages and image references', () => {
    const fresh = parseDoc(CHAPTER);
    const back = deserialiseParsed(serialiseParsed(parseDoc(CHAPTER)), CHAPTER)!;
    expect(back.doc.tree).toEqual(fresh.doc.tree);
    expect(back.labels).toEqual(fresh.labels);
    expect([...back.doc.fragments]).toEqual([...fresh.doc.fragments]);
    expect(Object.keys(back.doc)).toEqual(Object.keys(fresh.doc));
    expect(fresh.file.messages.length).toBeGreaterThan(0);
    expect(reporter([back.file])).toBe(reporter([fresh.file]));
    // The image references still point into the tree (resolution and assets rely on it).
    expect(back.images.length).toBe(fresh.images.length);
    expect(back.images.length).toBeGreaterThan(0);
    const nodes = new Set<unknown>();
    const walk = (node: unknown): void => {
      nodes.add(node);
      for (const child of (node as {children?: unknown[]}).children ?? []) walk(child);
    };
    walk(back.doc.tree);
    for (const image of back.images) expect(nodes.has(image.node)).toBe(true);
  });

  it('should key a parse on every field of its input', () => {
    const key = docKey('p', CHAPTER);
    expect(docKey('p', {...CHAPTER})).toBe(key);
    expect(docKey('q', CHAPTER)).not.toBe(key);
    expect(docKey('p', {...CHAPTER, text: `${CHAPTER.text} `})).not.toBe(key);
    expect(docKey('p', {...CHAPTER, number: 2})).not.toBe(key);
    expect(docKey('p', {...CHAPTER, displayPath: 'elsewhere/01-x.md'})).not.toBe(key);
  });

  it('should serve unchanged documents from the store and parse the rest, in order', async () => {
    const store = new CacheStore(tempDir('book-cache-'));
    const inputs = [CHAPTER, {...CHAPTER, id: 'ch02', number: 2, path: 'chapters/02-y.md'}];
    const first = {hits: 0, misses: 0};
    await parseDocsCached(inputs, {pipeline: 'p', store, stats: first});
    expect(first).toMatchObject({hits: 0, misses: 2});
    const second = {hits: 0, misses: 0};
    const edited = [inputs[0]!, {...inputs[1]!, text: `${inputs[1]!.text}\nMore.\n`}];
    const parsed = await parseDocsCached(edited, {pipeline: 'p', store, stats: second});
    expect(second).toMatchObject({hits: 1, misses: 1});
    expect(parsed.map((p) => p.doc.id)).toEqual(['ch01', 'ch02']);
    expect(parsed[1]!.doc.tree).toEqual(parseDoc(edited[1]!).doc.tree);
  });
});

describe('the store', () => {
  it('should treat a damaged entry as missing', () => {
    const dir = tempDir('book-store-');
    const store = new CacheStore(dir);
    const key = 'ab'.repeat(32);
    store.write('docs', key, 'some bytes');
    expect(store.read('docs', key)?.toString()).toBe('some bytes');
    const file = path.join(dir, 'docs', 'ab', key);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(file, bytes);
    expect(store.read('docs', key)).toBeUndefined();
  });
});

describe('the zip of the EPUB', () => {
  it('should be byte for byte what zipSync writes, with compressed entries reused', () => {
    const mtime = new Date(Date.UTC(2024, 0, 2, 3, 4, 6));
    const text = (n: number) => new TextEncoder().encode(`<p>chapter ${n}</p>\n`.repeat(200 + n));
    const entries: Zippable = {
      mimetype: [new TextEncoder().encode('application/epub+zip'), {level: 0, mtime}],
      'META-INF/container.xml': [text(1), {level: 9, mtime}],
      'OEBPS/ch01.xhtml': [text(2), {level: 9, mtime}],
      'OEBPS/images/ä.bin': [crypto.getRandomValues(new Uint8Array(5000)), {level: 9, mtime}],
      'OEBPS/empty.txt': [new Uint8Array(0), {level: 9, mtime}],
    };
    const store = new CacheStore(tempDir('book-zip-'));
    const expected = zipSync(entries, {mtime});
    expect(Buffer.from(memoZip(store)(entries, {mtime})).equals(Buffer.from(expected))).toBe(true);
    // A second process: compressed entries come from the store.
    const reads = store.stats.hits;
    expect(Buffer.from(memoZip(store)(entries, {mtime})).equals(Buffer.from(expected))).toBe(true);
    expect(store.stats.hits).toBeGreaterThan(reads);
    expect(Object.keys(unzipSync(expected))).toContain('OEBPS/images/ä.bin');
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('the digest of a book', () => {
  it('should not depend on whether the trees were parsed now or read from the cache, and should see any change', async () => {
    const cache = new BuildCache({dir: tempDir('book-digest-'), templates: TEMPLATES});
    const fresh = (await loadBook(MINI)).book!;
    const warm1 = (await loadBook(MINI, cache.loadOptions())).book!;
    const warm2 = (await loadBook(MINI, cache.loadOptions())).book!;
    expect(cache.report.docs.hits).toBeGreaterThan(0);
    expect(bookDigest(warm1)).toBe(bookDigest(fresh));
    expect(bookDigest(warm2)).toBe(bookDigest(fresh));
    const changed = (await loadBook(MINI)).book!;
    const node = changed.docs[1]!.tree.children.find((n) => n.type === 'element')!;
    (node as {properties: Record<string, unknown>}).properties.dataX = 'y';
    expect(bookDigest(changed)).not.toBe(bookDigest(fresh));
    expect(digestValue({a: [1, '2']})).not.toBe(digestValue({a: ['1', 2]}));
    expect(digestValue({a: undefined})).not.toBe(digestValue({}));
    expect(digestValue(new Map([['a', 1]]))).not.toBe(digestValue({a: 1}));
  });

  it('should leave out where the nodes were written, which no output shows', async () => {
    const fresh = (await loadBook(MINI)).book!;
    const moved = (await loadBook(MINI)).book!;
    const node = moved.docs[1]!.tree.children.find((n) => n.type === 'element')!;
    expect(node.position).toBeDefined();
    node.position = {start: {line: 99, column: 1, offset: 9999}, end: {line: 99, column: 9, offset: 10007}};
    expect(bookDigest(moved)).toBe(bookDigest(fresh));
    expect(digestValue({position: 1, a: 2}, {skipKeys: new Set(['position'])})).toBe(digestValue({a: 2}));
    expect(digestValue({position: 1, a: 2})).not.toBe(digestValue({a: 2}));
  });

  it('should be the same before and after printing (the PDF target does not change the book the EPUB is made from)', async () => {
    const book = (await loadBook(MINI)).book!;
    const before = digestValue({...book, docs: book.docs});
    await renderPdf(book, {templates: TEMPLATES, sourceDateEpoch: EPOCH});
    expect(digestValue({...book, docs: book.docs})).toBe(before);
  });
});

describe('incremental builds', () => {
  let work: string;
  let manuscript: string;
  let templates: string;
  let cacheDir: string;
  let run = 0;

  const incremental = async () => {
    const out = path.join(work, `inc-${++run}`);
    const result = await build({
      manuscript, out, targets: ['epub', 'pdf'], sourceDateEpoch: EPOCH, templates,
      cache: new BuildCache({dir: cacheDir, templates}),
    });
    expect(result.ok, reporter(result.files)).toBe(true);
    return {result, out};
  };
  const clean = async () => {
    const out = path.join(work, `clean-${++run}`);
    const result = await build({manuscript, out, targets: ['epub', 'pdf'], sourceDateEpoch: EPOCH, templates});
    expect(result.ok, reporter(result.files)).toBe(true);
    return {result, out};
  };
  const same = (a: {result: BuildResult}, b: {result: BuildResult}) => {
    expect(a.result.outputs.length).toBe(2);
    for (const [i, output] of a.result.outputs.entries()) {
      const other = b.result.outputs[i]!;
      expect(path.basename(output.path)).toBe(path.basename(other.path));
      const x = fs.readFileSync(output.path);
      const y = fs.readFileSync(other.path);
      expect(x.equals(y), `${path.basename(output.path)} differs from the clean build`).toBe(true);
    }
  };
  const edit = (file: string, change: (text: string) => string) => {
    const text = fs.readFileSync(file, 'utf8');
    const changed = change(text);
    expect(changed).not.toBe(text);
    fs.writeFileSync(file, changed);
  };

  beforeAll(() => {
    work = tempDir('book-incremental-');
    manuscript = path.join(work, 'manuscript');
    templates = path.join(work, 'templates');
    cacheDir = path.join(work, '.cache');
    fs.cpSync(MINI, manuscript, {recursive: true});
    fs.cpSync(TEMPLATES, templates, {recursive: true});
  });

  it('should build the same bytes with an empty cache as without one, and reuse everything when nothing changed', async () => {
    const cold = await incremental();
    expect(cold.result.cache).toMatchObject({docs: {hits: 0}, epub: 'miss', pdf: 'miss'});
    same(cold, await clean());
    const again = await incremental();
    expect(again.result.cache?.docs.misses).toBe(0);
    expect(again.result.cache).toMatchObject({epub: 'hit', pdf: 'hit'});
    expect(again.result.outputs.every((o) => o.cached)).toBe(true);
    same(again, cold);
    // The PDF from the cache, the EPUB made again with the PDF's page numbers read back from it.
    fs.rmSync(path.join(cacheDir, 'epub'), {recursive: true});
    const epubOnly = await incremental();
    expect(epubOnly.result.cache).toMatchObject({epub: 'miss', pdf: 'hit'});
    same(epubOnly, cold);
  });

  it('should parse only the edited chapter and build the same bytes as a clean build', async () => {
    edit(path.join(manuscript, 'chapters', '02-beta.md'), (text) => `${text}\n\nA new paragraph in the second chapter, with a reference to @sec-gamma-two.\n`);
    const inc = await incremental();
    expect(inc.result.cache?.docs).toMatchObject({misses: 1});
    expect(inc.result.cache).toMatchObject({epub: 'miss', pdf: 'miss'});
    same(inc, await clean());
  });

  it('should rebuild after a template edit and build the same bytes as a clean build', async () => {
    edit(path.join(templates, 'epub', 'style.css'), (text) => `${text}\nh2 { letter-spacing: 0.01em; }\n`);
    const epubOnly = await incremental();
    same(epubOnly, await clean());
    edit(path.join(templates, 'pdf', 'print.css'), (text) => `${text}\nh2 { letter-spacing: 0.02em; }\n`);
    const inc = await incremental();
    expect(inc.result.cache).toMatchObject({pdf: 'miss'});
    same(inc, await clean());
  });

  it('should rebuild after a book.yaml edit and build the same bytes as a clean build', async () => {
    edit(path.join(manuscript, 'book.yaml'), (text) => text.replace(/^title: (.*)$/m, 'title: $1, Revised'));
    const inc = await incremental();
    expect(inc.result.cache).toMatchObject({epub: 'miss', pdf: 'miss'});
    same(inc, await clean());
  });

  it('should rebuild after an image edit and build the same bytes as a clean build', async () => {
    const svg = fs.readdirSync(path.join(manuscript, 'img')).find((name) => name.endsWith('.svg'))!;
    edit(path.join(manuscript, 'img', svg), (text) => text.replace('</svg>', '<rect x="1" y="1" width="2" height="2"/></svg>'));
    const inc = await incremental();
    expect(inc.result.cache?.docs.misses).toBe(0);
    expect(inc.result.cache).toMatchObject({epub: 'miss', pdf: 'miss'});
    same(inc, await clean());
  });

  it('should format a remembered citation again when a citation in another chapter makes it ambiguous', async () => {
    // A second work by the same authors in the same year: once both are cited, APA tells them
    // apart ("2015a", "2015b") in every chapter, including the unchanged one.
    edit(path.join(manuscript, 'refs.bib'), (text) => `${text}\n@article{sculley2015other,\n  author = {Sculley, D. and Holt, Gary and Golovin, Daniel},\n  title = {Machine Learning: The High Interest Credit Card of Technical Debt},\n  journal = {SE4ML Workshop},\n  year = {2015}\n}\n`);
    same(await incremental(), await clean());
    edit(path.join(manuscript, 'chapters', '03-gamma.md'), (text) => `${text}\n\nA related warning came a year earlier [@sculley2015other].\n`);
    const inc = await incremental();
    expect(inc.result.cache?.docs).toMatchObject({misses: 1});
    same(inc, await clean());
    const epub = unzipSync(fs.readFileSync(inc.result.outputs.find((o) => o.path.endsWith('.epub'))!.path));
    const chapter = Object.entries(epub).find(([name, bytes]) => name.endsWith('.xhtml') && Buffer.from(bytes).toString('utf8').includes('ref-sculley2015hidden" class="cite-link"'));
    expect(chapter, 'a chapter citing sculley2015hidden').toBeDefined();
    expect(Buffer.from(chapter![1]).toString('utf8')).toMatch(/Sculley et al\., 2015a|Sculley et al\. \(2015a\)/);
  });
});

describe('EPUB documents remembered', () => {
  const epubOnly = async (manuscript: string, cacheDir?: string) => {
    const out = tempDir('book-xhtml-');
    const result = await build({
      manuscript, out, targets: ['epub'], sourceDateEpoch: EPOCH,
      ...(cacheDir ? {cache: new BuildCache({dir: cacheDir, templates: TEMPLATES})} : {}),
    });
    expect(result.ok, reporter(result.files)).toBe(true);
    return {result, bytes: fs.readFileSync(result.outputs[0]!.path)};
  };

  it('should render again only the edited chapter, and give the bytes of a clean build', async () => {
    const work = tempDir('book-xhtml-');
    const manuscript = path.join(work, 'manuscript');
    const cacheDir = path.join(work, '.cache');
    fs.cpSync(MINI, manuscript, {recursive: true});
    const first = await epubOnly(manuscript, cacheDir);
    expect(first.result.cache?.xhtml).toMatchObject({hits: 0});
    const documents = first.result.cache!.xhtml.misses;
    expect(documents).toBe(first.result.book!.docs.length);
    // A paragraph added: a new id in the book, which changes no link of the other documents.
    const file = path.join(manuscript, 'chapters', '02-beta.md');
    fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\n\nOne more paragraph for the second chapter.\n`);
    const edited = await epubOnly(manuscript, cacheDir);
    expect(edited.result.cache?.epub).toBe('miss');
    expect(edited.result.cache?.xhtml).toEqual({hits: documents - 1, misses: 1});
    expect(Buffer.compare(edited.bytes, (await epubOnly(manuscript)).bytes)).toBe(0);
    expect(edited.bytes.toString('latin1')).not.toBe(first.bytes.toString('latin1'));
  });

  it('should render a remembered document again when an id it links to is now in another file', async () => {
    const {book} = await loadBook(MINI);
    const templates = await readEpubTemplates();
    const remembered = new Map<string, RenderedDoc>();
    let hits = 0;
    const memo: XhtmlMemo = {
      get: (doc, context) => remembered.get(`${doc.id} ${context}`),
      set: (doc, context, rendered) => remembered.set(`${doc.id} ${context}`, rendered),
      used: (hit) => {
        if (hit) hits++;
      },
    };
    const files = (bytes: Uint8Array) => unzipSync(bytes);
    const text = (bytes: Uint8Array, name: string) => Buffer.from(files(bytes)[`OEBPS/${name}`]!).toString('utf8');
    await renderEpub(book!, templates, {sourceDateEpoch: EPOCH, xhtml: memo});
    expect(remembered.size).toBe(book!.docs.length);
    // The same book: every document from the memo, the same bytes.
    const again = await renderEpub(book!, templates, {sourceDateEpoch: EPOCH, xhtml: memo});
    expect(hits).toBe(book!.docs.length);
    expect(Buffer.compare(again, await renderEpub(book!, templates, {sourceDateEpoch: EPOCH}))).toBe(0);
    // A section now lives in another document (as if moved there) while the linking chapter is unchanged.
    const linking = book!.docs.find((doc) => JSON.stringify(doc.tree).includes('"#sec-gamma-two"'))!;
    expect(linking).toBeDefined();
    const elsewhere = book!.docs.find((doc) => doc.id !== linking.id && doc.id !== book!.ids.get('sec-gamma-two'))!;
    const moved: Book = {...book!, ids: new Map([...book!.ids, ['sec-gamma-two', elsewhere.id]])};
    hits = 0;
    const withMemo = await renderEpub(moved, templates, {sourceDateEpoch: EPOCH, xhtml: memo});
    expect(hits).toBe(book!.docs.length - 1);
    expect(text(withMemo, `${linking.id}.xhtml`)).toContain(`href="${elsewhere.id}.xhtml#sec-gamma-two"`);
    expect(Buffer.compare(withMemo, await renderEpub(moved, templates, {sourceDateEpoch: EPOCH}))).toBe(0);
  });
});
