/**
 * remark plugins for the book's Markdown extensions (see README, "Writing the manuscript").
 * They turn syntax into mdast nodes carrying `data.hName`/`hProperties`, so remark-rehype
 * produces the right HTML; cross-document resolution happens later (stages/resolve.ts).
 */
import type {Root, Paragraph, PhrasingContent, Text, Image, Heading, Parent, RootContent} from 'mdast';
import type {VFile} from 'vfile';
import {visit, SKIP} from '../util/visit.ts';
import {toString} from 'mdast-util-to-string';
import {splitTrailingAttributes, parseAttributes} from './attributes.ts';

type Data = {hName?: string; hProperties?: Record<string, unknown>};
const withData = <T extends {data?: unknown}>(node: T, data: Data): T => {
  node.data = {...(node.data as object | undefined), ...data};
  return node;
};

const OUR_DIRECTIVES = new Set(['idx', 'gls']);

/**
 * `10:30` or `key:value` parse as text directives; put back what is not ours as the text it
 * was, and merge neighbouring text so later plugins see whole strings. Runs first.
 */
export function remarkRestoreDirectives() {
  return (tree: Root, file: VFile) => {
    const source = String(file.value);
    visit(tree, (node, index, parent) => {
      if (!parent || index === undefined || node.type !== 'textDirective' || OUR_DIRECTIVES.has(node.name)) return;
      const start = node.position?.start.offset;
      const end = node.position?.end.offset;
      const value = start !== undefined && end !== undefined ? source.slice(start, end) : `:${node.name}`;
      (parent.children as RootContent[])[index] = {type: 'text', value, position: node.position} as Text;
    });
    visit(tree, (node) => {
      if (!('children' in node)) return;
      const children = (node as Parent).children;
      for (let i = children.length - 1; i > 0; i--) {
        const a = children[i - 1]!;
        const b = children[i]!;
        if (a.type === 'text' && b.type === 'text') {
          (a as Text).value += (b as Text).value;
          if (a.position && b.position) a.position = {start: a.position.start, end: b.position.end};
          children.splice(i, 1);
        }
      }
    });
  };
}

/** `# Title {#id .unnumbered}` */
export function remarkHeadingAttributes() {
  return (tree: Root) => {
    visit(tree, 'heading', (heading: Heading) => {
      const last = heading.children.at(-1);
      if (last?.type !== 'text') return;
      const [text, attributes] = splitTrailingAttributes(last.value);
      if (!attributes) return;
      last.value = text.trimEnd();
      const properties: Record<string, unknown> = {};
      if (attributes.id) properties.id = attributes.id;
      if (attributes.classes.length > 0) properties.className = attributes.classes;
      withData(heading, {hProperties: properties});
    });
  };
}

/**
 * A paragraph holding only `![Caption](src){#fig-x fig-alt="…"}` becomes a figure.
 * The caption is the image's bracketed text, re-parsed so emphasis survives.
 */
export function remarkFigures(options: {parseInline: (markdown: string) => PhrasingContent[]; implicit?: boolean}) {
  return (tree: Root, file: VFile) => {
    const source = String(file.value);
    visit(tree, 'paragraph', (paragraph: Paragraph, index, parent) => {
      if (!parent || index === undefined) return;
      const [image, attributeText, ...rest] = paragraph.children;
      if (image?.type !== 'image' || rest.length > 0) return;
      if (attributeText && (attributeText.type !== 'text' || !/^\s*\{.*\}\s*$/.test(attributeText.value))) return;
      const attributes = attributeText ? parseAttributes(attributeText.value.trim().slice(1, -1)) : undefined;
      if (attributeText && !attributes) return;
      // A lone image without attributes is a figure only when it has a caption (Pandoc's rule).
      if (!attributes && (!image.alt || options.implicit === false)) return;
      const captionSource = captionOf(source, image);
      const caption = captionSource ? options.parseInline(captionSource) : [];
      const alt = attributes?.values['fig-alt'] ?? image.alt ?? '';
      if (!attributes?.values['fig-alt']) {
        file.message('Figure has no `fig-alt`; its caption is used as alternative text', {
          place: image.position, source: 'book', ruleId: 'figure-alt',
        });
      }
      const img: Image = withData({...image, alt}, {});
      const figcaption = withData({type: 'emphasis', children: caption} as PhrasingContent, {hName: 'figcaption'});
      const properties: Record<string, unknown> = {className: ['figure', ...(attributes?.classes ?? [])]};
      if (attributes?.id) properties.id = attributes.id;
      const figure = withData({type: 'paragraph', children: [img, figcaption], position: paragraph.position} as Paragraph, {
        hName: 'figure',
        hProperties: properties,
      });
      parent.children[index] = figure;
      return SKIP;
    });
  };
}

function captionOf(source: string, image: Image): string | undefined {
  const start = image.position?.start.offset;
  const end = image.position?.end.offset;
  if (start === undefined || end === undefined) return image.alt ?? undefined;
  const raw = source.slice(start, end);
  const close = raw.lastIndexOf('](');
  return close > 2 ? raw.slice(2, close) : image.alt ?? undefined;
}

/** A paragraph `: Caption {#tbl-x}` right after a table becomes its caption. */
export function remarkTableCaptions(options: {parseInline: (markdown: string) => PhrasingContent[]}) {
  return (tree: Root, file: VFile) => {
    const source = String(file.value);
    visit(tree, (node, index, parent) => {
      if (!parent || index === undefined || node.type !== 'table') return;
      const next = parent.children[index + 1];
      if (next?.type !== 'paragraph') return;
      const start = next.position?.start.offset;
      const end = next.position?.end.offset;
      const raw = start !== undefined && end !== undefined ? source.slice(start, end) : toString(next);
      if (!raw.startsWith(': ') && !raw.startsWith('Table: ')) return;
      const [captionText, attributes] = splitTrailingAttributes(raw.replace(/^(Table)?: /, ''));
      const properties: Record<string, unknown> = {className: ['table', ...(attributes?.classes ?? [])]};
      if (attributes?.id) properties.id = attributes.id;
      const caption = withData(
        {type: 'paragraph', children: options.parseInline(captionText.trim())} as Paragraph,
        {hName: 'figcaption'},
      );
      const figure = withData(
        {type: 'blockquote', children: [caption, node], position: {start: node.position!.start, end: next.position!.end}} as RootContent,
        {hName: 'figure', hProperties: properties},
      );
      parent.children.splice(index, 2, figure);
      return SKIP;
    });
  };
}

/**
 * ```` ```python {#lst-x caption="…" lines="3-4" numbers} ```` and `$$ {#eq-x}`: the attributes go
 * onto the `<pre>` as data attributes (they survive sanitising) for rehypeListings/rehypeTemml.
 */
export function remarkFenceAttributes() {
  return (tree: Root, file: VFile) => {
    visit(tree, (node) => {
      if ((node.type !== 'code' && node.type !== 'math') || !node.meta) return;
      const attributes = parseAttributes(node.meta.trim().replace(/^\{|\}$/g, ''));
      if (!attributes) {
        file.message(`Cannot read the fence attributes \`${node.meta}\`; expected \`{#label key="value"}\``, {
          place: node.position, source: 'book', ruleId: 'fence-attributes',
        });
        return;
      }
      const properties: Record<string, unknown> = {};
      if (attributes.id) properties.dataLabel = attributes.id;
      if (attributes.values.caption) properties.dataCaption = attributes.values.caption;
      if (attributes.values.lines) properties.dataLines = attributes.values.lines;
      if ('numbers' in attributes.values) properties.dataNumbers = '';
      const data = (node.data ??= {}) as Data;
      data.hProperties = {...data.hProperties, ...properties};
    });
  };
}

/**
 * Directives: `:idx[…]{term sub see}`, `:gls[…]{term}`, `:::online-only`, `:::print-only`.
 * Anything else written with a colon (`10:30`, `key:value`) is put back as the text it was.
 */
export function remarkBookDirectives() {
  return (tree: Root, file: VFile) => {
    const source = String(file.value);
    let indexCount = 0;
    visit(tree, (node, index, parent) => {
      if (!parent || index === undefined) return;
      if (node.type === 'textDirective' || node.type === 'leafDirective') {
        const attributes = (node.attributes ?? {}) as Record<string, string>;
        if (node.name === 'idx') {
          const label = toString(node);
          const term = attributes.term ?? label;
          if (!term) {
            file.message('Index entry without a term: write `:idx[term]` or `:idx{term="…"}`', {
              place: node.position, source: 'book', ruleId: 'index-term',
            });
          }
          indexCount++;
          withData(node, {
            hName: 'span',
            hProperties: {
              className: ['idx'],
              dataIndex: String(indexCount),
              dataTerm: term,
              ...(attributes.sub ? {dataSub: attributes.sub} : {}),
              ...(attributes.see ? {dataSee: attributes.see} : {}),
            },
          });
          return;
        }
        if (node.name === 'gls') {
          const label = toString(node);
          withData(node, {hName: 'span', hProperties: {className: ['gls'], dataTerm: attributes.term ?? label}});
          return;
        }
        if (node.type === 'textDirective') {
          // Not ours: restore the literal source text.
          const start = node.position?.start.offset;
          const end = node.position?.end.offset;
          const text: Text = {type: 'text', value: start !== undefined && end !== undefined ? source.slice(start, end) : `:${node.name}`};
          (parent.children as RootContent[])[index] = text;
          return SKIP;
        }
        file.message(`Unknown directive \`::${node.name}\``, {place: node.position, source: 'book', ruleId: 'unknown-directive'});
        (parent.children as RootContent[]).splice(index, 1);
        return index;
      }
      if (node.type === 'containerDirective') {
        if (node.name === 'online-only' || node.name === 'print-only') {
          withData(node, {hName: 'div', hProperties: {className: [node.name]}});
          return;
        }
        file.message(`Unknown block directive \`:::${node.name}\`; known: \`online-only\`, \`print-only\``, {
          place: node.position, source: 'book', ruleId: 'unknown-directive',
        });
        withData(node, {hName: 'div', hProperties: {className: [node.name]}});
      }
    });
  };
}

// A bracketed group with `@key` items (checked below; a linear expression here: one that
// described the items itself backtracked exponentially on `[@a @a @a…`).
const CITATION_GROUP = /\[([^\[\]]*)\]/g;
const NARRATIVE = /(^|[\s(])@([A-Za-z][\w:.#$%&+?<>~/-]*[A-Za-z0-9])/g;
const XREF_PREFIXES = new Set(['fig', 'tbl', 'lst', 'eq', 'sec', 'ch']);

export interface CiteItem {
  key: string;
  prefix?: string;
  locator?: string;
}

/** `[@key, p. 4; @b]`, `@key` (narrative) and `@fig-x` (cross-reference) in text. */
export function remarkCitations(options: {citations?: boolean} = {}) {
  return (tree: Root) => {
    visit(tree, 'text', (node: Text, index, parent) => {
      if (!parent || index === undefined || !node.value.includes('@')) return;
      if ((parent as Parent).type === 'link' || (parent as Parent).type === 'linkReference') return;
      const pieces = splitCitations(node, options.citations !== false);
      if (pieces.length === 1 && pieces[0] === node) return;
      (parent.children as PhrasingContent[]).splice(index, 1, ...pieces);
      return index + pieces.length;
    });
  };
}

/** A citation or cross-reference found in a run of text. */
export interface FoundCitation {
  start: number;
  end: number;
  items: CiteItem[];
  mode: 'paren' | 'narrative';
  /** A lone cross-reference (`@fig-x`, `[@fig-x, page]`), not a citation. */
  xref: boolean;
}

/** The citations and cross-references in a text, in order: what remarkCitations makes nodes of. */
export function findCitations(value: string): FoundCitation[] {
  const found: FoundCitation[] = [];
  for (const match of value.matchAll(CITATION_GROUP)) {
    if (!match[1]!.includes('@')) continue;
    const parsed = match[1]!.split(';').filter((segment) => segment.trim() !== '').map(parseCiteItem);
    // As before: the group must end with an `@key` item; other items without one are dropped.
    if (!parsed.at(-1)) continue;
    const items = parsed.filter((item): item is CiteItem => item !== undefined);
    const xref = items.length === 1 && isXref(items[0]!.key);
    found.push({start: match.index!, end: match.index! + match[0].length, items, mode: 'paren', xref});
  }
  for (const match of value.matchAll(NARRATIVE)) {
    const start = match.index! + match[1]!.length;
    if (found.some((m) => start >= m.start && start < m.end)) continue;
    const key = match[2]!;
    found.push({start, end: start + key.length + 1, items: [{key}], mode: 'narrative', xref: isXref(key)});
  }
  return found.sort((a, b) => a.start - b.start);
}

/** `citations: false` (a dialect without them): only cross-references are made; `@name` stays text. */
function splitCitations(node: Text, citations: boolean): PhrasingContent[] {
  const value = node.value;
  const out: PhrasingContent[] = [];
  let last = 0;
  const push = (end: number) => {
    if (end > last) out.push({type: 'text', value: value.slice(last, end), position: node.position});
  };
  const found = findCitations(value).filter((citation) => citations || citation.xref);
  if (found.length === 0) return [node];
  for (const citation of found) {
    const at = positionIn(node, citation.start, citation.end - citation.start);
    const [first] = citation.items;
    const element = !citation.xref
      ? citeNode(citation.items, citation.mode, at)
      : citation.mode === 'narrative' ? xrefNode(first!.key, at) : xrefNode(first!.key, at, /^(page|p\.?)$/i.test(first!.locator ?? ''));
    push(citation.start);
    out.push(element);
    last = citation.end;
  }
  push(value.length);
  return out;
}

/** The source position of `value.slice(index, index + length)` inside a text node. */
function positionIn(node: Text, index: number, length: number): Text['position'] {
  const start = node.position?.start;
  if (!start) return undefined;
  const point = (i: number) => {
    const before = node.value.slice(0, i);
    const lines = before.split('\n');
    return lines.length === 1
      ? {line: start.line, column: start.column + i, offset: (start.offset ?? 0) + i}
      : {line: start.line + lines.length - 1, column: lines.at(-1)!.length + 1, offset: (start.offset ?? 0) + i};
  };
  return {start: point(index), end: point(index + length)};
}

function isXref(key: string): boolean {
  const dash = key.indexOf('-');
  return dash > 0 && XREF_PREFIXES.has(key.slice(0, dash));
}

function parseCiteItem(text: string): CiteItem | undefined {
  const match = /^\s*(.*?)-?@([A-Za-z][\w:.#$%&+?<>~/-]*[A-Za-z0-9])\s*,?\s*(.*?)\s*$/.exec(text);
  if (!match) return undefined;
  return {key: match[2]!, ...(match[1] ? {prefix: match[1]} : {}), ...(match[3] ? {locator: match[3]} : {})};
}

/** `@fig-x` → "Figure 7.2"; `[@fig-x, page]` → "Figure 7.2 on page 141" where pages are known. */
function xrefNode(label: string, position: Text['position'], withPage = false): PhrasingContent {
  return withData(
    {type: 'emphasis', children: [{type: 'text', value: `@${label}`}], position} as PhrasingContent,
    {hName: 'a', hProperties: {className: ['xref'], dataRef: label, ...(withPage ? {dataPage: ''} : {})}},
  );
}

function citeNode(items: CiteItem[], mode: 'paren' | 'narrative', position: Text['position']): PhrasingContent {
  return withData(
    {type: 'emphasis', children: [{type: 'text', value: items.map((i) => `@${i.key}`).join('; ')}], position} as PhrasingContent,
    {hName: 'span', hProperties: {className: ['cite'], dataCites: JSON.stringify(items), dataMode: mode}},
  );
}
