/**
 * The EPUB 3 target: the book's documents as XHTML files of the package (front matter, part
 * pages, chapters), with print page-break markers and page references from the paginate step's
 * plan, links and images rewritten for the package's layout. package.ts writes the package.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {Element, ElementContent} from 'hast';
import {h} from 'hastscript';
import {visit} from '../../util/visit.ts';
import type {Asset, Book, Doc, PagePlan} from '../../model.ts';
import {scaledBook, type ScaleMemo} from '../../stages/scale.ts';
import {cloneTree, removeByClass, xhtmlDocument} from '../xhtml.ts';
import {halfTitlePage, titlePage, copyrightPage, partPage, docSection} from '../pages.ts';
import type {ZipFunction} from './zip.ts';
import {packageEpub, type EpubDoc, type EpubTemplates, type PageListEntry, type RenderedDoc} from './package.ts';

export type {EpubDoc, EpubTemplates, PageListEntry, RenderedDoc} from './package.ts';
import {sizeImage} from '../../stages/media.ts';
import {romanValue} from '../../util/roman.ts';



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
  return packageEpub(book, templates, {docs, documents, images, pageList}, options);
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

function wrapDocument(doc: EpubDoc, lang: string): string {
  return xhtmlDocument({
    lang, title: doc.title, head: '<link rel="stylesheet" type="text/css" href="style.css"/>',
    bodyAttributes: doc.bodyType ? ` epub:type="${doc.bodyType}"` : '', body: doc.tree,
  });
}

export {identifierOf} from './package.ts';
