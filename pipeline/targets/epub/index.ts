/**
 * The EPUB 3 target. epub-gen-memory packages the book (the user's choice); everything it
 * gets wrong is kept away from it: it receives our own OPF/nav/NCX/chapter templates and
 * finished XHTML (so its lossy HTML normaliser and its URL fetcher never run), and the zip it
 * writes is normalised afterwards (fixed order and timestamps) for byte-identical builds.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {Element, Root, ElementContent} from 'hast';
import {h} from 'hastscript';
import {visit} from '../../util/visit.ts';
import {createRequire} from 'node:module';
import type {EPub as EPubClass} from 'epub-gen-memory';
import ejs from 'ejs';
import type {Asset, Book, Doc, PagePlan} from '../../model.ts';
import {scaledBook, type ScaleMemo} from '../../stages/scale.ts';
import {toXhtml, cloneTree, removeByClass, escapeXml} from '../xhtml.ts';
import {halfTitlePage, titlePage, copyrightPage, partPage, docSection, semanticsOf} from '../pages.ts';
import {normaliseEntries, type ZipFunction} from './zip.ts';
import {sizeImage} from '../../stages/media.ts';
import {romanValue} from '../../util/roman.ts';

// epub-gen-memory is CommonJS; require() gives the same class under tsx, vitest and node.
const {EPub} = createRequire(import.meta.url)('epub-gen-memory') as {EPub: typeof EPubClass};

export interface EpubTemplates {
  contentOpf: string;
  nav: string;
  ncx: string;
  chapter: string;
  css: string;
}

interface EpubDoc {
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

interface PageListEntry {
  label: string;
  href: string;
  value: string;
  type: string;
}

/**
 * Remembers each rendered document (the build cache keeps them): by the document itself and by
 * `context`, a hash of what else its XHTML is made from (the language, the print page numbers,
 * the images' names and sizes). Where the ids it links to live is checked on use (`links`).
 */
export interface XhtmlMemo {
  get(doc: Doc, context: string): RenderedDoc | undefined;
  set(doc: Doc, context: string, rendered: RenderedDoc): void;
  /** Told whether each document was taken from the memo (true) or rendered (false). */
  used?(remembered: boolean): void;
}

/** The EPUB templates of a templates folder, with the code-highlighting style. */
export async function readEpubTemplates(templates: string): Promise<EpubTemplates> {
  const read = (name: string) => fs.readFile(path.join(templates, 'epub', name), 'utf8');
  const hljs = await fs.readFile(fileURLToPath(import.meta.resolve('highlight.js/styles/a11y-light.css')), 'utf8');
  return {
    contentOpf: await read('content.opf.ejs'),
    nav: await read('nav.xhtml.ejs'),
    ncx: await read('toc.ncx.ejs'),
    chapter: await read('chapter.xhtml.ejs'),
    css: `${await read('style.css')}\n/* Code highlighting: highlight.js a11y-light (WCAG AA contrast) */\n${hljs}`,
  };
}

/** Widest raster image in the EPUB: enough for tablets, far below print resolution. */
export const EPUB_MAX_IMAGE_WIDTH = 1600;
export const EPUB_MAX_IMAGE_HEIGHT = EPUB_MAX_IMAGE_WIDTH * 1.5;

export async function renderEpub(original: Book, templates: EpubTemplates, options: {sourceDateEpoch: number; pages?: PagePlan; zip?: ZipFunction; scale?: ScaleMemo; xhtml?: XhtmlMemo}): Promise<Uint8Array> {
  const book = await scaledBook(original, EPUB_MAX_IMAGE_WIDTH, EPUB_MAX_IMAGE_HEIGHT, options.scale);
  const {config} = book;
  const lang = config.language;
  const fileOf = (docId: string) => `${docId}.xhtml`;
  const docs: EpubDoc[] = [];
  const idToFile = new Map<string, string>();
  for (const [id, docId] of book.ids) idToFile.set(id, fileOf(docId));

  if (book.cover) {
    docs.push({
      id: 'cover', filename: 'cover.xhtml', title: 'Cover', linear: true,
      tree: {type: 'root', children: [h('section', {'epub:type': 'cover', className: ['cover'], ariaLabel: 'Cover'}, [
        h('img', {src: `images/${book.cover.name}`, alt: config.cover?.alt ?? config.title, className: ['cover-image']}),
      ])]},
    });
  }
  docs.push({id: 'titlepage', filename: 'titlepage.xhtml', title: config.title, tree: {type: 'root', children: [halfTitlePage(book), titlePage(book)]}, bodyType: 'frontmatter'});
  docs.push({id: 'copyright', filename: 'copyright.xhtml', title: 'Copyright', tree: {type: 'root', children: [copyrightPage(book)]}, bodyType: 'frontmatter'});
  for (const id of ['title-page', 'copyright-page']) idToFile.set(id, id === 'title-page' ? 'titlepage.xhtml' : 'copyright.xhtml');

  const startedParts = new Set<number>();
  for (const doc of book.docs) {
    const partIndex = doc.partIndex;
    if (partIndex !== undefined && !startedParts.has(partIndex)) {
      startedParts.add(partIndex);
      const part = book.parts[partIndex]!;
      docs.push({
        id: part.id, filename: `${part.id}.xhtml`, title: `${part.label}: ${part.title}`, bodyType: 'bodymatter',
        tree: {type: 'root', children: [partPage(part, part.image ? `images/${part.image.name}` : undefined)]},
      });
      idToFile.set(part.id, `${part.id}.xhtml`);
      idToFile.set(`${part.id}-title`, `${part.id}.xhtml`);
    }
    docs.push({
      id: doc.id, filename: fileOf(doc.id), title: doc.title, source: doc,
      bodyType: doc.kind === 'front' ? 'frontmatter' : doc.kind === 'chapter' ? 'bodymatter' : 'backmatter',
      tree: {type: 'root', children: []},
      ...(doc.hasMath ? {properties: 'mathml'} : {}),
    });
  }

  // A document remembered with the same context is not rendered again.
  const context = options.xhtml ? contextOf(lang, options.pages, book.assets) : '';
  for (const doc of docs) {
    if (!doc.source) continue;
    const remembered = options.xhtml?.get(doc.source, context);
    const current = remembered?.links.every(([id, file]) => (idToFile.get(id) ?? '') === file);
    options.xhtml?.used?.(!!current);
    if (current) {
      doc.rendered = remembered;
      continue;
    }
    const tree = cloneTree(doc.source.tree);
    removeByClass(tree, 'print-only');
    doc.tree = {type: 'root', children: [docSection(doc.source, tree.children as ElementContent[])]};
  }
  // What rendering each document adds to the package, remembered with its XHTML.
  const fresh = docs.filter((doc) => !doc.rendered);
  const made = new Map(fresh.map((doc) => [doc, {pages: [] as PageListEntry[], images: new Set<string>(), links: new Map<string, string>()}]));

  // Page-break markers for the print page list.
  const pageList: PageListEntry[] = [];
  if (options.pages) {
    const byId = new Map<string, string[]>();
    for (const mark of options.pages.marks) byId.set(mark.id, [...(byId.get(mark.id) ?? []), mark.label]);
    for (const doc of docs) {
      if (doc.rendered) {
        pageList.push(...doc.rendered.pages);
        continue;
      }
      const {pages} = made.get(doc)!;
      visit(doc.tree, 'element', (node: Element, index, parent) => {
        const id = node.properties?.id;
        const labels = typeof id === 'string' ? byId.get(id) : undefined;
        if (!labels || !parent || index === undefined) return;
        const markers = labels.map((label) => h('span', {
          id: `page-${label}`, 'epub:type': 'pagebreak', role: 'doc-pagebreak', ariaLabel: label, className: ['pagebreak'],
        }));
        // A marker before a block, or as the first thing inside a section/header.
        (parent.children as ElementContent[]).splice(index, 0, ...markers);
        for (const label of labels) pages.push({label, href: `${doc.filename}#page-${label}`, value: /^\d+$/.test(label) ? label : String(romanValue(label)), type: /^\d+$/.test(label) ? 'normal' : 'front'});
        byId.delete(id as string);
        return index + markers.length + 1;
      });
      pageList.push(...pages);
    }
  }

  // Page numbers from the print edition, where the text refers to pages.
  for (const doc of fresh) {
    visit(doc.tree, 'element', (node: Element, index, parent) => {
      const classes = Array.isArray(node.properties?.className) ? node.properties.className : [];
      if (classes.includes('pageref') && parent && index !== undefined) {
        const folio = options.pages?.folios?.get(String(node.properties.dataTarget));
        if (!folio) {
          parent.children.splice(index, 1);
          return index;
        }
        const number = node.children.find((c): c is Element => c.type === 'element');
        if (number) number.children = [{type: 'text', value: folio}];
      }
      if (classes.includes('index-ref')) {
        const folio = options.pages?.folios?.get(String(node.properties.href).slice(1));
        if (folio) node.children = [{type: 'text', value: folio}];
      }
      return undefined;
    });
  }

  // Links and images, rewritten for the package's file layout.
  for (const doc of fresh) {
    const {images, links} = made.get(doc)!;
    visit(doc.tree, 'element', (node: Element) => {
      const props = node.properties ?? {};
      if (node.tagName === 'a' && typeof props.href === 'string' && props.href.startsWith('#')) {
        const id = props.href.slice(1);
        const file = idToFile.get(id);
        links.set(id, file ?? '');
        props.href = file && file !== doc.filename ? `${file}#${id}` : `#${id}`;
      }
      if (node.tagName === 'img') {
        const asset = typeof props.dataAsset === 'string' ? book.assets.get(props.dataAsset) : undefined;
        delete props.dataAsset;
        if (asset) {
          props.src = `images/${asset.name}`;
          sizeImage(props, asset);
          images.add(asset.name);
        } else if (typeof props.src === 'string' && props.src.startsWith('images/')) {
          images.add(props.src.slice('images/'.length));
        } else {
          delete props.src;
        }
      }
      for (const key of Object.keys(props)) if (key.startsWith('data') && key !== 'dataDoc') delete props[key];
      delete props.dataDoc;
    });
  }

  const assetsByName = new Map([...book.assets.values()].map((asset) => [asset.name, asset]));
  const images = new Set<string>();
  const documents = docs.map((doc) => {
    if (doc.rendered) {
      for (const name of doc.rendered.images) images.add(name);
      return {doc, xhtml: doc.rendered.xhtml};
    }
    const xhtml = wrapDocument(doc, lang);
    const {pages, images: own, links} = made.get(doc)!;
    for (const name of own) images.add(name);
    if (doc.source) options.xhtml?.set(doc.source, context, {xhtml, pages, images: [...own], links: [...links]});
    return {doc, xhtml};
  });
  const identifier = identifierOf(book);
  const modified = new Date(options.sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
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

/**
 * What a document's XHTML is made from besides the document itself and the files its links
 * point into: the language, the print page numbers (page-break markers, page references) and
 * the images (names and sizes). Hashed, for XhtmlMemo.
 */
function contextOf(lang: string, pages: PagePlan | undefined, assets: Map<string, Asset>): string {
  return createHash('sha256').update(JSON.stringify([
    'epub-doc-1', lang, pages?.marks ?? null, pages?.folios ? [...pages.folios] : null,
    [...assets].map(([key, a]) => [key, a.name, a.width ?? null, a.height ?? null]),
  ])).digest('hex');
}

/** The part of JSZip that epub-gen-memory's `zip` is used through. */
interface JSZipLike {
  file: (name: string, data?: unknown) => unknown;
  remove: (name: string) => void;
  forEach: (callback: (name: string, file: {dir: boolean; async: (type: 'uint8array') => Promise<Uint8Array>}) => void) => void;
}

function wrapDocument(doc: EpubDoc, lang: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="${lang}" xml:lang="${lang}">
<head>
<meta charset="UTF-8"/>
<title>${escapeXml(doc.title)}</title>
<link rel="stylesheet" type="text/css" href="style.css"/>
</head>
<body${doc.bodyType ? ` epub:type="${doc.bodyType}"` : ''}>
${toXhtml(doc.tree)}
</body>
</html>
`;
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

export {semanticsOf};
