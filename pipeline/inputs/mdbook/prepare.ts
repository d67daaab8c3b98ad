/**
 * The edits that make one page read as mdBook shows it, in the place SUMMARY.md gives it:
 * headings one level down per level of nesting (with ids mdBook's links find, and only
 * SUMMARY.md's numbers), code as mdBook shows it (code.ts), links and images for the book's
 * structure (references.ts), and SUMMARY.md's name as the title of a page without one. No line
 * moves, so every message still points at the author's line.
 */
import type {VFile} from 'vfile';
import type {Attributes} from '../../plugins/attributes.ts';
import type {MappedText, Origin} from '../origins.ts';
import type {Place} from './notes.ts';
import type {PageEdits, PrepareContext} from './edits.ts';
import {applyEdits, attributeBlock, escapeMarkdown, type Edit, type Page} from './page.ts';
import {editCode} from './code.ts';
import {editReferences} from './references.ts';


/** The page's text as mdBook shows it (same origins, hidden lines removed, headings inserted). */
export function preparePage(page: Page, context: PrepareContext): MappedText {
  const {source, tree} = page;
  const {files, notes, summaryRel} = context;
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
  const pageEdits: PageEdits = {page, source, tree, edits, removeLines, lineStarts, note};
  editHeadings(pageEdits);
  editCode(pageEdits, context.settings);
  editReferences(pageEdits, context);
  const edited = applyEdits(source, edits).split('\n');
  const lines: string[] = [];
  const origins: Origin[] = [];
  edited.forEach((line, i) => {
    if (removeLines.has(i)) return;
    lines.push(line);
    origins.push(page.text.origins[i]!);
  });

  addMissingTitle(page, summaryRel, lines, origins);
  return {lines, origins};
}

/** Headings: one level down per level of nesting; ids mdBook's links can find; only SUMMARY.md numbers. */
function editHeadings({page, source, edits, note}: PageEdits): void {
  const {doc} = page;
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
}

/**
 * A page without a `#` title gets SUMMARY.md's name: at the end for a chapter (so no line
 * moves; the Markdown stage takes the first `#` heading wherever it is), at the start for a sub-chapter.
 */
function addMissingTitle(page: Page, summaryRel: string, lines: string[], origins: Origin[]): void {
  const {doc} = page;
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
}
