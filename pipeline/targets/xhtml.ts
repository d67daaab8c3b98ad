/** hast → well-formed XHTML (for EPUB and the print document). */
import type {Root, Element, Nodes} from 'hast';
import {toXast} from 'hast-util-to-xast';
import {toXml} from 'xast-util-to-xml';
import {visit} from '../util/visit.ts';

// eslint-disable-next-line no-control-regex
const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function toXhtml(tree: Nodes): string {
  visit(tree, (node) => {
    if (node.type === 'text') node.value = node.value.replace(XML_ILLEGAL, '');
    if (node.type === 'comment') node.value = node.value.replace(/--/g, '- -').replace(XML_ILLEGAL, '');
  });
  return toXml(toXast(tree as Root), {closeEmptyElements: true, allowDangerousXml: false});
}

/**
 * A deep copy, so a target can rewrite links without touching the shared book. Source
 * positions are left out (no target writes them), which makes it several times faster than
 * `structuredClone` on a book's trees.
 */
export function cloneTree<T extends Nodes>(tree: T): T {
  return copy(tree) as T;
}

function copy(node: Nodes): Nodes {
  const out: Record<string, unknown> = {};
  for (const key in node) {
    if (key === 'position') continue;
    const value = (node as unknown as Record<string, unknown>)[key];
    if (key === 'children') out.children = (value as Nodes[]).map(copy);
    else if (key === 'properties' || key === 'data') out[key] = copyValue(value);
    else if (key === 'content') out.content = copy(value as Nodes);
    else out[key] = value;
  }
  return out as unknown as Nodes;
}

function copyValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key in value) out[key] = copyValue((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export function removeByClass(tree: Root | Element, className: string) {
  visit(tree, 'element', (node: Element, index, parent) => {
    const value = node.properties?.className;
    if (parent && index !== undefined && Array.isArray(value) && value.includes(className)) {
      parent.children.splice(index, 1);
      return index;
    }
    return undefined;
  });
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * One XHTML 5 document, as the EPUB's content documents and the print page are written:
 * `head` is what follows the title (a stylesheet link or a `<style>`), `bodyAttributes` starts
 * with a space when there are any.
 */
export function xhtmlDocument(page: {lang: string; title: string; head: string; bodyAttributes?: string; body: Nodes}): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="${page.lang}" xml:lang="${page.lang}">
<head>
<meta charset="UTF-8"/>
<title>${escapeXml(page.title)}</title>
${page.head}
</head>
<body${page.bodyAttributes ?? ''}>
${toXhtml(page.body)}
</body>
</html>
`;
}
