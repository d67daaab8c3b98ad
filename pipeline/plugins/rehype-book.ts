/**
 * rehype plugins that run on trusted structure after sanitising: math, code,
 * heading ids, numbering of figures/tables/listings/equations/sections, footnotes.
 */
import type {Root, Element, ElementContent, Text} from 'hast';
import type {VFile} from 'vfile';
import {visit, SKIP} from '../util/visit.ts';
import {toString} from 'hast-util-to-string';
import {fromHtml} from 'hast-util-from-html';
import GithubSlugger from 'github-slugger';
import {createRequire} from 'node:module';
import type {Label} from '../model.ts';
import {hasClass} from '../util/hast.ts';

declare module 'vfile' {
  interface DataMap {
    /** The document's id: a prefix that makes its ids unique in the book (set before the run). */
    docId: string;
    /** The chapter's number, for numbering "Figure 7.2" (unset for front and back matter). */
    chapterNumber: number;
    /** What authors write after `#` (a heading's slug or `{#id}`) → the element's id. */
    fragments: globalThis.Map<string, string>;
    /** Figures, tables, listings, equations and sections with a label, as numbered. */
    labels: Label[];
  }
}


const require = createRequire(import.meta.url);

/** temml, loaded at the first formula: most chapters have none (and a rebuild may parse none that do). */
let temmlModule: typeof import('temml').default | undefined;
const temml = () => (temmlModule ??= require('temml') as typeof import('temml').default);

/** `$…$` / `$$…$$` (from remark-math) → MathML with temml. */
export function rehypeTemml() {
  return (tree: Root, file: VFile) => {
    visit(tree, 'element', (node: Element, index, parent) => {
      if (!parent || index === undefined || node.tagName !== 'code') return;
      const inline = hasClass(node, 'math-inline');
      const display = hasClass(node, 'math-display');
      if (!inline && !display) return;
      const tex = toString(node);
      let mathml: string;
      try {
        mathml = temml().renderToString(tex, {displayMode: display, xml: true, annotate: true, throwOnError: true});
      } catch (error) {
        // Long formulas (or hostile ones) are cut short: the place points at the whole of it.
        const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
        file.message(`Cannot typeset math \`${cut(tex, 80)}\`: ${cut((error as Error).message.split('\n')[0]!, 200)}`, {
          place: node.position, source: 'book', ruleId: 'math',
        });
        return;
      }
      // temml emits munder@accent for some arrows, which MathML 3 (EPUB) does not allow.
      const math = fromHtml(mathml.replace(/ accent="(true|false)"/g, ''), {fragment: true}).children[0] as Element;
      math.properties = {...math.properties, xmlns: 'http://www.w3.org/1998/Math/MathML'};
      const target = display && parent.type === 'element' && (parent as Element).tagName === 'pre' ? parent : node;
      if (display) {
        const label = target !== node ? (target as Element).properties?.dataLabel : undefined;
        const wrapper: Element = {
          type: 'element', tagName: 'div',
          properties: {className: ['equation'], ...(label ? {id: String(label)} : {})},
          children: [math], position: node.position,
        };
        replace(tree, target as Element, wrapper);
      } else {
        (parent as Element).children[index] = math;
      }
      return SKIP;
    });
  };
}

function replace(tree: Root, old: Element, replacement: Element) {
  visit(tree, 'element', (node: Element | Root, index, parent) => {
    if (node === old && parent && index !== undefined) {
      (parent.children as ElementContent[])[index] = replacement;
      return SKIP;
    }
  });
}

/**
 * Heading ids: `{#id}` kept as written; others get a slug. Ids are made book-unique
 * by prefixing the document id; `file.data.fragments` maps what authors write after `#` to the id.
 */
export function rehypeHeadingIds() {
  return (tree: Root, file: VFile) => {
    const slugger = new GithubSlugger();
    const fragments = file.data.fragments ??= new Map();
    visit(tree, 'element', (node: Element) => {
      if (!/^h[1-6]$/.test(node.tagName)) return;
      const slug = slugger.slug(toString(node));
      const explicit = node.properties?.id ? String(node.properties.id) : undefined;
      const id = explicit ?? `${file.data.docId}-${slug}`;
      node.properties = {...node.properties, id};
      fragments.set(slug, id);
      if (explicit) fragments.set(explicit, id);
    });
  };
}

const KIND_NAMES = {fig: 'Figure', tbl: 'Table', lst: 'Listing', eq: 'Equation', sec: 'Section', ch: 'Chapter'} as const;

/**
 * Numbers figures, tables, listings, display equations and sections per chapter
 * ("Figure 7.2") and records their labels in `file.data.labels`. The prefix is the chapter
 * number (`file.data.chapterNumber`); front and back matter are numbered 1, 2, 3.
 */
export function rehypeNumbering() {
  return (tree: Root, file: VFile) => {
    const prefix = file.data.chapterNumber ? String(file.data.chapterNumber) : undefined;
    const labels = file.data.labels ??= [];
    const counters = {fig: 0, tbl: 0, lst: 0, eq: 0, sec: 0};
    const number = (kind: keyof typeof counters) => {
      counters[kind]++;
      return prefix ? `${prefix}.${counters[kind]}` : String(counters[kind]);
    };
    const record = (kind: Label['kind'], id: unknown, text: string, node: Element) => {
      if (typeof id !== 'string' || !id) return;
      if (!id.startsWith(`${kind}-`) && kind !== 'sec') {
        file.message(`Label \`${id}\` of a ${KIND_NAMES[kind].toLowerCase()} should start with \`${kind}-\``, {
          place: node.position, source: 'book', ruleId: 'label-prefix',
        });
      }
      labels.push({kind, label: id, text, id, docId: file.data.docId ?? '', ...(node.position ? {position: node.position} : {})});
    };
    visit(tree, 'element', (node: Element) => {
      if (node.tagName === 'h2' && prefix && !hasClass(node, 'unnumbered')) {
        const n = number('sec');
        node.children.unshift(
          {type: 'element', tagName: 'span', properties: {className: ['section-number']}, children: [{type: 'text', value: n}]},
          {type: 'text', value: ' '},
        );
        record('sec', node.properties?.id, `Section ${n}`, node);
        return;
      }
      if (node.tagName === 'figure') {
        const kind = hasClass(node, 'table') ? 'tbl' : hasClass(node, 'listing') ? 'lst' : 'fig';
        const n = number(kind);
        const caption = node.children.find((c): c is Element => c.type === 'element' && c.tagName === 'figcaption');
        const label = `${KIND_NAMES[kind]} ${n}`;
        if (caption) {
          caption.children.unshift(
            {type: 'element', tagName: 'span', properties: {className: ['caption-label']}, children: [{type: 'text', value: label}]},
            {type: 'text', value: ' '},
          );
        } else if (kind === 'fig') {
          file.message('Figure has no caption', {place: node.position, source: 'book', ruleId: 'figure-caption'});
        }
        record(kind, node.properties?.id, label, node);
        return;
      }
      if (node.tagName === 'div' && hasClass(node, 'equation') && node.properties?.id) {
        const n = number('eq');
        node.children.push({
          type: 'element', tagName: 'span', properties: {className: ['equation-number']}, children: [{type: 'text', value: `(${n})`}],
        });
        record('eq', node.properties.id, `Equation ${n}`, node);
      }
    });
  };
}

/**
 * Fenced code: listing figures with captions, highlighted lines, line numbers.
 * Runs after rehype-highlight, which has put `hljs-*` spans into the code.
 */
export function rehypeListings() {
  return (tree: Root) => {
    visit(tree, 'element', (node: Element, index, parent) => {
      if (!parent || index === undefined || node.tagName !== 'pre') return;
      const code = node.children[0];
      if (code?.type !== 'element' || code.tagName !== 'code') return;
      if (hasClass(code, 'language-math')) return;
      const properties = code.properties ?? {};
      const label = properties.dataLabel ? String(properties.dataLabel) : undefined;
      const caption = properties.dataCaption ? String(properties.dataCaption) : undefined;
      const numbers = properties.dataNumbers !== undefined;
      const highlight = parseLineRanges(properties.dataLines ? String(properties.dataLines) : '');
      for (const key of ['dataLabel', 'dataCaption', 'dataLines', 'dataNumbers']) delete properties[key];
      if (highlight.size > 0 || numbers) {
        code.children = splitLines(code.children).map((line, i) => ({
          type: 'element', tagName: 'span',
          properties: {className: highlight.has(i + 1) ? ['line', 'line-highlight'] : ['line']},
          children: [...line, {type: 'text', value: '\n'}],
        }));
        if (numbers) node.properties = {className: ['numbered']};
      }
      if (!label && !caption) return;
      const figure: Element = {
        type: 'element', tagName: 'figure',
        properties: {className: ['listing'], ...(label ? {id: label} : {})},
        children: [
          {type: 'element', tagName: 'figcaption', properties: {}, children: caption ? [{type: 'text', value: caption}] : []},
          node,
        ],
        position: node.position,
      };
      (parent.children as ElementContent[])[index] = figure;
      return SKIP;
    });
  };
}

function parseLineRanges(spec: string): Set<number> {
  const lines = new Set<number>();
  for (const part of spec.split(',')) {
    const [from, to] = part.split('-').map((n) => Number.parseInt(n, 10));
    if (from === undefined || Number.isNaN(from)) continue;
    for (let n = from; n <= (to && !Number.isNaN(to) ? Math.min(to, from + 10_000) : from); n++) lines.add(n);
  }
  return lines;
}

/** Splits highlighted code into lines, re-opening spans that cross a line break. */
function splitLines(children: ElementContent[]): ElementContent[][] {
  const lines: ElementContent[][] = [[]];
  const walk = (nodes: ElementContent[], wrap: (c: ElementContent[]) => ElementContent[]) => {
    for (const node of nodes) {
      if (node.type === 'text') {
        const parts = node.value.split('\n');
        parts.forEach((part, i) => {
          if (i > 0) lines.push([]);
          if (part) lines.at(-1)!.push(...wrap([{type: 'text', value: part} as Text]));
        });
      } else if (node.type === 'element') {
        walk(node.children, (c) => wrap([{...node, children: c}]));
      }
    }
  };
  walk(children, (c) => c);
  if (lines.length > 1 && lines.at(-1)!.length === 0) lines.pop();
  return lines;
}

/**
 * GFM footnotes → one `<aside epub:type="footnote" role="doc-footnote">` per note
 * (pop-up notes in Apple Books and Kobo), references marked as `noteref`.
 */
export function rehypeFootnotes() {
  return (tree: Root) => {
    visit(tree, 'element', (node: Element, index, parent) => {
      if (node.tagName === 'a' && node.properties?.dataFootnoteRef !== undefined) {
        delete node.properties.dataFootnoteRef;
        delete node.properties.ariaDescribedBy;
        node.properties['epub:type'] = 'noteref';
        node.properties.role = 'doc-noteref';
        node.properties.className = ['noteref'];
        return;
      }
      if (!parent || index === undefined || node.tagName !== 'section' || node.properties?.dataFootnotes === undefined) return;
      const list = node.children.find((c): c is Element => c.type === 'element' && c.tagName === 'ol');
      const notes: Element[] = [];
      for (const item of list?.children ?? []) {
        if (item.type !== 'element' || item.tagName !== 'li') continue;
        const number = notes.length + 1;
        visit(item, 'element', (a: Element) => {
          if (a.tagName === 'a' && a.properties?.dataFootnoteBackref !== undefined) {
            a.properties = {href: a.properties.href, className: ['backlink'], ariaLabel: `Back to note ${number} reference`};
            a.children = [{type: 'text', value: '↩'}];
          }
        });
        notes.push({
          type: 'element', tagName: 'aside',
          properties: {id: item.properties?.id, 'epub:type': 'footnote', role: 'doc-footnote', className: ['footnote']},
          children: [
            {type: 'element', tagName: 'span', properties: {className: ['footnote-number']}, children: [{type: 'text', value: `${number}. `}]},
            ...item.children.filter((c) => !(c.type === 'text' && !c.value.trim())),
          ],
        });
      }
      (parent.children as ElementContent[])[index] = {
        type: 'element', tagName: 'section',
        properties: {className: ['footnotes'], 'epub:type': 'footnotes', ariaLabel: 'Notes'},
        children: [
          {type: 'element', tagName: 'h2', properties: {className: ['footnotes-title', 'unnumbered']}, children: [{type: 'text', value: 'Notes'}]},
          ...notes,
        ],
      };
      return SKIP;
    });
  };
}
