/** hast → well-formed XHTML (for EPUB and the print document). */
import type {Root, Element, Nodes} from 'hast';
import {toXast} from 'hast-util-to-xast';
import {toXml} from 'xast-util-to-xml';

// eslint-disable-next-line no-control-regex
const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function toXhtml(tree: Nodes): string {
  eachNode(tree, (node) => {
    if (node.type === 'text') node.value = node.value.replace(XML_ILLEGAL, '');
    if (node.type === 'comment') node.value = node.value.replace(/--/g, '- -').replace(XML_ILLEGAL, '');
  });
  return toXml(toXast(tree as Root), {closeEmptyElements: true, allowDangerousXml: false});
}

/**
 * Calls `each` for `node` and every node below it, in document order; `each` returning false
 * skips a node's children. A plain walk: unist-util-visit keeps every node's list of ancestors,
 * which costs several times more on a book's trees (its garbage mostly), and the walks here need
 * none. Children added to a node by `each` are walked too.
 */
export function eachNode(node: Nodes, each: (node: Nodes) => boolean | void): void {
  if (each(node) === false || !('children' in node)) return;
  for (const child of node.children) eachNode(child, each);
}

/** `eachNode` for elements only. */
export function eachElement(node: Nodes, each: (element: Element) => boolean | void): void {
  eachNode(node, (child) => (child.type === 'element' ? each(child) : undefined));
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
  const removed = (node: Nodes) => node.type === 'element' && Array.isArray(node.properties?.className) && node.properties.className.includes(className);
  eachNode(tree, (node) => {
    if ('children' in node && node.children.some(removed)) node.children = node.children.filter((child) => !removed(child)) as typeof node.children;
  });
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
