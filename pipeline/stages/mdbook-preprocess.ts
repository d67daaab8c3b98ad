/**
 * mdBook projects: the input edge for a folder with book.toml (see config/mdbook.ts for
 * book.toml, SUMMARY.md and book.yaml). Each chapter is read as mdBook reads it, then handed
 * to the same Markdown stage as any manuscript:
 *
 * - mdBook's own syntax is expanded: `{{#include file}}` (with `:5`, `:5:10`, `:5:`, `::10`
 *   and `:anchor` between `ANCHOR:`/`ANCHOR_END:` comments), `{{#rustdoc_include}}`,
 *   `{{#playground}}`, `{{#doc_comment_include}}`, `\{{#…}}` escapes; `{{#title …}}` only sets
 *   the browser tab title in mdBook and is dropped. Hidden lines (`# ` in Rust code, the
 *   `hidelines` prefixes of book.toml or of a block) are left out, as mdBook hides them.
 * - What means something else to our Markdown stage is kept as mdBook shows it: `$` is a dollar
 *   sign (not math), `@name` is text (not a citation), a lone image is an image (not a numbered
 *   figure with its alt text as caption), code block attributes (`rust,ignore`) are dropped.
 * - Structure follows SUMMARY.md: prefix chapters are front matter, suffix chapters back matter,
 *   numbered chapters keep mdBook's numbers, drafts are skipped. A nested sub-chapter is appended
 *   to its top-level chapter as a section: its headings move down one level per level of nesting,
 *   so 1.2 is an `##` section of chapter 1 (numbered 1.2, in the contents and PDF bookmarks) and
 *   1.2.1 an `###` subsection ("1.2.1 Title"). A chapter's own `##` headings are unnumbered, as
 *   in mdBook, so the only numbers are SUMMARY.md's.
 * - Links are rewritten for that structure: `NN-name.md`, `./NN-name.md#anchor` (mdBook's heading
 *   ids) and `name.html` lead to the right document and heading; links to files that are not
 *   chapters of the book become their text. Remote images become links (books embed local files).
 *
 * Every message points at the author's file and line, also for text that came from an include
 * or was merged into another chapter. Unsupported things are reported once per kind.
 */
import path from 'node:path';
import {unified} from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import {visit} from '../plugins/visit.ts';
import {common, createLowlight} from 'lowlight';
import {toString as mdastToString} from 'mdast-util-to-string';
import type {Root as MdastRoot, Heading, Code, Text, Link, Image, Definition, Html, LinkReference, ImageReference, Paragraph, Nodes, FootnoteReference, FootnoteDefinition} from 'mdast';
import type {Element, ElementContent, Root as HastRoot} from 'hast';
import {VFile} from 'vfile';
import {parse as parseYaml} from 'yaml';
import type {Book, Doc, DocKind, Label, Part} from '../model.ts';
import {loadMdBookProject, type SummaryEntry, type MdBookSettings} from '../config/mdbook.ts';
import {readInside, OutsideManuscriptError} from '../io/files.ts';
import {parseDoc, type DocInput, type ImageRef} from './markdown.ts';
import {loadBibliography} from './bibliography.ts';
import {resolveBook, glossaryFromYaml} from './resolve.ts';
import {loadAssets} from './assets.ts';
import {splitTrailingAttributes, type Attributes} from '../plugins/attributes.ts';
import {hasClass} from '../plugins/rehype-book.ts';
import {toString} from 'hast-util-to-string';
import type {Loaded, LoadOptions} from './load.ts';

const posix = path.posix;

// ---------------------------------------------------------------------------------------------
// Texts that remember where each line came from.

/** Where a line of a preprocessed text came from: a manuscript-relative file and its line. */
export interface Origin {
  path: string;
  line: number;
}

/** A text as lines, each with its origin. Edits never change the number of lines silently. */
export interface MappedText {
  lines: string[];
  origins: Origin[];
}

export function mappedText(text: string, filePath: string): MappedText {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  return {lines, origins: lines.map((_, i) => ({path: filePath, line: i + 1}))};
}

/** A piece of expanded text; pieces are concatenated without separators. */
interface Piece {
  text: string;
  /** One origin per line of `text`. */
  origins: Origin[];
}

function joinPieces(pieces: Piece[]): MappedText {
  const lines: string[] = [''];
  const origins: Origin[] = [];
  for (const piece of pieces) {
    const pieceLines = piece.text.split('\n');
    pieceLines.forEach((line, i) => {
      if (i === 0) {
        // A line that starts with an include belongs to the included file's line.
        if (origins.length === 0) origins.push(piece.origins[0]!);
        else if (lines.at(-1)!.trim() === '' && line !== '') origins[origins.length - 1] = piece.origins[0]!;
        lines[lines.length - 1] += line;
      } else {
        lines.push(line);
        origins.push(piece.origins[i] ?? piece.origins.at(-1)!);
      }
    });
  }
  if (origins.length === 0) origins.push({path: '', line: 1});
  return {lines, origins};
}

// ---------------------------------------------------------------------------------------------
// Messages: on the author's files, unsupported things once per kind.

type Place = {line: number; column: number};

/** One VFile per source file (chapters, included files, SUMMARY.md, book.toml), made on demand. */
class SourceFiles {
  readonly byPath = new Map<string, VFile>();
  constructor(private readonly show: (rel: string) => string) {}
  get(rel: string): VFile {
    let file = this.byPath.get(rel);
    if (!file) {
      file = new VFile({path: this.show(rel)});
      this.byPath.set(rel, file);
    }
    return file;
  }
  register(rel: string, file: VFile) {
    this.byPath.set(rel, file);
  }
}

/** Collects notes of one kind and reports them once, at the first place, listing the others. */
class Notes {
  readonly #kinds = new Map<string, {file: VFile; place?: Place; reason: string; severity: 'info' | 'warning'; others: string[]}>();
  /** `kind` groups the notes; its part before a `:` names the rule (`mdbook-<kind>`). */
  add(kind: string, severity: 'info' | 'warning', file: VFile, place: Place | undefined, reason: string) {
    const existing = this.#kinds.get(kind);
    if (existing) existing.others.push(`${file.path}${place ? `:${place.line}` : ''}`);
    else this.#kinds.set(kind, {file, place, reason, severity, others: []});
  }
  flush() {
    for (const [kind, note] of this.#kinds) {
      const {others} = note;
      const more = others.length === 0 ? '' : ` (also ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''})`;
      const options = {place: note.place, source: 'mdbook', ruleId: `mdbook-${kind.split(':')[0]}`};
      if (note.severity === 'info') note.file.info(`${note.reason}${more}`, options);
      else note.file.message(`${note.reason}${more}`, options).fatal = false;
    }
    this.#kinds.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// {{#include}} and the other helpers of mdBook's `links` preprocessor.

const HELPER = /\\\{\{#.*\}\}|\{\{\s*#([a-zA-Z0-9_]+)\s+([^}]+)\}\}/g;
const ANCHOR_START = /ANCHOR:\s*([\w_-]+)/;
const ANCHOR_END = /ANCHOR_END:\s*([\w_-]+)/;
const MAX_DEPTH = 10;

type Selection = {kind: 'range'; start: number; end?: number} | {kind: 'anchor'; name: string};

/** mdBook's `:5`, `:5:10`, `:5:`, `::10`, `:anchor` (as its parse_range_or_anchor; `end` is exclusive, 0-based). */
export function parseSelection(spec: string | undefined): Selection {
  if (spec === undefined) return {kind: 'range', start: 0};
  const [first = '', second] = spec.split(':');
  let start: number | undefined;
  if (/^\d+$/.test(first)) start = Math.max(0, Number(first) - 1);
  else if (first !== '') return {kind: 'anchor', name: first};
  const end = second === undefined ? undefined : /^\d+$/.test(second) ? Number(second) : Number.NaN;
  if (start !== undefined) {
    if (end === undefined) return {kind: 'range', start, end: start + 1};
    return Number.isNaN(end) ? {kind: 'range', start} : {kind: 'range', start, end};
  }
  return end !== undefined && !Number.isNaN(end) ? {kind: 'range', start: 0, end} : {kind: 'range', start: 0};
}

/** The selected lines with their 1-based numbers in the file, as mdBook's take_lines/take_anchored_lines. */
export function selectLines(text: string, selection: Selection): {line: string; number: number}[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n').map((line, i) => ({line, number: i + 1}));
  if (selection.kind === 'range') return lines.slice(selection.start, selection.end);
  const out: {line: string; number: number}[] = [];
  let inside = false;
  for (const entry of lines) {
    if (inside) {
      const end = ANCHOR_END.exec(entry.line);
      if (end) {
        if (end[1] === selection.name) break;
      } else if (!ANCHOR_START.test(entry.line)) out.push(entry);
    } else if (ANCHOR_START.exec(entry.line)?.[1] === selection.name) inside = true;
  }
  return out;
}

/** `{{#rustdoc_include}}`: lines outside the selection are kept as hidden lines (`# `). */
function rustdocLines(text: string, selection: Selection): {line: string; number: number}[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n').map((line, i) => ({line, number: i + 1}));
  if (selection.kind === 'range') {
    return lines.map((entry, i) => (i >= selection.start && (selection.end === undefined || i < selection.end) ? entry : {...entry, line: `# ${entry.line}`}));
  }
  const out: {line: string; number: number}[] = [];
  let inside = false;
  for (const entry of lines) {
    const start = ANCHOR_START.exec(entry.line);
    const end = ANCHOR_END.exec(entry.line);
    if (inside) {
      if (end) {
        if (end[1] === selection.name) inside = false;
      } else if (!start) out.push(entry);
    } else if (start) {
      if (start[1] === selection.name) inside = true;
    } else if (!end) out.push({...entry, line: `# ${entry.line}`});
  }
  return out;
}

export interface ExpandContext {
  /** Reads a manuscript-relative file (confined to the manuscript); undefined with a reason when it cannot. */
  read: (rel: string) => Promise<{text: string} | {error: string}>;
  files: SourceFiles;
  notes: Notes;
  /** The chapter title set by `{{#title}}` (mdBook uses it for the browser tab only). */
  onTitle?: (title: string) => void;
}

/**
 * Expands mdBook's helpers in `text` (a file at `rel`, whose line i is `lineNumbers[i]` of that
 * file), recursively as mdBook does (paths relative to the file that holds the helper).
 */
export async function expandHelpers(text: string, rel: string, context: ExpandContext, lineNumbers?: number[], depth = 0): Promise<MappedText> {
  const pieces: Piece[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineIndex = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  };
  const originOf = (index: number): Origin => ({path: rel, line: lineNumbers?.[index] ?? index + 1});
  const slice = (start: number, end: number): Piece => {
    const first = lineIndex(start);
    const value = text.slice(start, end);
    const count = value.split('\n').length;
    return {text: value, origins: Array.from({length: count}, (_, i) => originOf(first + i))};
  };
  let last = 0;
  for (const match of text.matchAll(HELPER)) {
    const start = match.index!;
    const end = start + match[0].length;
    const place = {line: originOf(lineIndex(start)).line, column: start - lineStarts[lineIndex(start)]! + 1};
    const file = context.files.get(rel);
    if (match[0].startsWith('\\')) {
      pieces.push(slice(last, start), {text: match[0].slice(1), origins: [originOf(lineIndex(start))]});
      last = end;
      continue;
    }
    const type = match[1]!;
    const rest = match[2]!.trim();
    if (type === 'title') {
      context.onTitle?.(rest);
      context.notes.add('title', 'info', file, place,
        '`{{#title …}}` sets the browser tab title in mdBook; a book has none, so it is left out');
      pieces.push(slice(last, start));
      last = end;
      continue;
    }
    if (!['include', 'rustdoc_include', 'playground', 'playpen', 'doc_comment_include'].includes(type)) {
      context.notes.add('unknown-helper', 'info', file, place, `\`{{#${type} …}}\` is not an mdBook helper we know; it stays as written`);
      continue;
    }
    const [fileArg = '', ...props] = rest.split(/\s+/);
    const colon = fileArg.indexOf(':');
    const target = colon >= 0 ? fileArg.slice(0, colon) : fileArg;
    const selection = parseSelection(colon >= 0 ? fileArg.slice(colon + 1) : undefined);
    const targetRel = posix.normalize(posix.join(posix.dirname(rel), target));
    if (depth >= MAX_DEPTH) {
      file.message(`\`${match[0]}\` is nested more than ${MAX_DEPTH} includes deep; is a file including itself?`, {place, source: 'mdbook', ruleId: 'mdbook-include'}).fatal = false;
      pieces.push(slice(last, start));
      last = end;
      continue;
    }
    const read = await context.read(targetRel);
    if ('error' in read) {
      // As mdBook does: the helper stays in the text as written.
      file.message(`Cannot include \`${target}\`: ${read.error}`, {place, source: 'mdbook', ruleId: 'mdbook-include'}).fatal = false;
      continue;
    }
    let selected: {line: string; number: number}[];
    if (type === 'rustdoc_include') selected = rustdocLines(read.text, selection);
    else if (type === 'playground' || type === 'playpen') selected = selectLines(read.text, {kind: 'range', start: 0});
    else selected = selectLines(read.text, selection);
    if (type === 'doc_comment_include') selected = selected.map((entry) => ({...entry, line: entry.line.trim().replace(/^(\/\/\/)+/, '').trim()}));
    if (selection.kind === 'anchor' && selected.length === 0 && !new RegExp(`ANCHOR:\\s*${selection.name}\\b`).test(read.text)) {
      file.message(`\`${target}\` has no anchor \`${selection.name}\` (\`ANCHOR: ${selection.name}\` … \`ANCHOR_END: ${selection.name}\`)`, {
        place, source: 'mdbook', ruleId: 'mdbook-include',
      }).fatal = false;
    }
    pieces.push(slice(last, start));
    const inner = await expandHelpers(selected.map((s) => s.line).join('\n'), targetRel, context, selected.map((s) => s.number), depth + 1);
    const innerPiece: Piece = {text: inner.lines.join('\n'), origins: inner.origins};
    if (type === 'playground' || type === 'playpen') {
      const here = originOf(lineIndex(start));
      const body = innerPiece.text.endsWith('\n') || innerPiece.text === '' ? innerPiece : {text: `${innerPiece.text}\n`, origins: [...innerPiece.origins, here]};
      pieces.push({text: `\`\`\`rust${props.length ? `,${props.join(',')}` : ''}\n`, origins: [here, here]}, body, {text: '```\n', origins: [here, here]});
    } else {
      pieces.push(innerPiece);
    }
    last = end;
  }
  pieces.push(slice(last, text.length));
  const joined = joinPieces(pieces);
  if (joined.origins[0]?.path === '') joined.origins[0] = {path: rel, line: 1};
  return joined;
}

// ---------------------------------------------------------------------------------------------
// Reading one page: what mdBook's HTML renderer would do that our Markdown stage does not.

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

interface HeadingInfo {
  node: Heading;
  /** The author's `{#id .class}` block at the end of the heading, if any. */
  attributes?: Attributes;
  /** mdBook's id of the heading (what `page.md#…` links use). */
  mdbookId: string;
}

/** A page (one SUMMARY.md entry) after its helpers are expanded. */
interface Page {
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

interface DocPlan {
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

function analyse(text: MappedText): {tree: MdastRoot; source: string} {
  const source = text.lines.join('\n');
  return {source, tree: markdown.parse(source) as MdastRoot};
}

function headingsOf(tree: MdastRoot): HeadingInfo[] {
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

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits that keep the number of lines (each edit keeps its own newlines). */
function applyEdits(source: string, edits: Edit[]): string {
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

function attributeBlock(attributes: Attributes): string {
  const parts: string[] = [];
  if (attributes.id) parts.push(`#${attributes.id}`);
  for (const c of attributes.classes) parts.push(`.${c}`);
  for (const [key, value] of Object.entries(attributes.values)) parts.push(value === '' ? key : `${key}="${value.replace(/"/g, '&quot;')}"`);
  return `{${parts.join(' ')}}`;
}

/** Escapes text for use as Markdown inline content (a SUMMARY.md title used as a heading). */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#!|$~]/g, '\\$&');
}

/** An URL as a Markdown link destination. */
function destination(url: string): string {
  return encodeURI(url).replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/%23/g, '#');
}

interface BookPages {
  /** Pages by manuscript-relative path. */
  pages: Map<string, Page>;
  /** The `src` folder (a link to `/x.md` is `src/x.md`, as on mdBook's web site). */
  src: string;
}

/** Where a link from `page` to `url` should go now, or how to keep it as text. */
function rewriteLink(url: string, page: Page, book: BookPages): {url: string} | {unwrap: string} | undefined {
  if (url.startsWith('#')) {
    const fragment = safeDecode(url.slice(1));
    const id = page.ids.get(fragment);
    return id && id !== fragment ? {url: `#${id}`} : undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) return undefined;
  const hash = url.indexOf('#');
  const rawPath = (hash >= 0 ? url.slice(0, hash) : url).split('?')[0]!;
  const fragment = hash >= 0 ? safeDecode(url.slice(hash + 1)) : '';
  const decoded = safeDecode(rawPath);
  const from = page.path ?? page.doc.path;
  let target = decoded.startsWith('/')
    ? posix.normalize(posix.join(book.src, decoded))
    : posix.normalize(posix.join(posix.dirname(from), decoded));
  if (decoded === '') target = from;
  let targetPage = book.pages.get(target) ?? book.pages.get(posix.join(target, 'README.md')) ?? book.pages.get(posix.join(target, 'index.md'));
  if (!targetPage && /\.html?$/i.test(target)) {
    const base = target.replace(/\.html?$/i, '');
    targetPage = book.pages.get(`${base}.md`) ?? (posix.basename(base) === 'index' ? book.pages.get(posix.join(posix.dirname(base), 'README.md')) : undefined);
  }
  if (!targetPage) {
    const why = target.endsWith('.md') ? 'Markdown files that are not chapters in SUMMARY.md' : 'files that are not part of the book';
    return {unwrap: `Links to ${why} are kept as their text: \`${url}\``};
  }
  const docRel = posix.relative(posix.dirname(page.doc.path), targetPage.doc.path) || posix.basename(targetPage.doc.path);
  const id = fragment ? targetPage.ids.get(fragment) ?? fragment : targetPage.index > 0 ? targetPage.titleId ?? '' : '';
  const next = `${destination(docRel)}${id ? `#${id}` : ''}`;
  return next === url ? undefined : {url: next};
}

/** Where an image of `page` is, relative to the document it is now part of; remote images are reported. */
function rewriteImage(url: string, page: Page, book: BookPages): {url: string} | {remote: true} | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) return {remote: true};
  const decoded = safeDecode(url.split(/[?#]/)[0]!);
  const from = page.path ?? page.doc.path;
  const target = decoded.startsWith('/') ? posix.normalize(posix.join(book.src, decoded)) : posix.normalize(posix.join(posix.dirname(from), decoded));
  const rel = posix.relative(posix.dirname(page.doc.path), target);
  return rel === posix.normalize(decoded) ? undefined : {url: destination(rel)};
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Offsets of a link or image destination inside `source` (after `](`), or undefined. */
function destinationRange(source: string, from: number, end: number): {start: number; end: number} | undefined {
  let i = source.indexOf('](', from);
  if (i < 0 || i >= end) return undefined;
  i += 2;
  while (i < end && /[ \t\n]/.test(source[i]!)) i++;
  if (source[i] === '<') {
    const close = source.indexOf('>', i);
    return close > 0 && close < end ? {start: i + 1, end: close} : undefined;
  }
  let depth = 0;
  let j = i;
  for (; j < end; j++) {
    const ch = source[j]!;
    if (ch === '\\') {
      j++;
      continue;
    }
    if (/\s/.test(ch)) break;
    if (ch === '(') depth++;
    if (ch === ')') {
      if (depth === 0) break;
      depth--;
    }
  }
  return {start: i, end: j};
}

/** The `]` that closes the `[` at `open`, skipping escapes and nested brackets. */
function closingBracket(source: string, open: number, end: number): number {
  let depth = 0;
  for (let i = open; i < end; i++) {
    const ch = source[i]!;
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '[') depth++;
    if (ch === ']' && --depth === 0) return i;
  }
  return -1;
}

const REMOTE_IMAGE = 'Remote images cannot be embedded in a book: a Markdown image becomes a link to the image (its text inside a link), an HTML `<img>` its alternative text';
const highlighter = createLowlight(common);
/** What the Markdown stage prints as plain text (rehype-highlight's `plainText`). */
const PLAIN_LANGUAGES = new Set(['text', 'txt', 'plain', 'math']);
const MDBOOK_CODE_ATTRIBUTES = /^(ignore|should_panic|no_run|compile_fail|edition\d{4}|editable|noplayground|noplaypen|mdbook-runnable|hidelines=.*|test_harness|ignore-.*)$/;

/**
 * The edits that make one page read as mdBook shows it, in the place SUMMARY.md gives it.
 * Returns the new text (same origins, hidden lines removed, headings inserted).
 */
function preparePage(page: Page, book: BookPages, settings: MdBookSettings, files: SourceFiles, notes: Notes, summaryRel: string, renames: Map<string, string>): MappedText {
  const {source, tree} = page;
  const edits: Edit[] = [];
  const removeLines = new Set<number>();
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const originAt = (offset: number | undefined): {file: VFile; place?: Place} => {
    if (offset === undefined) return {file: files.get(page.path ?? summaryRel)};
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= offset) line++;
    const origin = page.text.origins[line]!;
    return {file: files.get(origin.path), place: {line: origin.line, column: offset - lineStarts[line]! + 1}};
  };
  const note = (kind: string, severity: 'info' | 'warning', offset: number | undefined, reason: string) => {
    const {file, place} = originAt(offset);
    notes.add(kind, severity, file, place, reason);
  };
  const {doc} = page;

  // Headings: one level down per level of nesting; ids mdBook's links can find; only SUMMARY.md numbers.
  page.headings.forEach((heading, i) => {
    const node = heading.node;
    const start = node.position!.start.offset!;
    const end = node.position!.end.offset!;
    const isTitle = i === page.titleIndex;
    // A page with several `#` headings: the first is its title, the others are its sections.
    const shift = page.depth + (!isTitle && page.h1Count > 1 ? 1 : 0);
    if (!isTitle && node.depth === 1) note('several-titles', 'info', start, 'A page has more than one `#` heading: the first is the chapter title, the later ones become sections one level down');
    const level = Math.min(6, node.depth + shift);
    if (node.depth + shift > 6) note('heading-depth', 'info', start, 'Headings nested deeper than `######` by sub-chapters stay at level 6');
    const numberedSection = isTitle && page.depth === 1 && doc.sectionNumbers;
    const classes = [...(heading.attributes?.classes ?? [])];
    if (level === 2 && doc.kind === 'chapter' && !numberedSection && !classes.includes('unnumbered')) classes.push('unnumbered');
    const attributes: Attributes = {...heading.attributes, id: page.ids.get(heading.mdbookId)!, classes, values: heading.attributes?.values ?? {}};
    const raw = source.slice(start, end);
    const atx = /^[ \t]*#/.test(raw);
    const first = node.children[0];
    const last = node.children.at(-1);
    const contentStart = first?.position?.start.offset;
    if (level !== node.depth) {
      if (atx) {
        const hashes = start + raw.indexOf('#');
        edits.push({start: hashes, end: hashes, text: '#'.repeat(level - node.depth)});
      } else if (contentStart !== undefined && !source.slice(contentStart, last!.position!.end.offset!).includes('\n')) {
        // Setext heading: written as an ATX one, its underline line left blank.
        const underline = source.lastIndexOf('\n', end - 1) + 1;
        edits.push({start: contentStart, end: contentStart, text: `${'#'.repeat(level)} `}, {start: underline, end, text: ''});
      } else {
        note('heading-depth', 'info', start, 'A multi-line underlined heading keeps its level');
      }
    }
    if (isTitle && page.depth > 0 && !numberedSection && page.entry.number && contentStart !== undefined) {
      edits.push({start: contentStart, end: contentStart, text: `${page.entry.number.join('.')} `});
    }
    if (last?.type === 'text' && heading.attributes) {
      const lastEnd = last.position!.end.offset!;
      const open = source.lastIndexOf('{', lastEnd - 1);
      const close = source.lastIndexOf('}', lastEnd - 1);
      if (open >= 0 && close > open) edits.push({start: open, end: close + 1, text: attributeBlock(attributes)});
    } else if (last) {
      const lastEnd = last.position!.end.offset!;
      edits.push({start: lastEnd, end: lastEnd, text: ` ${attributeBlock(attributes)}`});
    }
  });

  // Code blocks: mdBook's attributes dropped, hidden lines left out.
  visit(tree, 'code', (node: Code) => {
    const start = node.position!.start.offset!;
    const line = source.slice(start, source.indexOf('\n', start) < 0 ? source.length : source.indexOf('\n', start));
    const fence = /^([ \t]*)(`{3,}|~{3,})([^\n]*)$/.exec(line);
    if (!fence) return; // indented code
    const info = fence[3]!;
    let prefix: string | undefined;
    let language = node.lang ?? '';
    if (info.trim() && !info.includes('{')) {
      const tokens = info.trim().split(/[\s,]+/).filter(Boolean);
      language = tokens[0] ?? '';
      const attributes = tokens.slice(1);
      const hidelines = attributes.find((a) => a.startsWith('hidelines='));
      if (hidelines) prefix = hidelines.slice('hidelines='.length);
      if (attributes.length > 0 && attributes.every((a) => MDBOOK_CODE_ATTRIBUTES.test(a)) && (highlighter.registered(language) || PLAIN_LANGUAGES.has(language))) {
        const infoStart = start + fence[1]!.length + fence[2]!.length;
        edits.push({start: infoStart, end: infoStart + info.length, text: language});
        note('code-attributes', 'info', start, `Code block attributes such as \`${attributes[0]}\` only matter to mdBook's playground and tests; they are left out`);
      }
    }
    if (language && !info.includes('{') && !highlighter.registered(language) && !PLAIN_LANGUAGES.has(language)) {
      // mdBook's highlight.js skips languages it has no grammar for; so do we, without a warning per block.
      const infoStart = start + fence[1]!.length + fence[2]!.length;
      edits.push({start: infoStart, end: infoStart + info.length, text: 'text'});
      note(`code-language:${language}`, 'info', start, `Code in \`${language}\` has no highlighting grammar here and is printed as plain text`);
    }
    prefix ??= settings.hidelines[language];
    const rust = language === 'rust';
    if (!rust && !prefix) return;
    const firstLine = source.slice(0, start).split('\n').length; // 1-based
    const endOffset = node.position!.end.offset!;
    const lastLine = source.slice(0, endOffset).split('\n').length;
    const indent = node.position!.start.column - 1;
    for (let n = firstLine + 1; n <= lastLine; n++) {
      const body = page.text.lines[n - 1]!.slice(indent);
      if (n === lastLine && /^[ \t>]*(`{3,}|~{3,})[ \t]*$/.test(body)) break;
      if (rust && !prefix) {
        const match = /^(\s*)#(.?)/.exec(body);
        if (!match) continue;
        if (match[2] === '#') {
          const at = lineStarts[n - 1]! + indent + match[1]!.length;
          edits.push({start: at, end: at + 1, text: ''});
        } else if (match[2] === '' || match[2] === ' ') removeLines.add(n - 1);
      } else if (prefix && body.trimStart().startsWith(prefix)) removeLines.add(n - 1);
    }
  });

  // Text: `$` is a dollar sign (not math) and a line starting `::` is text (not a directive).
  const atLineStart = (offset: number) => {
    let j = offset - 1;
    while (j >= 0 && /[ \t>]/.test(source[j]!)) j--;
    return j < 0 || source[j] === '\n';
  };
  visit(tree, 'text', (node: Text, _index, parent) => {
    const start = node.position?.start.offset;
    const end = node.position?.end.offset;
    if (start === undefined || end === undefined) return;
    if (parent?.type === 'link' && source[parent.position?.start.offset ?? 0] !== '[') return; // autolink literal
    for (let i = start; i < end; i++) {
      if (source[i] === '\\') i++;
      else if ((source[i] === '$' && !settings.math) || (source[i] === ':' && source[i + 1] === ':' && atLineStart(i))) {
        edits.push({start: i, end: i, text: '\\'});
        if (source[i] === ':') i++;
      }
    }
  });

  // Footnote and link-reference labels that another page of the same document also defines.
  const rename = (identifier: string) => renames.get(`${page.index}\u0000${identifier.toLowerCase()}`);
  visit(tree, (node) => {
    if (node.type !== 'footnoteReference' && node.type !== 'footnoteDefinition') return;
    const n = node as FootnoteReference | FootnoteDefinition;
    const renamed = rename(`^${n.identifier}`);
    if (!renamed) return;
    const start = n.position!.start.offset!;
    const close = source.indexOf(']', start);
    edits.push({start: start + 2, end: close, text: renamed.slice(1)});
  });
  visit(tree, (node) => {
    if (node.type !== 'definition' && node.type !== 'linkReference' && node.type !== 'imageReference') return;
    const n = node as Definition | LinkReference | ImageReference;
    const renamed = rename(n.identifier);
    if (!renamed) return;
    const start = n.position!.start.offset!;
    const end = n.position!.end.offset!;
    if (n.type === 'definition') {
      const open = source.indexOf('[', start);
      edits.push({start: open + 1, end: closingBracket(source, open, end), text: renamed});
    } else if (n.referenceType === 'full') {
      const open = source.lastIndexOf('[', end - 1);
      edits.push({start: open + 1, end: end - 1, text: renamed});
    } else if (n.referenceType === 'collapsed') {
      edits.push({start: end - 2, end, text: `[${renamed}]`});
    } else {
      edits.push({start: end, end, text: `[${renamed}]`});
    }
  });

  // Links and images.
  const definitions = new Map<string, Definition>();
  visit(tree, 'definition', (node: Definition) => {
    if (!definitions.has(node.identifier)) definitions.set(node.identifier, node);
  });
  const unwrap = (node: Link | LinkReference, reason: string) => {
    const start = node.position!.start.offset!;
    const end = node.position!.end.offset!;
    const first = node.children[0]?.position?.start.offset;
    const last = node.children.at(-1)?.position?.end.offset;
    if (first === undefined || last === undefined) edits.push({start, end, text: ''});
    else edits.push({start, end: first, text: ''}, {start: last, end, text: ''});
    note('link-outside-book', 'warning', start, reason);
  };
  const remote = (node: Image | ImageReference, insideLink: boolean) => {
    const start = node.position!.start.offset!;
    const end = node.position!.end.offset!;
    if (insideLink) {
      // The alt text stands in for the picture inside the link.
      const close = closingBracket(source, start + 1, end);
      edits.push({start, end: start + 2, text: ''}, {start: close, end, text: ''});
    } else {
      edits.push({start, end: start + 1, text: ''}); // `![alt](url)` → `[alt](url)`
    }
    note('remote-image', 'warning', start, REMOTE_IMAGE);
  };
  const rewritten = new Set<Definition>();
  /** A new destination for a `[label]: url` definition (once: every reference shares it). */
  const rewriteDefinition = (definition: Definition, url: string) => {
    if (rewritten.has(definition)) return;
    rewritten.add(definition);
    let i = source.indexOf(']:', definition.position!.start.offset!) + 2;
    while (/[ \t\n]/.test(source[i] ?? '')) i++;
    const end = source[i] === '<' ? source.indexOf('>', i) + 1 : i + (/^\S+/.exec(source.slice(i))?.[0].length ?? 0);
    edits.push({start: i, end, text: url});
  };
  visit(tree, (node, _index, parent) => {
    const insideLink = parent?.type === 'link' || parent?.type === 'linkReference';
    if (node.type === 'link') {
      const result = rewriteLink(node.url, page, book);
      if (!result) return;
      if ('unwrap' in result) return void unwrap(node, result.unwrap);
      const lastChild = node.children.at(-1)?.position?.end.offset ?? node.position!.start.offset! + 1;
      const range = destinationRange(source, lastChild, node.position!.end.offset!);
      if (range) edits.push({...range, text: result.url}); // (an autolink such as <chapter.md> has none: left as written)
      return;
    }
    if (node.type === 'image') {
      const result = rewriteImage(node.url, page, book);
      if (!result) return;
      if ('remote' in result) return void remote(node, insideLink);
      const start = node.position!.start.offset!;
      const close = closingBracket(source, start + 1, node.position!.end.offset!);
      const range = close > 0 ? destinationRange(source, close, node.position!.end.offset!) : undefined;
      if (range) edits.push({...range, text: result.url});
      return;
    }
    if (node.type === 'linkReference' || node.type === 'imageReference') {
      const definition = definitions.get(node.identifier);
      if (!definition) return;
      if (node.type === 'linkReference') {
        const result = rewriteLink(definition.url, page, book);
        if (result && 'unwrap' in result) return void unwrap(node, result.unwrap);
        if (result) rewriteDefinition(definition, result.url);
      } else {
        const result = rewriteImage(definition.url, page, book);
        if (result && 'remote' in result) remote(node, insideLink);
        else if (result) rewriteDefinition(definition, result.url);
      }
    }
  });
  // A lone image is an image in mdBook, not a figure whose caption is the alt text: a trailing
  // empty comment keeps our figure rule from applying (the comment is dropped when sanitising).
  visit(tree, 'paragraph', (node: Paragraph) => {
    const content = node.children.filter((c) => !(c.type === 'text' && !c.value.trim()));
    if (content.length !== 1 || content[0]!.type !== 'image') return;
    const end = node.position!.end.offset!;
    edits.push({start: end, end, text: '<!-- -->'});
  });
  // Raw HTML: links and images in `href`/`src`.
  visit(tree, 'html', (node: Html) => {
    const start = node.position!.start.offset!;
    const raw = source.slice(start, node.position!.end.offset!);
    for (const tag of raw.matchAll(/<(a|img)\b[^>]*>/gi)) {
      const tagStart = start + tag.index!;
      const isImage = tag[1]!.toLowerCase() === 'img';
      for (const attr of tag[0].matchAll(/\s(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/gi)) {
        const value = attr[2] ?? attr[3] ?? attr[4] ?? '';
        const valueStart = tagStart + attr.index! + attr[0].length - value.length - (attr[2] !== undefined || attr[3] !== undefined ? 1 : 0);
        if (isImage && attr[1]!.toLowerCase() === 'src') {
          const result = rewriteImage(value, page, book);
          if (!result) continue;
          if ('remote' in result) {
            const alt = /\salt\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag[0]);
            edits.push({start: tagStart, end: tagStart + tag[0].length, text: alt ? (alt[1] ?? alt[2] ?? '') : ''});
            note('remote-image', 'warning', tagStart, REMOTE_IMAGE);
          } else edits.push({start: valueStart, end: valueStart + value.length, text: result.url});
        } else if (!isImage && attr[1]!.toLowerCase() === 'href') {
          const result = rewriteLink(value, page, book);
          if (!result) continue;
          if ('unwrap' in result) {
            const attrStart = tagStart + attr.index!;
            edits.push({start: attrStart, end: attrStart + attr[0].length, text: ''});
            note('link-outside-book', 'warning', tagStart, result.unwrap);
          } else edits.push({start: valueStart, end: valueStart + value.length, text: result.url});
        }
      }
    }
  });

  const edited = applyEdits(source, edits).split('\n');
  const lines: string[] = [];
  const origins: Origin[] = [];
  edited.forEach((line, i) => {
    if (removeLines.has(i)) return;
    lines.push(line);
    origins.push(page.text.origins[i]!);
  });

  // A page without a `#` title gets SUMMARY.md's name: at the end for a chapter (so no line
  // moves; the Markdown stage takes the first `#` heading wherever it is), at the start for a sub-chapter.
  if (page.titleIndex === -1) {
    const here: Origin = {path: summaryRel, line: page.entry.place.line};
    const title = escapeMarkdown(page.entry.title) || 'Untitled';
    if (page.depth === 0) {
      lines.push('', `# ${title}`);
      origins.push(here, here);
    } else {
      const numbered = page.depth === 1 && doc.sectionNumbers;
      const attributes: Attributes = {id: page.titleId!, classes: numbered || doc.kind !== 'chapter' || page.depth > 1 ? [] : ['unnumbered'], values: {}};
      const number = !numbered && page.entry.number ? `${page.entry.number.join('.')} ` : '';
      lines.unshift(`${'#'.repeat(Math.min(6, 1 + page.depth))} ${number}${title} ${attributeBlock(attributes)}`, '');
      origins.unshift(here, here);
    }
  }
  return {lines, origins};
}

// ---------------------------------------------------------------------------------------------
// After the Markdown stage.

/** mdBook has no citations: `@name` and `[@name]` that the Markdown stage took for citations are text again. */
function citationsToText(tree: HastRoot) {
  visit(tree, 'element', (node: Element, index, parent) => {
    if (!parent || index === undefined || node.tagName !== 'span' || !hasClass(node, 'cite')) return;
    const items = JSON.parse(String(node.properties?.dataCites ?? '[]')) as {key: string; prefix?: string; locator?: string}[];
    const text = node.properties?.dataMode === 'narrative'
      ? `@${items[0]?.key ?? ''}`
      : `[${items.map((i) => `${i.prefix ? `${i.prefix} ` : ''}@${i.key}${i.locator ? `, ${i.locator}` : ''}`).join('; ')}]`;
    (parent.children as ElementContent[])[index] = {type: 'text', value: text};
  });
}

/** mdBook's stylesheet hides `class="hidden"` (“will not be shown”): so does the book. */
function removeHidden(tree: HastRoot) {
  visit(tree, 'element', (node: Element, index, parent) => {
    if (!parent || index === undefined || !hasClass(node, 'hidden')) return;
    (parent.children as ElementContent[]).splice(index, 1);
    return index;
  });
}

/**
 * Online editions often start a chapter with their own label, `<div class="chapter">Chapter 1</div>`;
 * the book prints “Chapter 1” above every chapter title already, so such a label near the top
 * of a chapter is left out (reported once).
 */
function removeChapterLabel(doc: Doc, notes: {count: number}) {
  const children = doc.tree.children;
  for (let i = 0; i < Math.min(children.length, 4); i++) {
    const node = children[i]!;
    if (node.type !== 'element' || !['div', 'p', 'span', 'header'].includes(node.tagName)) continue;
    if (toString(node).replace(/\s+/g, ' ').trim().toLowerCase() !== `chapter ${doc.number}`) continue;
    if (notes.count++ === 0) {
      doc.file.info(`\`${toString(node).trim()}\` repeats the chapter label the book prints above each chapter title; such labels are left out`, {
        place: node.position, source: 'mdbook', ruleId: 'mdbook-chapter-label',
      });
    }
    children.splice(i, 1);
    return;
  }
}

/** Moves the Markdown stage's messages from the merged document to the author's files and lines. */
function remapMessages(docFile: VFile, origins: Origin[], files: SourceFiles, fallback: string) {
  for (const message of docFile.messages) {
    const line = message.line ?? undefined;
    const origin = line !== undefined ? origins[line - 1] : undefined;
    const file = files.get(origin?.path ?? fallback);
    const endLine = message.place && 'end' in message.place ? message.place.end.line : undefined;
    const endOrigin = endLine !== undefined ? origins[endLine - 1] : undefined;
    let place: VFile['messages'][number]['place'];
    if (origin) {
      const start = {line: origin.line, column: message.column ?? 1};
      place = endOrigin && endOrigin.path === origin.path && message.place && 'end' in message.place
        ? {start, end: {line: endOrigin.line, column: message.place.end.column}}
        : start;
    }
    const options = {place, source: message.source ?? undefined, ruleId: message.ruleId ?? undefined};
    if (message.fatal === true) file.message(message.reason, options).fatal = true;
    else if (message.fatal === false) file.message(message.reason, options).fatal = false;
    else file.info(message.reason, options);
  }
  docFile.messages.length = 0;
}

// ---------------------------------------------------------------------------------------------
// The stage.

const ROMAN = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII', 'XIII', 'XIV', 'XV'];
const RESERVED_IDS = new Set(['back-glossary', 'back-bibliography', 'back-index']);

/**
 * Loads an mdBook project (a folder with book.toml) into the Book, like loadBook does for
 * book.yaml; the build cache's hooks (LoadOptions) are used the same way.
 */
export async function loadMdBook(manuscript: string, options: LoadOptions = {}): Promise<Loaded> {
  const root = path.resolve(manuscript);
  const displayRoot = path.relative(process.cwd(), root) || '.';
  const show = (rel: string) => path.join(displayRoot, rel);
  const {project, files: configFiles} = await loadMdBookProject(root, show);
  if (!project) return {files: configFiles};
  const {config, summary, settings, summaryFile} = project;
  const summaryRel = posix.join(settings.src, 'SUMMARY.md');
  const sources = new SourceFiles(show);
  sources.register(summaryRel, summaryFile);
  sources.register('book.toml', project.tomlFile);
  const notes = new Notes();
  const texts = new Map<string, string>();
  const read = async (rel: string): Promise<{text: string} | {error: string}> => {
    const known = texts.get(rel);
    if (known !== undefined) return {text: known};
    try {
      const text = (await readInside(root, rel)).bytes.toString('utf8');
      texts.set(rel, text);
      return {text};
    } catch (error) {
      return {error: error instanceof OutsideManuscriptError ? 'it is outside the book folder' : `\`${rel}\` does not exist`};
    }
  };

  // Documents from SUMMARY.md.
  const docs: DocPlan[] = [];
  const seen = new Set<string>();
  const usedIds = new Set<string>();
  const stemId = (prefix: string, rel: string) => {
    const base = `${prefix}-${posix.basename(rel, '.md').replace(/[^A-Za-z0-9-]/g, '-')}`;
    let id = base;
    for (let n = 2; usedIds.has(id) || RESERVED_IDS.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  const draftNote = (entry: SummaryEntry, what: string) => {
    summaryFile.info(`Draft chapter “${entry.title}”${entry.number ? ` (${entry.number.join('.')})` : ''} has no file: ${what}`, {
      place: entry.place, source: 'mdbook', ruleId: 'mdbook-draft',
    });
  };
  // Pages are planned first (text read later): [entry, depth] in reading order per document.
  const plan = (entries: SummaryEntry[], kind: DocKind, partIndex?: number) => {
    for (const entry of entries) {
      const flat: {entry: SummaryEntry; depth: number}[] = [];
      const printable = (e: SummaryEntry): boolean => Boolean(e.path) || e.children.some(printable);
      const walk = (e: SummaryEntry, depth: number) => {
        if (e.path && seen.has(e.path)) {
          summaryFile.message(`\`${e.path}\` is listed twice in SUMMARY.md; only its first entry is used`, {place: e.place, source: 'mdbook', ruleId: 'mdbook-summary'}).fatal = false;
        } else if (!printable(e)) {
          draftNote(e, e.children.length > 0 ? 'it and its sub-chapters (drafts too) are left out' : 'it is left out');
          return;
        } else {
          if (e.path) seen.add(e.path);
          else draftNote(e, 'only its title is printed, before its sub-chapters');
          flat.push({entry: e, depth});
        }
        e.children.forEach((child) => walk(child, depth + 1));
      };
      walk(entry, 0);
      // Nothing to print, or the chapter was listed before (its sub-chapters were reported with it).
      if (flat.length === 0 || flat[0]!.entry !== entry) continue;
      const docPath = flat.find((f) => f.entry.path)?.entry.path;
      if (!docPath) continue;
      const number = kind === 'chapter' ? entry.number?.[0] : undefined;
      const id = kind === 'chapter' ? `ch${String(number).padStart(2, '0')}` : stemId(kind, docPath);
      const subNumbers = flat.filter((f) => f.depth === 1).map((f) => f.entry.number?.at(-1));
      const doc: DocPlan = {
        id, kind, path: docPath, pages: [],
        sectionNumbers: subNumbers.every((n, i) => n === i + 1),
        ...(number !== undefined ? {number} : {}),
        ...(partIndex !== undefined ? {partIndex} : {}),
      };
      flat.forEach((f, index) => doc.pages.push({
        entry: f.entry, ...(f.entry.path ? {path: f.entry.path} : {}), depth: f.depth, index, doc,
        text: {lines: [], origins: []}, tree: {type: 'root', children: []}, source: '', headings: [], titleIndex: -1, h1Count: 0, ids: new Map(),
      }));
      docs.push(doc);
    }
  };
  plan(summary.prefix, 'front');
  const parts: Part[] = [];
  let partCount = 0;
  for (const part of summary.parts) {
    const index = part.title ? partCount : undefined;
    const before = docs.length;
    plan(part.chapters, 'chapter', index);
    if (part.title && docs.length > before) {
      parts.push({title: part.title, label: `Part ${ROMAN[partCount] ?? partCount + 1}`, id: `part${partCount + 1}`, docIds: docs.slice(before).map((d) => d.id)});
      partCount++;
    }
  }
  plan(summary.suffix, 'back');

  // Read and expand every page; learn its headings.
  const book: BookPages = {pages: new Map(), src: settings.src};
  for (const doc of docs) {
    const pages: Page[] = [];
    for (const page of doc.pages) {
      if (page.path) {
        const result = await read(page.path);
        if ('error' in result) {
          summaryFile.message(`Cannot read chapter “${page.entry.title}”: ${result.error}`, {place: page.entry.place, source: 'mdbook', ruleId: 'missing-file'}).fatal = true;
          continue;
        }
        sources.get(page.path);
        page.text = settings.expandLinks
          ? await expandHelpers(result.text, page.path, {read, files: sources, notes})
          : mappedText(result.text, page.path);
      } else {
        page.text = {lines: [''], origins: [{path: summaryRel, line: page.entry.place.line}]};
      }
      Object.assign(page, analyse(page.text));
      page.headings = headingsOf(page.tree);
      page.titleIndex = page.headings.findIndex((h) => h.node.depth === 1);
      page.h1Count = page.headings.filter((h) => h.node.depth === 1).length;
      pages.push(page);
    }
    pages.forEach((page, index) => {
      page.index = index;
      for (const heading of page.headings) {
        // Our ids hold a `.`, which neither mdBook's nor the Markdown stage's ids have: no clashes.
        const safe = heading.mdbookId.replace(/[^\w-]/g, (c) => `_${c.codePointAt(0)!.toString(16)}`);
        page.ids.set(heading.mdbookId, heading.attributes?.id ?? (index === 0 ? `${doc.id}.${safe}` : `${doc.id}.${index}.${safe}`));
      }
      if (index > 0) page.titleId = page.titleIndex >= 0 ? page.ids.get(page.headings[page.titleIndex]!.mdbookId) : `${doc.id}.${index}..title`;
      if (page.path) book.pages.set(page.path, page);
    });
    doc.pages = pages;
  }
  const liveDocs = docs.filter((doc) => doc.pages.some((p) => p.path));

  // Labels (footnotes, link references) defined by more than one page of a document get a page prefix.
  const inputs: (DocInput & {origins: Origin[]})[] = [];
  for (const doc of liveDocs) {
    const definedBy = new Map<string, Set<number>>();
    for (const page of doc.pages) {
      visit(page.tree, (node: Nodes) => {
        if (node.type === 'definition' || node.type === 'footnoteDefinition') {
          const key = `${node.type === 'footnoteDefinition' ? '^' : ''}${node.identifier.toLowerCase()}`;
          definedBy.set(key, (definedBy.get(key) ?? new Set()).add(page.index));
        }
      });
    }
    const renames = new Map<string, string>();
    for (const [key, pages] of definedBy) {
      if (pages.size < 2) continue;
      for (const index of pages) {
        if (index === 0) continue;
        const label = key.startsWith('^') ? `^p${index}-${key.slice(1)}` : `p${index}-${key}`;
        renames.set(`${index}\u0000${key}`, label);
      }
    }
    const lines: string[] = [];
    const origins: Origin[] = [];
    for (const page of doc.pages) {
      const prepared = preparePage(page, book, settings, sources, notes, summaryRel, renames);
      if (lines.length > 0) {
        lines.push('');
        origins.push(origins.at(-1)!);
      }
      lines.push(...prepared.lines);
      origins.push(...prepared.origins);
    }
    inputs.push({
      id: doc.id, kind: doc.kind, path: doc.path, text: `${lines.join('\n')}\n`, origins,
      ...(doc.number !== undefined ? {number: doc.number} : {}),
      ...(doc.partIndex !== undefined ? {partIndex: doc.partIndex} : {}),
    });
  }
  notes.flush();

  // Bibliography and glossary, when book.yaml names them.
  const configFile = sources.byPath.get('book.yaml') ?? configFiles.find((f) => f.path === show('book.yaml')) ?? project.tomlFile;
  const readConfigured = async (rel: string) => {
    const result = await read(rel);
    if ('error' in result) {
      configFile.message(`\`${rel}\` named in book.yaml cannot be read: ${result.error}`, {source: 'book', ruleId: 'missing-file'}).fatal = true;
      return undefined;
    }
    return result.text;
  };
  const bibSources: {path: string; text: string}[] = [];
  for (const rel of config.bibliography) {
    const text = await readConfigured(rel);
    if (text !== undefined) bibSources.push({path: show(rel), text});
  }
  const glossaryFiles: {path: string; data: unknown; file: VFile}[] = [];
  for (const rel of config.glossary) {
    const text = await readConfigured(rel);
    if (text === undefined) continue;
    const file = new VFile({path: show(rel), value: text});
    sources.register(rel, file);
    try {
      glossaryFiles.push({path: rel, data: parseYaml(text), file});
    } catch (error) {
      file.message(`Malformed YAML: ${(error as Error).message.split('\n')[0]}`, {source: 'book', ruleId: 'yaml-syntax'}).fatal = true;
    }
  }

  // The Markdown stage, then the book-wide ones, as for any manuscript.
  const parsedDocs: Doc[] = [];
  const labels: Label[] = [];
  const images: ImageRef[] = [];
  const chapterLabels = new Set<string>();
  const labelNotes = {count: 0};
  const docInputs: DocInput[] = inputs.map(({origins: _origins, ...input}) => ({...input, displayPath: show(input.path)}));
  const parsedList = options.parseDocs ? await options.parseDocs(docInputs) : docInputs.map((input) => parseDoc(input));
  for (const parsed of parsedList) {
    if (config.bibliography.length === 0) citationsToText(parsed.doc.tree);
    removeHidden(parsed.doc.tree);
    if (parsed.doc.number !== undefined) removeChapterLabel(parsed.doc, labelNotes);
    for (const label of parsed.labels) {
      // Chapter labels come from file names, which repeat in mdBook projects (`*/README.md`).
      if (label.kind === 'ch') {
        if (chapterLabels.has(label.label)) continue;
        chapterLabels.add(label.label);
      }
      labels.push(label);
    }
    parsedDocs.push(parsed.doc);
    images.push(...parsed.images);
  }
  const bibliography = loadBibliography(bibSources, config.citationStyle, options.citationMemo?.(bibSources, config.citationStyle));
  const resolved = resolveBook({docs: parsedDocs, labels, bibliography, glossary: glossaryFromYaml(glossaryFiles), language: config.language});
  const fileOf = new Map(parsedDocs.map((doc) => [doc.id, doc.file]));
  const refs: {path: string; node?: Element; file: VFile}[] = images.map((ref) => ({path: ref.path, node: ref.node, file: fileOf.get(ref.docId)!}));
  if (config.cover) refs.push({path: posix.normalize(config.cover.image), file: configFile});
  const assets = await loadAssets(root, refs);

  // Messages of the merged documents go back to the author's files and lines.
  inputs.forEach((input, i) => remapMessages(parsedDocs[i]!.file, input.origins, sources, input.path));
  const coverAsset = config.cover ? assets.get(posix.normalize(config.cover.image)) : undefined;
  const result: Book = {
    config, root, docs: resolved.docs, parts, assets,
    ...(coverAsset ? {cover: coverAsset} : {}),
    labels: resolved.labels, ids: resolved.ids, bibliography: [], glossary: [], index: resolved.index,
  };
  const files = [...configFiles, ...[...sources.byPath.values()].filter((f) => !configFiles.includes(f))];
  for (const file of bibliography.files) if (!files.includes(file)) files.push(file);
  return {book: result, files};
}
