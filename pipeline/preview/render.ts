/**
 * The preview's pages: the book as plain HTML pages, one per document, from the same trees the
 * EPUB and the PDF are made from (parsed, sanitised and resolved by the pipeline), with the
 * contents beside them and the problems of the last build on top. The only script is the
 * preview's own live-reload script, loaded from the server (a Content-Security-Policy forbids
 * any other). Pure: book in, HTML out.
 */
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';
import type {Element, ElementContent, Root} from 'hast';
import {h} from 'hastscript';
import {toHtml} from 'hast-util-to-html';
import {visit} from '../util/visit.ts';
import type {Diagnostic} from '../util/messages.ts';
import type {Book, Doc} from '../model.ts';
import {cloneTree, removeByClass} from '../targets/xhtml.ts';
import {halfTitlePage, titlePage, copyrightPage, partPage, docSection, readingOrder} from '../targets/pages.ts';
import {sizeImage} from '../stages/media.ts';

const require = createRequire(import.meta.url);


export interface PageContext {
  diagnostics: Diagnostic[];
  /** Changes with every rebuild; the live-reload script compares it. */
  buildId: number;
  /** What the background builds are doing, shown under the problems. */
  status?: string;
}

/** `ch07` → `/ch07.html`. */
export const pageUrl = (id: string) => `/${id}.html`;

/** Pages in reading order: title page, then parts and documents. */
export function pageOrder(book: Book): {id: string; title: string}[] {
  const pages = [{id: 'index', title: 'Title page'}];
  for (const {part, doc} of readingOrder(book)) {
    pages.push(part ? {id: part.id, title: `${part.label}: ${part.title}`} : {id: doc.id, title: docTitle(doc)});
  }
  return pages;
}

const docTitle = (doc: Doc) => (doc.number !== undefined ? `${doc.number}. ${doc.title}` : doc.title);

/** The HTML of one page, or undefined when the book has no such page. */
export function renderPage(book: Book, id: string, context: PageContext): string | undefined {
  const lang = book.config.language;
  let title: string;
  let body: ElementContent[];
  let problemsFor: string | undefined;
  if (id === 'index') {
    title = book.config.title;
    body = [
      ...(book.cover ? [h('img', {src: `/assets/${book.cover.name}`, alt: book.config.cover?.alt ?? book.config.title, className: ['cover-image', 'preview-cover']})] : []),
      halfTitlePage(book), titlePage(book), copyrightPage(book),
    ];
  } else {
    const part = book.parts.find((p) => p.id === id);
    const doc = book.docs.find((d) => d.id === id);
    if (part) {
      title = `${part.label}: ${part.title}`;
      body = [partPage(part, part.image ? `/assets/${part.image.name}` : undefined)];
    } else if (doc) {
      title = docTitle(doc);
      const tree = cloneTree(doc.tree);
      removeByClass(tree, 'print-only');
      body = [docSection(doc, tree.children as ElementContent[])];
      problemsFor = doc.displayPath;
    } else return undefined;
  }
  const root: Root = {type: 'root', children: body};
  rewrite(root, book, id);
  const order = pageOrder(book);
  const at = order.findIndex((p) => p.id === id);
  const prev = order[at - 1];
  const next = order[at + 1];
  const page: Root = {
    type: 'root',
    children: [
      {type: 'doctype'},
      h('html', {lang}, [
        h('head', [
          h('meta', {charset: 'utf-8'}),
          h('meta', {name: 'viewport', content: 'width=device-width, initial-scale=1'}),
          h('meta', {name: 'preview-build', content: String(context.buildId)}),
          h('title', id === 'index' ? `${title} (preview)` : `${title} · ${book.config.title} (preview)`),
          h('link', {rel: 'stylesheet', href: '/__preview/style.css'}),
          h('script', {src: '/__preview/live.js', defer: true}),
        ]),
        h('body', {className: ['preview']}, [
          h('nav', {className: ['preview-toc'], ariaLabel: 'Contents'}, [
            h('p', {className: ['preview-book-title']}, [h('a', {href: '/'}, book.config.title)]),
            tocList(book, id),
          ]),
          h('div', {className: ['preview-main']}, [
            problemsPanel(context, problemsFor),
            h('main', {id: 'preview-content'}, root.children as ElementContent[]),
            h('nav', {className: ['preview-pager'], ariaLabel: 'Pages'}, [
              prev ? h('a', {href: prev.id === 'index' ? '/' : pageUrl(prev.id), rel: 'prev'}, `← ${prev.title}`) : h('span'),
              next ? h('a', {href: pageUrl(next.id), rel: 'next'}, `${next.title} →`) : h('span'),
            ]),
          ]),
        ]),
      ]),
    ],
  };
  return toHtml(page);
}

/** A page for when the manuscript cannot be loaded at all (no book.yaml, broken configuration). */
export function renderErrorPage(context: PageContext): string {
  return toHtml({
    type: 'root',
    children: [
      {type: 'doctype'},
      h('html', {lang: 'en'}, [
        h('head', [
          h('meta', {charset: 'utf-8'}),
          h('meta', {name: 'preview-build', content: String(context.buildId)}),
          h('title', 'The manuscript cannot be loaded (preview)'),
          h('link', {rel: 'stylesheet', href: '/__preview/style.css'}),
          h('script', {src: '/__preview/live.js', defer: true}),
        ]),
        h('body', {className: ['preview']}, [
          h('div', {className: ['preview-main']}, [
            h('h1', 'The manuscript cannot be loaded'),
            problemsPanel(context, undefined),
          ]),
        ]),
      ]),
    ],
  });
}

function problemsPanel(context: PageContext, currentFile: string | undefined): Element {
  const {diagnostics} = context;
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  // This page's problems first, then the rest of the book's.
  const sorted = [...diagnostics].sort((a, b) => Number(b.file === currentFile) - Number(a.file === currentFile));
  const summary = diagnostics.length === 0
    ? 'No problems'
    : `${errors} error(s), ${warnings} warning(s)${currentFile ? `, ${diagnostics.filter((d) => d.file === currentFile).length} on this page` : ''}`;
  return h('section', {id: 'preview-problems', className: ['preview-problems', errors > 0 ? 'has-errors' : warnings > 0 ? 'has-warnings' : 'ok'], ariaLabel: 'Problems'}, [
    h('details', {open: errors > 0 || diagnostics.some((d) => d.file === currentFile)}, [
      h('summary', summary),
      h('ul', sorted.map((d) => h('li', {className: [`severity-${d.severity}`]}, [
        h('code', `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}`),
        ` ${d.severity} `, d.message, d.ruleId ? h('span', {className: ['rule']}, ` ${d.ruleId}`) : '',
      ]))),
    ]),
    h('p', {id: 'preview-status', className: ['preview-status']}, context.status ?? ''),
  ]);
}

function tocList(book: Book, current: string): Element {
  const items: Element[] = [];
  let part: Element | undefined;
  const link = (id: string, text: string) => h('a', {href: pageUrl(id), ...(id === current ? {ariaCurrent: 'page'} : {})}, text);
  const docItem = (doc: Doc) => h('li', [
    link(doc.id, docTitle(doc)),
    doc.id === current && doc.sections.length > 0
      ? h('ol', doc.sections.map((s) => h('li', [h('a', {href: `${pageUrl(doc.id)}#${s.id}`}, s.number ? `${s.number} ${s.title}` : s.title)])))
      : undefined,
  ].filter(Boolean) as Element[]);
  for (const step of readingOrder(book)) {
    if (step.part) {
      part = h('li', {className: ['preview-part']}, [link(step.part.id, `${step.part.label}: ${step.part.title}`), h('ol', [])]);
      items.push(part);
    } else if (step.doc.partIndex !== undefined && part) {
      (part.children[1] as Element).children.push(docItem(step.doc));
    } else {
      items.push(docItem(step.doc));
    }
  }
  return h('ol', items);
}

/** Links to the page that holds each id, images to the server's assets, no print-only marks. */
function rewrite(tree: Root, book: Book, current: string) {
  const partOfId = new Map<string, string>();
  for (const part of book.parts) {
    partOfId.set(part.id, part.id);
    partOfId.set(`${part.id}-title`, part.id);
  }
  visit(tree, 'element', (node: Element, index, parent) => {
    const props = node.properties ?? {};
    if (node.tagName === 'span' && Array.isArray(props.className) && props.className.includes('pageref') && parent && index !== undefined) {
      parent.children.splice(index, 1);
      return index;
    }
    if (node.tagName === 'a' && typeof props.href === 'string' && props.href.startsWith('#')) {
      const id = props.href.slice(1);
      const page = book.ids.get(id) ?? partOfId.get(id) ?? (id === 'title-page' || id === 'copyright-page' ? 'index' : undefined);
      if (page && page !== current) props.href = `${page === 'index' ? '/' : pageUrl(page)}#${id}`;
    }
    if (node.tagName === 'img') {
      const asset = typeof props.dataAsset === 'string' ? book.assets.get(props.dataAsset) : undefined;
      if (asset) {
        props.src = `/assets/${asset.name}`;
        sizeImage(props, asset);
      } else if (!(typeof props.src === 'string' && props.src.startsWith('/assets/'))) delete props.src;
    }
    for (const key of Object.keys(props)) if (key.startsWith('data')) delete props[key];
    return undefined;
  });
}

const PREVIEW_CSS = `
/* Preview layout (not part of the book). */
body.preview { margin: 0; display: flex; align-items: flex-start; font-family: Georgia, 'Source Serif 4', serif; }
.preview-toc { position: sticky; top: 0; flex: 0 0 17rem; height: 100vh; overflow: auto; padding: 1rem; box-sizing: border-box;
  font: 0.85rem/1.35 system-ui, sans-serif; border-right: 1px solid #ccc; background: #fafafa; }
.preview-toc ol { list-style: none; padding-left: 0.8rem; margin: 0.2rem 0; }
.preview-toc > ol { padding-left: 0; }
.preview-toc a { color: inherit; text-decoration: none; }
.preview-toc a[aria-current="page"] { font-weight: bold; }
.preview-book-title { font-weight: bold; margin-top: 0; }
.preview-part > a { font-variant: small-caps; }
.preview-main { flex: 1; max-width: 44rem; margin: 0 auto; padding: 1rem 2rem 4rem; }
.preview-cover { display: block; max-width: 20rem; margin: 1rem auto; }
.preview-problems { font: 0.85rem/1.4 system-ui, sans-serif; border: 1px solid #ccc; border-radius: 4px; padding: 0.3rem 0.8rem; margin-bottom: 1.5rem; }
.preview-problems.has-errors { border-color: #b00020; background: #fff3f4; }
.preview-problems.has-warnings { border-color: #b26a00; background: #fffaf0; }
.preview-problems ul { padding-left: 1rem; margin: 0.4rem 0; }
.preview-problems .severity-error { color: #8a0018; }
.preview-problems .rule { color: #666; }
.preview-status { color: #555; margin: 0.2rem 0; }
.preview-status:empty { display: none; }
.preview-pager { display: flex; justify-content: space-between; gap: 1rem; margin-top: 3rem; font: 0.9rem system-ui, sans-serif; }
.print-only { display: none; }
`;

/** The EPUB stylesheet, the code highlighting and the preview's layout, read fresh each time. */
export function previewCss(templates: string): string {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const hljs = read(require.resolve('highlight.js/styles/a11y-light.css'));
  return `${read(path.join(templates, 'epub', 'style.css'))}\n${hljs}\n${PREVIEW_CSS}`;
}

/** The live-reload script: reloads the page when the server says the book changed. */
export const LIVE_JS = `// Book preview: reload after each rebuild (this script exists only in the preview).
(() => {
  const meta = document.querySelector('meta[name="preview-build"]');
  const shown = meta ? meta.getAttribute('content') : null;
  const key = 'preview-scroll:' + location.pathname;
  const saved = sessionStorage.getItem(key);
  if (saved !== null && !location.hash) { window.scrollTo(0, Number(saved)); sessionStorage.removeItem(key); }
  const reload = () => { sessionStorage.setItem(key, String(window.scrollY)); location.reload(); };
  const events = new EventSource('/__preview/events');
  events.addEventListener('build', (event) => { if (event.data !== shown) reload(); });
  events.addEventListener('status', (event) => {
    const status = document.getElementById('preview-status');
    if (status) status.textContent = event.data;
  });
})();
`;
