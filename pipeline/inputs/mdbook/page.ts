/**
 * One page of an mdBook project (a SUMMARY.md entry) as the reader sees it: its expanded text,
 * parsed with remark to find headings, links and code; mdBook's heading ids; and the edits that
 * make the text read as mdBook shows it (prepare.ts) without moving any line.
 */
import {unified} from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import {toString as mdastToString} from 'mdast-util-to-string';
import type {Root as MdastRoot, Heading} from 'mdast';
import type {DocKind} from '../../model.ts';
import {visit} from '../../util/visit.ts';
import {splitTrailingAttributes, type Attributes} from '../../plugins/attributes.ts';
import type {MappedText} from '../origins.ts';
import type {SummaryEntry} from './summary.ts';

const markdown = unified().use(remarkParse).use(remarkGfm);

/** mdBook's heading ids: alphanumerics, `_` and `-` kept (ASCII lower-cased), spaces to `-`, made unique with `-1`, `-2`. */
export function mdbookIds(texts: string[]): string[] {
  const counts = new Map<string, number>();
  return texts.map((text) => {
    let id = '';
    for (const ch of text) {
      if (/[\p{L}\p{N}_-]/u.test(ch)) id += ch.replace(/[A-Z]/g, (c) => c.toLowerCase());
      else if (/\s/u.test(ch)) id += '-';
    }
    const count = counts.get(id) ?? 0;
    counts.set(id, count + 1);
    return count > 0 ? `${id}-${count}` : id;
  });
}

export interface HeadingInfo {
  node: Heading;
  /** The author's `{#id .class}` block at the end of the heading, if any. */
  attributes?: Attributes;
  /** mdBook's id of the heading (what `page.md#…` links use). */
  mdbookId: string;
}

/** A page (one SUMMARY.md entry) after its helpers are expanded. */
export interface Page {
  entry: SummaryEntry;
  /** Manuscript-relative path; undefined for a draft that only gives its sub-chapters a heading. */
  path?: string;
  text: MappedText;
  tree: MdastRoot;
  source: string;
  headings: HeadingInfo[];
  /** Index of the page's title (its first `#` heading) in `headings`, -1 when it has none. */
  titleIndex: number;
  /** How many `#` headings the page has. */
  h1Count: number;
  /** Nesting below the chapter: 0 for the chapter itself, 1 for 1.2, 2 for 1.2.1. */
  depth: number;
  /** Position in its document (0 = the chapter's own page). */
  index: number;
  doc: DocPlan;
  /** mdBook id → our id for every heading of the page. */
  ids: Map<string, string>;
  /** Our id of the page's title (where a link to the page without `#` goes). */
  titleId?: string;
}

export interface DocPlan {
  id: string;
  kind: DocKind;
  number?: number;
  partIndex?: number;
  /** Manuscript-relative path of the document: its first page with a file. */
  path: string;
  pages: Page[];
  /** Sub-chapters are numbered by our Markdown stage (1.1, 1.2 …) when mdBook's numbers have no gaps. */
  sectionNumbers: boolean;
}

export function analyse(text: MappedText): {tree: MdastRoot; source: string} {
  const source = text.lines.join('\n');
  return {source, tree: markdown.parse(source) as MdastRoot};
}

export function headingsOf(tree: MdastRoot): HeadingInfo[] {
  const found: {node: Heading; attributes?: Attributes; text: string}[] = [];
  visit(tree, 'heading', (node: Heading) => {
    const last = node.children.at(-1);
    let attributes: Attributes | undefined;
    let text = mdastToString(node, {includeHtml: false});
    if (last?.type === 'text') {
      const [rest, attrs] = splitTrailingAttributes(last.value);
      if (attrs) {
        attributes = attrs;
        text = text.slice(0, text.length - (last.value.length - rest.length));
      }
    }
    found.push({node, attributes, text: text.trim()});
  });
  const ids = mdbookIds(found.map((h) => h.text));
  return found.map((h, i) => ({node: h.node, ...(h.attributes ? {attributes: h.attributes} : {}), mdbookId: h.attributes?.id ?? ids[i]!}));
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits that keep the number of lines (each edit keeps its own newlines). */
export function applyEdits(source: string, edits: Edit[]): string {
  // Right to left; of two insertions at one offset, the one pushed later goes in first (ends up after).
  const sorted = edits.map((edit, index) => ({...edit, index})).sort((a, b) => b.start - a.start || b.end - a.end || b.index - a.index);
  let out = source;
  let floor = Number.POSITIVE_INFINITY;
  for (const edit of sorted) {
    if (edit.end > floor) continue; // overlaps a later edit: keep the text as written
    const removed = out.slice(edit.start, edit.end);
    if ((removed.match(/\n/g)?.length ?? 0) !== (edit.text.match(/\n/g)?.length ?? 0)) continue;
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    floor = edit.start;
  }
  return out;
}

export function attributeBlock(attributes: Attributes): string {
  const parts: string[] = [];
  if (attributes.id) parts.push(`#${attributes.id}`);
  for (const c of attributes.classes) parts.push(`.${c}`);
  for (const [key, value] of Object.entries(attributes.values)) parts.push(value === '' ? key : `${key}="${value.replace(/"/g, '&quot;')}"`);
  return `{${parts.join(' ')}}`;
}

/** Escapes text for use as Markdown inline content (a SUMMARY.md title used as a heading). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#!|$~]/g, '\\$&');
}
