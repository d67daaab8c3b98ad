/**
 * The EPUB package, written by epub-gen-memory (the user's choice) and kept away from
 * everything it gets wrong: it receives our own OPF/nav/NCX/chapter templates and finished
 * XHTML (so its lossy HTML normaliser and its URL fetcher never run), only images we checked,
 * and the zip it writes is normalised afterwards (fixed order and timestamps) for
 * byte-identical builds. The one module that touches the library.
 */
import {createHash} from 'node:crypto';
import {createRequire} from 'node:module';
import type {EPub as EPubClass} from 'epub-gen-memory';
import ejs from 'ejs';
import type {Root} from 'hast';
import type {Book, Doc} from '../../model.ts';
import {normaliseEntries, type ZipFunction} from './zip.ts';

export interface EpubTemplates {
  contentOpf: string;
  nav: string;
  ncx: string;
  chapter: string;
  css: string;
}

export interface EpubDoc {
  id: string;
  filename: string;
  title: string;
  tree: Root;
  properties?: string;
  linear?: boolean;
  bodyType?: string;
  /** The book's document it is made from (chapters, front and back matter). */
  source?: Doc;
  /** Already rendered (remembered from an earlier build): its tree is not used. */
  rendered?: RenderedDoc;
}

/** One document of the book as the EPUB holds it, with what it adds to the page list and the images. */
export interface RenderedDoc {
  xhtml: string;
  pages: PageListEntry[];
  images: string[];
  /** The ids it links to, and the file each was in ('' = none): links are written with them. */
  links: [string, string][];
}

export interface PageListEntry {
  label: string;
  href: string;
  value: string;
  type: string;
}

// epub-gen-memory is CommonJS; require() gives the same class under tsx, vitest and node.
const {EPub} = createRequire(import.meta.url)('epub-gen-memory') as {EPub: typeof EPubClass};

/** What the package holds: the documents in reading order with their XHTML, the images' names, the page list. */
export interface PackageContents {
  docs: EpubDoc[];
  documents: {doc: EpubDoc; xhtml: string}[];
  images: Set<string>;
  pageList: PageListEntry[];
}

export async function packageEpub(book: Book, templates: EpubTemplates, made: PackageContents, options: {sourceDateEpoch: number; zip?: ZipFunction}): Promise<Uint8Array> {
  const identifier = identifierOf(book);
  const modified = new Date(options.sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const {docs, documents, images, pageList} = made;
  const {config} = book;
  const lang = config.language;
  const assetsByName = new Map([...book.assets.values()].map((asset) => [asset.name, asset]));
  const hasMath = docs.some((d) => d.properties?.includes('mathml'));
  const imageCount = images.size;

  const toc = tocOf(book, docs);
  const firstChapter = docs.find((d) => d.bodyType === 'bodymatter');
  const landmarks = [
    book.cover ? {type: 'cover', href: 'cover.xhtml', label: 'Cover'} : undefined,
    {type: 'titlepage', href: 'titlepage.xhtml', label: 'Title Page'},
    {type: 'toc', href: 'nav.xhtml#toc', label: 'Contents'},
    firstChapter ? {type: 'bodymatter', href: firstChapter.filename, label: 'Start of Content'} : undefined,
    {type: 'copyright-page', href: 'copyright.xhtml', label: 'Copyright'},
    docs.some((d) => d.id === 'back-bibliography') ? {type: 'bibliography', href: 'back-bibliography.xhtml', label: 'Bibliography'} : undefined,
    docs.some((d) => d.id === 'back-glossary') ? {type: 'glossary', href: 'back-glossary.xhtml', label: 'Glossary'} : undefined,
    docs.some((d) => d.id === 'back-index') ? {type: 'index', href: 'back-index.xhtml', label: 'Index'} : undefined,
  ].filter(Boolean);

  const features = ['tableOfContents', 'readingOrder', 'structuralNavigation', 'alternativeText', 'displayTransformability'];
  if (pageList.length > 0) features.push('pageNavigation', 'printPageNumbers');
  if (hasMath) features.push('MathML');
  if (book.docs.some((d) => d.id === 'back-index')) features.push('index');

  const data = {
    identifier,
    title: config.title,
    subtitle: config.subtitle,
    authors: config.authors,
    publisher: config.publisher,
    date: config.date,
    modified,
    language: lang,
    description: config.description,
    subjects: config.subjects,
    rights: config.license.url ? `${config.license.name} (${config.license.short})` : config.license.name,
    licenseUrl: config.license.url,
    printIsbn: config.identifiers.isbn?.replace(/-/g, ''),
    // The page list's source must be named (EPUB Accessibility 1.1, Ace's epub-pagesource): the
    // print edition's ISBN, else the print edition itself, made from the same manuscript.
    printSource: config.identifiers.isbn ? `urn:isbn:${config.identifiers.isbn.replace(/-/g, '')}` : `${config.title}, print edition (PDF)`,
    series: config.series,
    hasPageList: pageList.length > 0,
    accessModes: imageCount > 0 ? ['textual', 'visual'] : ['textual'],
    accessModeSufficient: imageCount > 0 ? ['textual', 'textual,visual'] : ['textual'],
    accessibilityFeatures: features,
    accessibilitySummary:
      'This publication has structured navigation (parts, chapters and sections), alternative text for every image' +
      (hasMath ? ', mathematics in MathML' : '') +
      (pageList.length > 0 ? ', and page numbers from the print edition' : '') +
      '. It does not rely on colour or sound.',
    cover: book.cover ? {id: 'cover-image'} : undefined,
    manifest: [
      ...documents.map(({doc}) => ({id: `doc-${doc.id}`, href: doc.filename, mediaType: 'application/xhtml+xml', properties: doc.properties})),
      ...[...images].sort().map((name) => {
        const asset = assetsByName.get(name)!;
        const isCover = book.cover?.name === name;
        return {id: isCover ? 'cover-image' : `img-${name.replace(/\W/g, '-')}`, href: `images/${name}`, mediaType: asset.mediaType, properties: isCover ? 'cover-image' : undefined};
      }),
    ],
    // The contents follow the copyright page in reading order, as in print.
    spine: documents.flatMap(({doc}) => doc.id === 'copyright' ? [{id: `doc-${doc.id}`}, {id: 'nav'}] : [{id: `doc-${doc.id}`, linear: doc.linear}]),
    toc,
    tocDepth: 3,
    landmarks,
    pageList,
    maxPage: Math.max(0, ...pageList.map((p) => Number(p.value) || 0)),
  };

  const epub = new EPub(
    {
      title: config.title,
      author: config.authors.map((a) => a.name),
      publisher: config.publisher ?? '',
      description: config.description ?? config.title,
      lang,
      date: new Date(options.sourceDateEpoch * 1000).toISOString(),
      css: templates.css,
      contentOPF: ejs.render(templates.contentOpf, {book: data}),
      tocXHTML: ejs.render(templates.nav, {book: data}),
      tocNCX: ejs.render(templates.ncx, {book: data}),
      chapterXHTML: templates.chapter,
      tocInTOC: false,
      prependChapterTitles: false,
      ignoreFailedDownloads: false,
      verbose: false,
      fonts: [],
      version: 3,
    },
    documents.map(({doc, xhtml}) => ({title: doc.title, filename: doc.filename, content: '', document: xhtml})),
  );
  await epub.render();
  // Our templates are already rendered; the library's toc.xhtml name is replaced by nav.xhtml.
  const zip = (epub as unknown as {zip: JSZipLike}).zip;
  zip.remove('OEBPS/toc.xhtml');
  zip.file('OEBPS/nav.xhtml', ejs.render(templates.nav, {book: data}));
  // The library's archive is read entry by entry rather than written out and read back:
  // normaliseEntries writes the EPUB's zip itself (fixed order and timestamps).
  const entries: Record<string, Uint8Array> = {};
  const reads: Promise<void>[] = [];
  zip.forEach((name, file) => {
    if (!file.dir) reads.push(file.async('uint8array').then((bytes) => {
      entries[name] = bytes;
    }));
  });
  await Promise.all(reads);
  for (const name of images) entries[`OEBPS/images/${name}`] = assetsByName.get(name)!.bytes;
  return normaliseEntries(entries, options.sourceDateEpoch, options.zip);
}

/** The part of JSZip that epub-gen-memory's `zip` is used through. */
interface JSZipLike {
  file: (name: string, data?: unknown) => unknown;
  remove: (name: string) => void;
  forEach: (callback: (name: string, file: {dir: boolean; async: (type: 'uint8array') => Promise<Uint8Array>}) => void) => void;
}

interface TocItem {
  label: string;
  href: string;
  children?: TocItem[];
}

function tocOf(book: Book, docs: EpubDoc[]): TocItem[] {
  const items: TocItem[] = [];
  const inEpub = new Set(docs.map((d) => d.id));
  const docItem = (doc: Doc): TocItem => ({
    label: doc.number !== undefined ? `${doc.number}. ${doc.title}` : doc.title,
    href: `${doc.id}.xhtml`,
    children: doc.sections.map((s) => ({label: s.number ? `${s.number} ${s.title}` : s.title, href: `${doc.id}.xhtml#${s.id}`})),
  });
  items.push({label: 'Title Page', href: 'titlepage.xhtml'}, {label: 'Copyright', href: 'copyright.xhtml'});
  const partItems = new Map<number, TocItem>();
  for (const doc of book.docs) {
    if (!inEpub.has(doc.id)) continue;
    const partIndex = doc.partIndex;
    if (partIndex === undefined) {
      items.push({label: doc.title, href: `${doc.id}.xhtml`, ...(doc.sections.length && doc.kind !== 'generated' ? {children: docItem(doc).children} : {})});
      continue;
    }
    let partItem = partItems.get(partIndex);
    if (!partItem) {
      const part = book.parts[partIndex]!;
      partItem = {label: `${part.label}: ${part.title}`, href: `${part.id}.xhtml`, children: []};
      partItems.set(partIndex, partItem);
      items.push(partItem);
    }
    partItem.children!.push(docItem(doc));
  }
  return items;
}

/** `urn:isbn:` for an ebook ISBN, a configured UUID, or a UUID derived from the book's identity. */
export function identifierOf(book: Book): string {
  const {identifiers, title, authors} = book.config;
  if (identifiers.ebookIsbn) return `urn:isbn:${identifiers.ebookIsbn.replace(/-/g, '')}`;
  if (identifiers.uuid) return `urn:uuid:${identifiers.uuid.toLowerCase()}`;
  const hash = createHash('sha1').update(`${title}\n${authors.map((a) => a.name).join('\n')}\n${identifiers.isbn ?? ''}`).digest('hex');
  // RFC 4122 version 5 layout, from a name-based hash rather than a random source.
  const v = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-5${hash.slice(13, 16)}-${((parseInt(hash.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hash.slice(18, 20)}-${hash.slice(20, 32)}`;
  return `urn:uuid:${v}`;
}

