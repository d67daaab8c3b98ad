/**
 * rehype plugins for HTML as Markdown tools and online editions write it, run by the Markdown
 * stage (stages/markdown.ts) around sanitising: the ids remark-rehype makes, rehype-raw only where
 * there is raw HTML, `<center>` and `align`, and the dialect flags' removals (mdBook's hidden
 * class, a chapter's own "Chapter N" label).
 */
import type {Root, Element} from 'hast';
import type {VFile} from 'vfile';
import rehypeRaw from 'rehype-raw';
import {toString} from 'hast-util-to-string';
import {visit, EXIT} from '../util/visit.ts';
import {hasClass} from '../util/hast.ts';

declare module 'vfile' {
  interface DataMap {
    /** A "Chapter N" label the stage left out (dialect `chapterLabels`). */
    chapterLabel: {text: string; place?: import('unist').Position};
  }
}

/**
 * remark-rehype's prefix for the ids it makes (footnotes): a U+0000, which no Markdown text can
 * hold (CommonMark replaces it), so that one processor serves every document and
 * `rehypeDocumentIds` can make those ids the document's own.
 */
export const GENERATED_ID = '\u0000';

/** Ids remark-rehype made (footnotes and their references) start with the document's id. */
export function rehypeDocumentIds() {
  return (tree: Root, file: VFile) => {
    const prefix = `${file.data.docId}-`;
    visit(tree, 'element', (node: Element) => {
      const properties = node.properties;
      if (!properties) return;
      for (const key of ['id', 'href', 'ariaDescribedBy']) {
        const value = properties[key];
        if (typeof value === 'string' && value.replace(/^#/, '').startsWith(GENERATED_ID)) {
          properties[key] = value.replace(GENERATED_ID, prefix);
        } else if (Array.isArray(value)) {
          properties[key] = value.map((item) => typeof item === 'string' && item.startsWith(GENERATED_ID) ? item.replace(GENERATED_ID, prefix) : item);
        }
      }
    });
  };
}

/**
 * rehype-raw, for documents that hold raw HTML. hast-util-raw sends the whole tree through
 * parse5 again, a tenth of the time of parsing a chapter; without raw nodes in it, it gives the
 * same tree back (the EPUB and PDF of the real book and of the generated one are the same bytes).
 */
export function rehypeRawWhereNeeded() {
  const transform = rehypeRaw();
  return (tree: Root, file: VFile): Root => {
    let raw = false;
    visit(tree, 'raw', () => {
      raw = true;
      return EXIT;
    });
    return raw ? transform(tree, file) : tree;
  };
}

/** `<center>`, which mdBook books still write, is a centred block: a `<div class="align-center">`. */
export function rehypeCenter() {
  return (tree: Root) => {
    visit(tree, 'element', (node: Element) => {
      if (node.tagName !== 'center') return;
      node.tagName = 'div';
      node.properties = {className: ['align-center']};
    });
  };
}

/**
 * GFM writes `align` on cells, and authors write it on `<div>`, `<p>` and images (as GitHub
 * READMEs do); XHTML 5 no longer has it: use classes.
 */
export function rehypeAlignment() {
  return (tree: Root) => {
    visit(tree, 'element', (node: Element) => {
      const align = node.properties?.align;
      if (align === undefined) return;
      delete node.properties.align;
      const value = String(align).toLowerCase();
      if (!/^(left|right|center|justify)$/.test(value)) return;
      const classes = Array.isArray(node.properties.className) ? node.properties.className : [];
      node.properties.className = [...classes, `align-${value}`];
    });
  };
}

/** mdBook's stylesheet hides `class="hidden"` (“will not be shown”): so does the book. */
export function rehypeRemoveHidden() {
  return (tree: Root) => {
    visit(tree, 'element', (node: Element, index, parent) => {
      if (!parent || index === undefined || !hasClass(node, 'hidden')) return;
      parent.children.splice(index, 1);
      return index;
    });
  };
}

/**
 * Online editions often start a chapter with their own label, `<div class="chapter">Chapter 1</div>`;
 * the book prints “Chapter 1” above every chapter title already, so such a label near the top
 * of a chapter is left out. It is said in `file.data.chapterLabel` (assemble reports it once).
 */
export function rehypeRemoveChapterLabel() {
  return (tree: Root, file: VFile) => {
    const {children} = tree;
    if (file.data.chapterNumber === undefined) return;
    // The first four nodes after the title (which the stage takes out of the body afterwards).
    const title = children.findIndex((node) => node.type === 'element' && node.tagName === 'h1');
    for (let i = 0, seen = 0; i < children.length && seen < 4; i++) {
      if (i === title) continue;
      seen++;
      const node = children[i]!;
      if (node.type !== 'element' || !['div', 'p', 'span', 'header'].includes(node.tagName)) continue;
      if (toString(node).replace(/\s+/g, ' ').trim().toLowerCase() !== `chapter ${file.data.chapterNumber}`) continue;
      file.data.chapterLabel = {text: toString(node).trim(), place: node.position};
      children.splice(i, 1);
      return;
    }
  };
}
