/**
 * Pages both targets need, built from the configuration: half-title, title page,
 * copyright page, part pages and the heading block of each document.
 */
import type {Element, ElementContent} from 'hast';
import {h} from 'hastscript';
import type {Book, Doc, Part} from '../model.ts';

/** One step of the book in reading order: a part's opening, or a document. */
export type ReadingStep = {part: Part; doc?: undefined} | {doc: Doc; part?: undefined};

/**
 * The book in reading order: each part just before its first document (the documents in `skip`
 * are left out, and a part is opened by the first document that is not).
 */
export function readingOrder(book: Book, skip: readonly Doc[] = []): ReadingStep[] {
  const steps: ReadingStep[] = [];
  const started = new Set<number>();
  for (const doc of book.docs) {
    if (skip.includes(doc)) continue;
    if (doc.partIndex !== undefined && !started.has(doc.partIndex)) {
      started.add(doc.partIndex);
      steps.push({part: book.parts[doc.partIndex]!});
    }
    steps.push({doc});
  }
  return steps;
}

export function halfTitlePage(book: Book): Element {
  return h('section', {className: ['half-title'], 'epub:type': 'halftitlepage', ariaLabel: 'Half title'}, [
    h('p', {className: ['half-title-text']}, book.config.title),
  ]);
}

export function titlePage(book: Book): Element {
  const {config} = book;
  return h('section', {className: ['title-page'], 'epub:type': 'titlepage', id: 'title-page', ariaLabel: 'Title page'}, [
    h('h1', {className: ['book-title']}, config.title),
    config.subtitle ? h('p', {className: ['book-subtitle']}, config.subtitle) : undefined,
    h('p', {className: ['book-authors']}, config.authors.map((a) => a.name).join(', ')),
    config.publisher ? h('p', {className: ['book-publisher']}, config.publisher) : undefined,
  ].filter(Boolean) as Element[]);
}

export function copyrightPage(book: Book): Element {
  const {config} = book;
  const year = config.date.slice(0, 4);
  const names = config.authors.map((a) => a.name).join(', ');
  const paragraphs: ElementContent[] = [
    h('p', `© ${year} ${names}`),
    // No licence URL (an mdBook project without book.yaml): the © line above says it all.
    ...(config.license.url ? [h('p', [
      'This work is licensed under the ',
      h('a', {href: config.license.url, className: ['external']}, config.license.name),
      ` (${config.license.short}). To view a copy of this license, visit `,
      h('a', {href: config.license.url, className: ['external']}, config.license.url),
      '.',
    ])] : []),
    ...config.copyright.map((text) => h('p', linkify(text))),
  ];
  if (config.publisher) paragraphs.push(h('p', `Published by ${config.publisher}.`));
  if (config.identifiers.isbn) paragraphs.push(h('p', `ISBN ${config.identifiers.isbn} (print)`));
  if (config.identifiers.ebookIsbn) paragraphs.push(h('p', `ISBN ${config.identifiers.ebookIsbn} (ebook)`));
  return h('section', {className: ['copyright-page'], 'epub:type': 'copyright-page', id: 'copyright-page', ariaLabel: 'Copyright'}, paragraphs);
}

/** Turns bare URLs in configuration text into links. */
function linkify(text: string): ElementContent[] {
  const out: ElementContent[] = [];
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s)]+[^\s).,;]/g)) {
    if (match.index! > last) out.push({type: 'text', value: text.slice(last, match.index)});
    out.push(h('a', {href: match[0], className: ['external']}, match[0]));
    last = match.index! + match[0].length;
  }
  if (last < text.length) out.push({type: 'text', value: text.slice(last)});
  return out;
}

export function partPage(part: Part, imageSrc: string | undefined): Element {
  return h('section', {className: ['part'], 'epub:type': 'part', role: 'doc-part', id: part.id, ariaLabelledBy: `${part.id}-title`}, [
    h('header', [
      h('p', {className: ['part-label']}, part.label),
      h('h1', {id: `${part.id}-title`, className: ['part-title']}, part.title),
    ]),
    imageSrc ? h('img', {src: imageSrc, alt: part.alt ?? '', className: ['part-image']}) : undefined,
  ].filter(Boolean) as Element[]);
}

const DOC_SEMANTICS: Record<string, {type: string; role?: string}> = {
  chapter: {type: 'chapter', role: 'doc-chapter'},
  'front-preface': {type: 'preface', role: 'doc-preface'},
  'front-dedication': {type: 'dedication', role: 'doc-dedication'},
  'front-foreword': {type: 'foreword', role: 'doc-foreword'},
  'front-introduction': {type: 'introduction', role: 'doc-introduction'},
  'back-glossary': {type: 'glossary', role: 'doc-glossary'},
  'back-bibliography': {type: 'bibliography', role: 'doc-bibliography'},
  'back-index': {type: 'index', role: 'doc-index'},
  'back-acknowledgments': {type: 'acknowledgments', role: 'doc-acknowledgments'},
};

export function semanticsOf(doc: Doc): {type: string; role?: string} {
  return DOC_SEMANTICS[doc.kind === 'chapter' ? 'chapter' : doc.id] ?? {type: doc.kind === 'front' ? 'frontmatter' : 'backmatter'};
}

/** The `<section>` of one document: label ("Chapter 7"), title, body. */
export function docSection(doc: Doc, body: ElementContent[]): Element {
  const semantics = semanticsOf(doc);
  const titleId = doc.fragments.get('') ?? `${doc.id}-title`;
  const header = h('header', {className: ['doc-header']}, [
    doc.number !== undefined ? h('p', {className: ['chapter-label']}, `Chapter ${doc.number}`) : undefined,
    h('h1', {id: titleId, className: ['doc-title']}, doc.title),
  ].filter(Boolean) as Element[]);
  return h('section', {
    id: doc.id,
    className: [...new Set([doc.kind === 'chapter' ? 'chapter' : doc.kind, semantics.type])],
    'epub:type': semantics.type,
    ...(semantics.role ? {role: semantics.role} : {}),
    ariaLabelledBy: titleId,
  }, [header, ...body]);
}
