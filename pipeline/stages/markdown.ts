/**
 * Markdown → HTML syntax tree for one document. Pure: text in, tree and messages out.
 * Order matters: author HTML is parsed (rehype-raw) and sanitised before any of our
 * trusted structure (MathML, highlighting, numbering) is added.
 */
import {unified, type Processor} from 'unified';
import remarkParse from 'remark-parse';
import remarkGfm from 'remark-gfm';
import remarkMath from 'remark-math';
import remarkDirective from 'remark-directive';
import remarkFrontmatter from 'remark-frontmatter';
import remarkRehype from 'remark-rehype';
import rehypeSanitize from 'rehype-sanitize';
import rehypeHighlight from 'rehype-highlight';
import {common} from 'lowlight';
import type {Root as MdastRoot, PhrasingContent, Paragraph} from 'mdast';
import type {Root, Element} from 'hast';
import {VFile} from 'vfile';
import {parse as parseYaml} from 'yaml';
import {visit} from '../util/visit.ts';
import {toString} from 'hast-util-to-string';
import path from 'node:path/posix';
import type {Doc, Label} from '../model.ts';
import {MANUSCRIPT_DIALECT, type DocInput, type Dialect} from '../inputs/source.ts';
import {
  remarkHeadingAttributes, remarkFigures, remarkTableCaptions, remarkFenceAttributes,
  remarkBookDirectives, remarkCitations, remarkRestoreDirectives,
} from '../plugins/remark-book.ts';
import {rehypeTemml, rehypeHeadingIds, rehypeNumbering, rehypeListings, rehypeFootnotes} from '../plugins/rehype-book.ts';
import {hasClass} from '../util/hast.ts';
import {isRemote} from '../util/urls.ts';
import {sanitizeSchema, reportUnsafe} from '../plugins/sanitize.ts';
import {checkMarkdownLimits, tooDeep, LIMITS} from './limits.ts';
import {placeholderFor} from './placeholder.ts';
import {remarkAlerts} from '../plugins/alerts.ts';
import {
  GENERATED_ID, rehypeDocumentIds, rehypeRawWhereNeeded, rehypeCenter, rehypeAlignment, rehypeRemoveHidden, rehypeRemoveChapterLabel,
} from '../plugins/rehype-html.ts';

export type {DocInput} from '../inputs/source.ts';

declare module 'vfile' {
  interface DataMap {
    /** The document's YAML front matter, when it has one. */
    frontmatter: Record<string, unknown>;
  }
}


export interface ImageRef {
  /** Manuscript-relative path after resolving against the document. */
  path: string;
  docId: string;
  node: Element;
}

export interface ParsedDoc {
  doc: Doc;
  /** The document's source text and its messages. */
  file: VFile;
  labels: Label[];
  images: ImageRef[];
  frontmatter: Record<string, unknown>;
}

const inlineProcessor = unified().use(remarkParse).use(remarkGfm).use(remarkMath);

/** Parses a caption or other short Markdown into phrasing content. */
function parseInline(markdown: string): PhrasingContent[] {
  const tree = inlineProcessor.parse(markdown) as MdastRoot;
  const first = tree.children[0];
  return first?.type === 'paragraph' ? (first as Paragraph).children : [];
}

export function parseDoc(input: DocInput): ParsedDoc {
  const file = new VFile({path: input.displayPath ?? input.path, value: input.text});
  if (/^\uFEFF?---[ \t]*[^\s-]/.test(input.text)) {
    file.message('Front matter must be YAML (`---`); other kinds such as `---js` are not run', {
      place: {line: 1, column: 1}, source: 'book', ruleId: 'frontmatter',
    }).fatal = true;
  }
  // Pathological input (huge, or nested thousands deep) is an error before the parser sees it.
  const limit = checkMarkdownLimits(input.text);
  if (limit) {
    file.message(limit.message, {place: limit.place, source: 'book', ruleId: 'limits'}).fatal = true;
    return unparsedDoc(input, file);
  }

  const processor = processorFor(input.dialect ?? MANUSCRIPT_DIALECT);
  file.data.docId = input.id;
  if (input.number !== undefined) file.data.chapterNumber = input.number;

  let tree: Root;
  try {
    const mdast = processor.parse(file);
    const deep = tooDeep(mdast);
    if (deep) {
      file.message(`Nested more than ${LIMITS.treeDepth} levels deep (lists, quotes, emphasis or links)`, {
        place: deep.position?.start ?? {line: 1, column: 1}, source: 'book', ruleId: 'limits',
      }).fatal = true;
      return unparsedDoc(input, file);
    }
    tree = processor.runSync(mdast, file) as Root;
    const deepHtml = tooDeep(tree);
    if (deepHtml) {
      file.message(`Nested more than ${LIMITS.treeDepth} levels deep (HTML elements)`, {
        place: deepHtml.position?.start ?? {line: 1, column: 1}, source: 'book', ruleId: 'limits',
      }).fatal = true;
      return unparsedDoc(input, file);
    }
  } catch (error) {
    // Out of stack: raw HTML or Markdown nested deeper than the scan before parsing could tell.
    if (!(error instanceof RangeError)) throw error;
    file.message(`Nested too deeply to process (more than ${LIMITS.treeDepth} levels of lists, quotes, emphasis, links or HTML elements)`, {
      place: {line: 1, column: 1}, source: 'book', ruleId: 'limits',
    }).fatal = true;
    return unparsedDoc(input, file);
  }

  // Title: the one `#` heading, taken out of the body (targets render it with the chapter label).
  let title = '';
  let titleIndex = -1;
  tree.children.forEach((node, index) => {
    if (node.type !== 'element' || node.tagName !== 'h1') return;
    if (titleIndex === -1) {
      title = toString(node).trim();
      titleIndex = index;
    } else {
      file.message('A document has one `#` title; use `##` for sections', {
        place: node.position, source: 'book', ruleId: 'multiple-titles',
      });
    }
  });
  let titleId = `${input.id}-title`;
  if (titleIndex === -1) {
    file.message('Document has no `# Title` heading', {place: {line: 1, column: 1}, source: 'book', ruleId: 'missing-title'});
    title = path.basename(input.path, '.md');
  } else {
    const heading = tree.children[titleIndex] as Element;
    titleId = String(heading.properties?.id ?? titleId);
    tree.children.splice(titleIndex, 1);
  }

  const images: ImageRef[] = [];
  const sections: Doc['sections'] = [];
  visit(tree, 'element', (node: Element) => {
    if (node.tagName === 'h2' && !hasClass(node, 'footnotes-title')) {
      const number = node.children[0]?.type === 'element' && hasClass(node.children[0], 'section-number')
        ? toString(node.children[0]) : undefined;
      const text = toString(node).trim();
      sections.push({id: String(node.properties?.id), title: number ? text.slice(number.length).trim() : text, number});
    }
    if (node.tagName === 'img') resolveImage(node, input, file, images);
    if (node.tagName === 'a') classifyLink(node, input, file);
  });

  const label = input.kind === 'chapter' ? `ch-${path.basename(input.path, '.md').replace(/^\d+[-_]?/, '')}` : undefined;
  const fragments = file.data.fragments ?? new Map<string, string>();
  const labels = file.data.labels ?? [];
  fragments.set('', titleId);
  const doc: Doc = {
    id: input.id, kind: input.kind, path: input.path, displayPath: String(file.path), title, tree, fragments, sections,
    hasMath: false,
    ...(input.number !== undefined ? {number: input.number} : {}),
    ...(input.partIndex !== undefined ? {partIndex: input.partIndex} : {}),
    ...(label ? {label} : {}),
  };
  visit(tree, 'element', (node: Element) => {
    if (node.tagName === 'math') doc.hasMath = true;
  });
  if (label) labels.push({kind: 'ch', label, text: `Chapter ${input.number}`, id: titleId, docId: input.id});
  return {doc, file, labels, images, frontmatter: file.data.frontmatter ?? {}};
}

type BookProcessor = Processor<MdastRoot, MdastRoot, Root>;
const processors = new Map<string, BookProcessor>();

/**
 * The Markdown → HTML processor of a dialect, made once: what differs between documents
 * (their id and chapter number) travels in `file.data`, and plugins report there too.
 */
function processorFor(dialect: Dialect): BookProcessor {
  const key = JSON.stringify(dialect);
  let processor = processors.get(key);
  if (!processor) processors.set(key, processor = makeProcessor(dialect));
  return processor;
}

function makeProcessor(dialect: Dialect): BookProcessor {
  const processor = unified()
    .use(remarkParse)
    .use(remarkFrontmatter, ['yaml'])
    .use(remarkGfm)
    .use(remarkAlerts)
    .use(dialect.math ? [remarkMath] : [])
    .use(dialect.directives ? [remarkDirective, remarkRestoreDirectives] : [])
    .use(remarkHeadingAttributes)
    .use(remarkFenceAttributes)
    .use(remarkFigures, {parseInline, implicit: dialect.implicitFigures})
    .use(remarkTableCaptions, {parseInline})
    .use(dialect.directives ? [remarkBookDirectives] : [])
    .use(remarkCitations, {citations: dialect.citations})
    .use(() => (tree: MdastRoot, file: VFile) => {
      const yaml = tree.children.find((node) => node.type === 'yaml');
      if (!yaml) return;
      try {
        const value = parseYaml(yaml.value);
        if (value && typeof value === 'object' && !Array.isArray(value)) file.data.frontmatter = value as Record<string, unknown>;
        else if (value != null) throw new Error('expected a mapping of `key: value`');
      } catch (error) {
        // Point at the line inside the front matter: it starts one line after the opening `---`.
        const where = (error as {linePos?: {line: number; col: number}[]}).linePos?.[0];
        const start = yaml.position?.start.line ?? 1;
        const reason = (error as Error).message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        file.message(`Malformed front matter: ${reason}`, {
          place: where ? {line: start + where.line, column: where.col} : yaml.position, source: 'book', ruleId: 'frontmatter',
        }).fatal = true;
      }
    })
    .use(remarkRehype, {
      allowDangerousHtml: true,
      clobberPrefix: GENERATED_ID,
      footnoteLabel: 'Notes',
    })
    .use(rehypeDocumentIds)
    .use(rehypeRawWhereNeeded)
    .use(rehypeCenter)
    .use(reportUnsafe)
    .use(rehypeSanitize, sanitizeSchema)
    .use(rehypeTemml)
    .use(rehypeHighlight, {languages: common, detect: false, plainText: ['text', 'txt', 'plain', 'math']})
    .use(rehypeListings)
    .use(rehypeFootnotes)
    .use(rehypeHeadingIds)
    .use(rehypeNumbering)
    .use(rehypeAlignment)
    .use(dialect.hiddenClass ? [rehypeRemoveHidden] : [])
    .use(dialect.chapterLabels ? [rehypeRemoveChapterLabel] : []) as unknown as Processor<MdastRoot, MdastRoot, Root>;
  return processor.freeze();

}


/** An empty document for one that was not parsed (an error explains why). */
function unparsedDoc(input: DocInput, file: VFile): ParsedDoc {
  const doc: Doc = {
    id: input.id, kind: input.kind, path: input.path, displayPath: String(file.path), title: path.basename(input.path, '.md'),
    tree: {type: 'root', children: []}, fragments: new Map([['', `${input.id}-title`]]), sections: [], hasMath: false,
    ...(input.number !== undefined ? {number: input.number} : {}),
    ...(input.partIndex !== undefined ? {partIndex: input.partIndex} : {}),
  };
  return {doc, file, labels: [], images: [], frontmatter: {}};
}





function resolveImage(node: Element, input: DocInput, file: VFile, images: ImageRef[]) {
  const src = String(node.properties?.src ?? '');
  const place = node.position;
  const refuse = (reason: string, ruleId: string) => {
    const message = file.message(reason, {place, source: 'book', ruleId});
    message.fatal = true;
    placeholderFor(node, message);
  };
  if (!src) {
    // The sanitiser has already said why it removed an unsafe source: one error is enough.
    const removed = file.messages.find((m) => m.ruleId === 'remote-image' && m.line === place?.start.line && m.column === place?.start.column);
    if (removed) placeholderFor(node, removed);
    else file.message('Image without a source', {place, source: 'book', ruleId: 'missing-image'});
    return;
  }
  if (node.properties?.alt === undefined) {
    file.message(`Image \`${src}\` has no alternative text`, {place, source: 'book', ruleId: 'image-alt'});
  }
  if (isRemote(src)) {
    refuse(`Image \`${src}\` is not a file of the manuscript; remote and \`file:\` images are not allowed`, 'remote-image');
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(src.split(/[?#]/)[0]!);
  } catch {
    decoded = src;
  }
  if (decoded.startsWith('/')) {
    refuse(`Image \`${src}\` uses an absolute path; write it relative to the chapter`, 'outside-manuscript');
    return;
  }
  const resolved = path.normalize(path.join(path.dirname(input.path), decoded));
  if (resolved.startsWith('../') || resolved === '..') {
    refuse(`Image \`${src}\` is outside the manuscript folder`, 'outside-manuscript');
    return;
  }
  node.properties.dataAsset = resolved;
  images.push({path: resolved, docId: input.id, node});
}

/** Marks links to other Markdown files for resolve.ts; anything else relative is an error. */
function classifyLink(node: Element, input: DocInput, file: VFile) {
  const href = node.properties?.href;
  if (typeof href !== 'string' || hasClass(node, 'xref')) return;
  if (isRemote(href)) {
    if (!/^https?:/i.test(href) && !/^mailto:/i.test(href)) {
      file.message(`Link \`${href}\` uses a scheme that books cannot follow`, {place: node.position, source: 'book', ruleId: 'link-scheme'});
    }
    node.properties.className = [...((node.properties.className as string[]) ?? []), 'external'];
    return;
  }
  const [target = '', fragment = ''] = href.split('#');
  let decoded = target;
  try {
    decoded = decodeURIComponent(target);
  } catch {}
  node.properties.dataLink = target === '' ? input.path : path.normalize(path.join(path.dirname(input.path), decoded));
  node.properties.dataFragment = fragment;
}

