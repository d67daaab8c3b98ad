/**
 * Links, images and labels of an mdBook page: footnote and link-reference labels that another
 * page of the same document also defines are renamed; links and images (Markdown and raw HTML)
 * are rewritten for the book's structure (links.ts), or kept as their text where they lead
 * outside the book.
 */
import type {Definition, Html, Image, ImageReference, Link, LinkReference, FootnoteReference, FootnoteDefinition} from 'mdast';
import {visit} from '../../util/visit.ts';
import {closingBracket, destinationRange, rewriteImage, rewriteLink} from './links.ts';
import type {PageEdits, PrepareContext} from './edits.ts';

const REMOTE_IMAGE = 'Remote images cannot be embedded in a book: a Markdown image becomes a link to the image (its text inside a link), an HTML `<img>` its alternative text';

export function editReferences({page, source, tree, edits, note}: PageEdits, {book, renames}: PrepareContext): void {
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
}
