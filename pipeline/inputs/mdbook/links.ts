/**
 * Links and images of an mdBook page, rewritten for the book's structure: `NN-name.md`,
 * `./NN-name.md#anchor` (mdBook's heading ids) and `name.html` lead to the right document and
 * heading; links to files that are not chapters of the book become their text; remote images
 * become links (books embed local files).
 */
import path from 'node:path';
import type {Page} from './page.ts';
import {isRemote} from '../../util/urls.ts';

const posix = path.posix;

/** An URL as a Markdown link destination. */
export function destination(url: string): string {
  return encodeURI(url).replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/%23/g, '#');
}

export interface BookPages {
  /** Pages by manuscript-relative path. */
  pages: Map<string, Page>;
  /** The `src` folder (a link to `/x.md` is `src/x.md`, as on mdBook's web site). */
  src: string;
}

/** Where a link from `page` to `url` should go now, or how to keep it as text. */
export function rewriteLink(url: string, page: Page, book: BookPages): {url: string} | {unwrap: string} | undefined {
  if (url.startsWith('#')) {
    const fragment = safeDecode(url.slice(1));
    const id = page.ids.get(fragment);
    return id && id !== fragment ? {url: `#${id}`} : undefined;
  }
  if (isRemote(url)) return undefined;
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
export function rewriteImage(url: string, page: Page, book: BookPages): {url: string} | {remote: true} | undefined {
  if (isRemote(url)) return {remote: true};
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
export function destinationRange(source: string, from: number, end: number): {start: number; end: number} | undefined {
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
export function closingBracket(source: string, open: number, end: number): number {
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