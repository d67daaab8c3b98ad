/**
 * The build cache: what build() and the preview reuse between runs.
 *
 *  - each document's parse, keyed by its input and the pipeline (docs.ts);
 *  - formatted citations, keyed by the bibliography sources, the style and the pipeline;
 *  - what is learnt from an image's bytes (size, an SVG's problems), and images scaled for
 *    the EPUB, keyed by the bytes (and the size asked for) and the pipeline;
 *  - each document's EPUB XHTML, keyed by the resolved document and what else it is rendered
 *    with (where ids live, print page numbers, images);
 *  - the compressed entries of the EPUB, keyed by their bytes (zip.ts);
 *  - the EPUB and the PDF themselves, keyed by everything they are made from: the whole
 *    resolved book (every tree, label, asset's bytes, the configuration), the dates, the
 *    pipeline, and for the PDF the Chrome binary and the installed fonts.
 *
 * Book-wide resolution is not cached: it is cheap once citations are memoised, and it is
 * where one chapter's edit reaches the others (numbers, cross-references, the index).
 * Keys are hashes of the inputs themselves, never of file times, so a stale entry cannot be
 * found: an edit changes the key. `--no-cache` builds without reading or writing any of it.
 */
import fs from 'node:fs';
import path from 'node:path';
import {createHash} from 'node:crypto';
import type {Book, Doc, PagePlan} from '../model.ts';
import type {AssembleHooks} from '../stages/assemble.ts';
import type {PdfResult} from '../targets/pdf/index.ts';
import {CacheStore, DEFAULT_CACHE_DIR, DEFAULT_MAX_BYTES} from './store.ts';
import {hashOf, pipelineDigest} from './hash.ts';
import {parseDocsCached, docKey, type ParseStats} from './docs.ts';
import {memoZip, type ZipFunction} from './zip.ts';
import {digestValue} from './digest.ts';
import {walkFiles} from '../io/walk.ts';
import type {ScaleMemo} from '../stages/scale.ts';
import type {XhtmlMemo, RenderedDoc} from '../targets/epub/index.ts';

export {DEFAULT_CACHE_DIR} from './store.ts';

export interface BuildCacheOptions {
  /** Folder of the cache; default `.cache/book` in the working folder. */
  dir?: string;
  /** Templates folder of the build (part of every key). */
  templates: string;
  /** Keep parse results in memory too (the preview, which rebuilds in one process). */
  memory?: boolean;
  /** Where to say that the cache cannot be used (once). */
  warn?: (message: string) => void;
  /** Size limit of the folder; least recently used entries are removed after a build. */
  maxBytes?: number;
}

export interface CacheReport {
  dir: string;
  docs: ParseStats;
  /** EPUB documents whose XHTML was remembered / rendered (when the EPUB itself was not). */
  xhtml: {hits: number; misses: number};
  epub?: 'hit' | 'miss';
  pdf?: 'hit' | 'miss';
}

const bookDigests = new WeakMap<Book, string>();
const docDigests = new WeakMap<Doc, string>();

export class BuildCache {
  readonly store: CacheStore;
  readonly templates: string;
  private readonly memory: Map<string, Buffer> | undefined;
  private readonly maxBytes: number;
  private readonly citationMemos: {key: string; memo: Map<string, string>; size: number}[] = [];
  private readonly zipFunction: ZipFunction;
  private readonly imageFacts = new Map<string, unknown>();
  private readonly scaled = new Map<string, Buffer>();
  /** Counters of the current build; reset by begin(). */
  report: CacheReport;

  constructor(options: BuildCacheOptions) {
    this.store = new CacheStore(options.dir ?? DEFAULT_CACHE_DIR, options.warn ? {warn: options.warn} : {});
    this.templates = options.templates;
    this.memory = options.memory ? new Map() : undefined;
    this.maxBytes = options.maxBytes ?? (Number(process.env.BOOK_CACHE_MAX_MB ?? 0) * 1024 * 1024 || DEFAULT_MAX_BYTES);
    this.zipFunction = memoZip(this.store);
    this.report = this.freshReport();
  }

  private freshReport(): CacheReport {
    return {dir: this.store.dir, docs: {hits: 0, misses: 0}, xhtml: {hits: 0, misses: 0}};
  }

  private pipelineKey: string | undefined;

  /** Identity of the pipeline and the templates, as of the start of the current build. */
  get pipeline(): string {
    this.pipelineKey ??= pipelineDigest(this.templates);
    return this.pipelineKey;
  }

  /** Starts a new build: fresh counters, templates read again. */
  begin(): void {
    this.report = this.freshReport();
    this.pipelineKey = undefined;
  }

  /** Hooks for loadBook. */
  loadOptions(): AssembleHooks {
    return {
      parseDocs: async (inputs) => {
        const parsed = await parseDocsCached(inputs, {
          pipeline: this.pipeline, store: this.store, stats: this.report.docs,
          ...(this.memory ? {memory: this.memory} : {}),
        });
        if (this.memory) {
          // The preview keeps the parses of the current book only.
          const current = new Set(inputs.map((input) => docKey(this.pipeline, input)));
          for (const key of this.memory.keys()) if (!current.has(key)) this.memory.delete(key);
        }
        return parsed;
      },
      imageMemo: async <T>(kind: string, sha256: string, compute: () => Promise<T>): Promise<T> => {
        const key = hashOf('image-1', kind, this.pipeline, sha256);
        if (this.imageFacts.has(key)) return this.imageFacts.get(key) as T;
        const stored = this.store.read('image', key);
        if (stored) {
          try {
            const value = (JSON.parse(stored.toString('utf8')) as {value: T}).value;
            this.imageFacts.set(key, value);
            return value;
          } catch {}
        }
        const value = await compute();
        this.imageFacts.set(key, value);
        this.store.write('image', key, JSON.stringify({value}));
        return value;
      },
      citationMemo: (sources, style) => {
        const key = hashOf('citations-1', this.pipeline, style, ...sources.map((s) => s.text));
        const known = this.citationMemos.find((m) => m.key === key);
        if (known) return known.memo;
        const memo = new Map<string, string>();
        const stored = this.store.read('citations', key);
        if (stored) {
          try {
            for (const [k, v] of JSON.parse(stored.toString('utf8')) as [string, string][]) memo.set(k, v);
          } catch {}
        }
        this.citationMemos.push({key, memo, size: memo.size});
        if (this.citationMemos.length > 4) this.citationMemos.shift();
        return memo;
      },
    };
  }

  /** Scaled images by input bytes and size (scaling is deterministic: libvips, fixed settings). */
  readonly scale: ScaleMemo = async (asset, maxWidth, maxHeight, scale) => {
    const key = hashOf('scale-1', this.pipeline, createHash('sha256').update(asset.bytes).digest('hex'), asset.mediaType, asset.name, maxWidth, maxHeight);
    const known = this.scaled.get(key);
    const stored = known ?? this.store.read('scaled', key);
    if (stored && stored.length > 4) {
      const metaLength = stored.readUInt32LE(0);
      try {
        const meta = JSON.parse(stored.subarray(4, 4 + metaLength).toString('utf8')) as {width: number; height: number; name: string};
        this.scaled.set(key, stored);
        // Built as scaleAsset builds it.
        return {...asset, bytes: new Uint8Array(stored.buffer, stored.byteOffset + 4 + metaLength, stored.length - 4 - metaLength), width: meta.width, height: meta.height, name: meta.name};
      } catch {}
    }
    const result = await scale();
    const meta = Buffer.from(JSON.stringify({width: result.width, height: result.height, name: result.name}));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(meta.length, 0);
    const entry = Buffer.concat([head, meta, result.bytes]);
    this.scaled.set(key, entry);
    this.store.write('scaled', key, entry);
    return result;
  };

  /**
   * Each document's EPUB XHTML, by the resolved document (its digest: what resolution made of
   * it, so an edit elsewhere that changes a number or a link in it changes the key) and the
   * context renderEpub gives. After a one-chapter edit only the documents that changed are
   * rendered again.
   */
  readonly xhtml: XhtmlMemo = {
    get: (doc, context) => {
      const key = this.xhtmlKey(doc, context);
      const stored = key ? this.store.read('xhtml', key) : undefined;
      if (!stored) return undefined;
      try {
        return JSON.parse(stored.toString('utf8')) as RenderedDoc;
      } catch {
        return undefined;
      }
    },
    used: (rendered) => {
      this.report.xhtml[rendered ? 'hits' : 'misses']++;
    },
    set: (doc, context, rendered) => {
      const key = this.xhtmlKey(doc, context);
      if (key) this.store.write('xhtml', key, Buffer.from(JSON.stringify(rendered), 'utf8'));
    },
  };

  private xhtmlKey(doc: Doc, context: string): string | undefined {
    const digest = docDigest(doc);
    return digest && hashOf('xhtml-1', this.pipeline, digest, context);
  }

  /** zipSync that reuses compressed EPUB entries. */
  get zip(): ZipFunction {
    return this.zipFunction;
  }

  /** The EPUB bytes: the previous build's when nothing it is made from changed. */
  async epub(book: Book, parts: {sourceDateEpoch: number; pages?: unknown}, render: () => Promise<Uint8Array>): Promise<{bytes: Uint8Array; cached: boolean}> {
    const digest = bookDigest(book);
    const key = digest && hashOf('epub-1', this.pipeline, parts.sourceDateEpoch, digest, digestValue(parts.pages ?? null));
    const stored = key ? this.store.read('epub', key) : undefined;
    if (stored) {
      this.report.epub = 'hit';
      return {bytes: new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength), cached: true};
    }
    this.report.epub = 'miss';
    const bytes = await render();
    if (key) this.store.write('epub', key, bytes);
    return {bytes, cached: false};
  }

  /** The PDF and its page plan from an earlier build, when nothing it is made from changed. */
  async pdfLookup(book: Book, sourceDateEpoch: number): Promise<PdfResult | undefined> {
    const key = await this.pdfKey(book, sourceDateEpoch);
    const meta = key ? this.store.read('pdf-meta', key) : undefined;
    const bytes = meta && key ? this.store.read('pdf', key) : undefined;
    this.report.pdf = 'miss';
    if (!meta || !bytes) return undefined;
    try {
      const saved = JSON.parse(meta.toString('utf8')) as {pageCount: number; marks: PagePlan['marks']; folios: [string, string][]; refused: string[]; mismatches: string[]; size: number};
      if (saved.size !== bytes.length) return undefined;
      this.report.pdf = 'hit';
      return {
        bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), pageCount: saved.pageCount,
        pages: {marks: saved.marks, folios: new Map(saved.folios)}, replanned: false, timings: {}, refused: saved.refused, mismatches: saved.mismatches,
      };
    } catch {
      return undefined;
    }
  }

  /** Keeps a PDF just printed for the next build (`pdfLookup`). */
  async pdfStore(book: Book, sourceDateEpoch: number, result: PdfResult): Promise<void> {
    const key = await this.pdfKey(book, sourceDateEpoch);
    if (!key) return;
    this.store.write('pdf', key, result.bytes);
    this.store.write('pdf-meta', key, JSON.stringify({
      pageCount: result.pageCount, marks: result.pages.marks, folios: [...result.pages.folios], refused: result.refused,
      mismatches: result.mismatches, size: result.bytes.length,
    }));
  }

  private async pdfKey(book: Book, sourceDateEpoch: number): Promise<string | undefined> {
    const digest = bookDigest(book);
    return digest ? hashOf('pdf-2', this.pipeline, sourceDateEpoch, digest, await printEnvironment()) : undefined;
  }

  /** Saves what grew during the build and keeps the folder under its size limit. */
  finish(): void {
    for (const entry of this.citationMemos) {
      if (entry.memo.size !== entry.size) {
        this.store.write('citations', entry.key, JSON.stringify([...entry.memo]));
        entry.size = entry.memo.size;
      }
    }
    // Pruning walks the folder: after builds that wrote something, at most once a minute.
    if (this.store.stats.writes > this.writesAtPrune && performance.now() - this.prunedAt > 60_000) {
      this.store.prune(this.maxBytes);
      this.prunedAt = performance.now();
      this.writesAtPrune = this.store.stats.writes;
    }
  }

  private prunedAt = -Infinity;
  private writesAtPrune = 0;
}

/**
 * Hash of the whole resolved book as the targets see it: every field of every document (trees,
 * numbers, fragments, sections), parts, labels, ids, index, configuration, and each asset with
 * the hash of its bytes. Undefined when the book holds something that cannot be serialised,
 * and then the outputs are not cached.
 */
export function bookDigest(book: Book): string | undefined {
  return remembered(bookDigests, book, () => {
    const docs = book.docs.map((doc) => docDigest(doc));
    if (docs.includes(undefined)) throw new TypeError('A document cannot be digested');
    return {...book, docs};
  });
}

/** Hash of one resolved document: every field (tree, numbers, fragments, sections) and its file's path. */
export function docDigest(doc: Doc): string | undefined {
  return remembered(docDigests, doc, () => doc);
}

/**
 * Source positions of the trees' nodes (and of labels): only messages use them, and messages are
 * not cached. Leaving them out makes the digest of a book about a third faster.
 */
const NOT_OUTPUT: ReadonlySet<string> = new Set(['position']);

/** digestValue of what `value` gives, once per object; undefined if it cannot be digested. */
function remembered<K extends object>(digests: WeakMap<K, string>, key: K, value: () => unknown): string | undefined {
  const known = digests.get(key);
  if (known) return known;
  let digest: string;
  try {
    digest = digestValue(value(), {skipKeys: NOT_OUTPUT});
  } catch {
    return undefined;
  }
  digests.set(key, digest);
  return digest;
}

let printEnvironmentValue: string | undefined;

/** What the PDF depends on outside the pipeline: the Chrome binary and the system's fonts. */
async function printEnvironment(): Promise<string> {
  if (printEnvironmentValue !== undefined) return printEnvironmentValue;
  const parts: string[] = [];
  try {
    const {findChrome} = await import('../targets/pdf/chrome.ts');
    const chrome = fs.realpathSync(findChrome());
    const stat = fs.statSync(chrome);
    parts.push(`chrome ${chrome} ${stat.size} ${stat.mtimeMs}`);
  } catch {
    parts.push('chrome none');
  }
  const fontDirs = ['/usr/share/fonts', '/usr/local/share/fonts', path.join(process.env.HOME ?? '/nonexistent', '.fonts'), path.join(process.env.HOME ?? '/nonexistent', '.local/share/fonts'), '/etc/fonts'];
  for (const dir of fontDirs) {
    for (const file of walkFiles(dir, {maxDepth: 6, sorted: true})) parts.push(`${file.path} ${file.stat.size} ${file.stat.mtimeMs}`);
  }
  printEnvironmentValue = hashOf(...parts);
  return printEnvironmentValue;
}

/** Removes the cache folder. */
export async function removeCache(dir = DEFAULT_CACHE_DIR): Promise<void> {
  await fs.promises.rm(dir, {recursive: true, force: true});
}
