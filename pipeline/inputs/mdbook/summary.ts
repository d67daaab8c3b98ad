/**
 * mdBook's `src/SUMMARY.md`: prefix chapters, `# Part` headings, numbered chapters with nested
 * sub-chapters, separators, drafts, suffix chapters. Problems are messages at their line.
 */
import path from 'node:path';
import {unified} from 'unified';
import remarkParse from 'remark-parse';
import {toString} from 'mdast-util-to-string';
import type {Root, RootContent, List, ListItem, Paragraph, Link} from 'mdast';
import {VFile} from 'vfile';
import {hasScheme} from '../../util/urls.ts';

/** One entry of SUMMARY.md. */
export interface SummaryEntry {
  /** The name SUMMARY.md gives the chapter. */
  title: string;
  /** Manuscript-relative path of the Markdown file (forward slashes); undefined for a draft `[Draft]()`. */
  path?: string;
  /** mdBook's number (`[1, 2]` is 1.2.) for numbered chapters; undefined for prefix and suffix chapters. */
  number?: number[];
  /** Where SUMMARY.md names it. */
  place: {line: number; column: number};
  /** Nested sub-chapters, in order. */
  children: SummaryEntry[];
}

export interface SummaryPart {
  /** The `# Part` heading; undefined for numbered chapters before the first part heading. */
  title?: string;
  place?: {line: number; column: number};
  chapters: SummaryEntry[];
}

export interface Summary {
  prefix: SummaryEntry[];
  parts: SummaryPart[];
  suffix: SummaryEntry[];
}

/**
 * Parses SUMMARY.md with remark, following mdBook's rules: an optional first `# Title`, prefix
 * chapters (links outside lists), then parts (`# Part` headings) of numbered chapters (list
 * items, numbered across lists and parts, nested lists are sub-chapters), then suffix chapters.
 * `---` separators only draw a line in mdBook's sidebar. Paths are made manuscript-relative.
 */
export function parseSummary(text: string, displayPath: string, src: string): {file: VFile; summary: Summary} {
  const file = new VFile({path: displayPath, value: text});
  const tree = unified().use(remarkParse).parse(text) as Root;
  const summary: Summary = {prefix: [], parts: [], suffix: []};
  const placeOf = (node: {position?: {start: {line: number; column: number}}}) =>
    ({line: node.position?.start.line ?? 1, column: node.position?.start.column ?? 1});
  const error = (reason: string, node: RootContent | ListItem) => {
    file.message(reason, {place: node.position, source: 'mdbook', ruleId: 'mdbook-summary'}).fatal = true;
  };
  let separators = 0;
  let firstSeparator: RootContent | undefined;
  const separator = (node: RootContent) => {
    separators++;
    firstSeparator ??= node;
  };

  const entryOf = (link: Link, number?: number[]): SummaryEntry => {
    const entry: SummaryEntry = {title: toString(link).replace(/\s+/g, ' ').trim(), place: placeOf(link), children: [], ...(number ? {number} : {})};
    const url = link.url.trim();
    if (url === '') return entry;
    let decoded = url.split(/[?#]/)[0]!;
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      // keep as written
    }
    if (hasScheme(url) || decoded.startsWith('/')) {
      file.message(`\`${url}\` is not a file of the book; SUMMARY.md links to Markdown files relative to \`${src}/\``, {
        place: link.position, source: 'mdbook', ruleId: 'mdbook-summary',
      }).fatal = true;
      return entry;
    }
    entry.path = path.posix.normalize(path.posix.join(src, decoded));
    return entry;
  };
  const affix = (paragraph: Paragraph, into: SummaryEntry[]) => {
    for (const child of paragraph.children) {
      if (child.type === 'link') into.push(entryOf(child));
      else if (!(child.type === 'text' && child.value.trim() === '') && child.type !== 'html' && child.type !== 'break') {
        file.info('Text outside a link is ignored in SUMMARY.md', {place: child.position, source: 'mdbook', ruleId: 'mdbook-summary'});
      }
    }
  };
  let rootNumber = 0;
  const numbered = (list: List, parent: number[] | undefined): SummaryEntry[] => {
    const entries: SummaryEntry[] = [];
    for (const item of list.children) {
      const paragraph = item.children[0];
      const link = paragraph?.type === 'paragraph' ? paragraph.children.find((c) => !(c.type === 'text' && !c.value.trim())) : undefined;
      if (link?.type !== 'link') {
        error('A numbered chapter in SUMMARY.md is a list item holding only a link: `- [Title](file.md)`', item);
        continue;
      }
      const number = parent ? [...parent, entries.length + 1] : [++rootNumber];
      const entry = entryOf(link, number);
      for (const child of item.children.slice(1)) {
        if (child.type === 'list') entry.children.push(...numbered(child, number));
      }
      entries.push(entry);
    }
    return entries;
  };

  const ignored = (node: RootContent) =>
    file.info(`Ignored ${node.type} in SUMMARY.md`, {place: node.position, source: 'mdbook', ruleId: 'mdbook-summary'});
  let state: 'title' | 'prefix' | 'numbered' | 'suffix' = 'title';
  for (const node of tree.children) {
    if (node.type === 'html' || node.type === 'definition') continue;
    const partHeading = node.type === 'heading' && node.depth === 1;
    if (state === 'title') {
      state = 'prefix';
      if (partHeading) continue;
    }
    if (state === 'prefix') {
      if (node.type === 'list' || partHeading) state = 'numbered';
      else {
        if (node.type === 'paragraph') affix(node, summary.prefix);
        else if (node.type === 'thematicBreak') separator(node);
        else ignored(node);
        continue;
      }
    }
    if (state === 'numbered') {
      if (node.type === 'paragraph') state = 'suffix';
      else {
        if (node.type === 'heading' && node.depth === 1) {
          summary.parts.push({title: toString(node).replace(/\s+/g, ' ').trim(), place: placeOf(node), chapters: []});
        } else if (node.type === 'list') {
          if (summary.parts.length === 0) summary.parts.push({chapters: []});
          summary.parts.at(-1)!.chapters.push(...numbered(node, undefined));
        } else if (node.type === 'thematicBreak') separator(node);
        else ignored(node);
        continue;
      }
    }
    if (node.type === 'paragraph') affix(node, summary.suffix);
    else if (node.type === 'thematicBreak') separator(node);
    else if (node.type === 'list' || partHeading) error('Suffix chapters cannot be followed by a list or a part heading in SUMMARY.md', node);
    else ignored(node);
  }
  if (firstSeparator) {
    file.info(`Separators (\`---\`) only draw a line in mdBook's sidebar; ${separators === 1 ? 'it is' : `all ${separators} are`} left out of the contents`, {
      place: firstSeparator.position, source: 'mdbook', ruleId: 'mdbook-separator',
    });
  }
  summary.parts = summary.parts.filter((part) => part.chapters.length > 0 || part.title !== undefined);
  return {file, summary};
}
