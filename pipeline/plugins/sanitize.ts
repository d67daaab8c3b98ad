/**
 * The allow-list for author HTML (rehype-sanitize) and a reporter that turns
 * each removal into a warning at its line, so nothing disappears silently.
 *
 * The reporter asks hast-util-sanitize itself which attributes it would drop (so the two can
 * never disagree), and on top of that removes URLs that only a stricter reading finds unsafe
 * (whitespace or control characters hidden inside a scheme). `unsafeParts` is the independent
 * check the tests run on every output: no element, attribute or URL that could run code or
 * make a reader fetch something.
 */
import type {Root, Element, Nodes, Properties} from 'hast';
import type {VFile} from 'vfile';
import {defaultSchema, sanitize, type Schema} from 'hast-util-sanitize';

const extraTags = ['figure', 'figcaption', 'section', 'aside', 'mark', 'abbr', 'small', 'cite', 'time', 'caption', 'colgroup', 'col', 'u'];
/**
 * GitHub allows these, the book does not: `<input>` (task lists are not a book feature),
 * `<picture>`/`<source>` (`srcset` would make a reader fetch other files or URLs: images are
 * `<img>` with a file of the manuscript).
 */
const removedTags = new Set(['input', 'picture', 'source']);

/** GitHub's schema limits class names per element; the book's own classes are allowed anywhere. */
const relaxedAttributes = Object.fromEntries(
  Object.entries(defaultSchema.attributes ?? {}).map(([tag, list]) => [
    tag,
    list.map((entry) => (Array.isArray(entry) && entry[0] === 'className' ? 'className' : entry)),
  ]),
);

export const sanitizeSchema: Schema = {
  ...defaultSchema,
  clobberPrefix: '',
  clobber: [],
  tagNames: [...(defaultSchema.tagNames ?? []).filter((t) => !removedTags.has(t)), ...extraTags],
  strip: ['script', 'style', 'template', 'noscript', 'iframe', 'object', 'embed', 'svg', 'math', 'title', 'textarea', 'select'],
  attributes: {
    ...relaxedAttributes,
    '*': [...(defaultSchema.attributes?.['*'] ?? []), 'className', 'id', 'lang', 'dir', 'role', 'ariaLabel', 'ariaHidden', 'data*'],
    a: ['href', 'title', 'className', 'id'],
    img: ['src', 'alt', 'title', 'width', 'height', 'className', 'id'],
    ol: ['start', 'reversed', 'type'],
    code: ['className', 'data*'],
    td: ['align', 'colSpan', 'rowSpan'],
    th: ['align', 'colSpan', 'rowSpan', 'scope'],
    time: ['dateTime'],
  },
  protocols: {href: ['http', 'https', 'mailto'], src: ['http', 'https'], cite: ['http', 'https']},
  required: {},
};

const allowedTags = new Set(sanitizeSchema.tagNames);
const stripped = new Set(sanitizeSchema.strip);
/** The same schema without the ancestor rules, to ask about one element's attributes alone. */
const attributeSchema: Schema = {...sanitizeSchema, ancestors: {}, strip: []};

/** Attributes (hast property names) whose value makes a browser or reader fetch or navigate. */
const URL_PROPERTIES = new Set([
  'href', 'src', 'cite', 'srcSet', 'poster', 'action', 'formAction', 'background', 'ping', 'longDesc',
  'data', 'codeBase', 'archive', 'classId', 'manifest', 'dynsrc', 'lowsrc', 'useMap', 'itemType', 'profile',
  'xLinkHref', 'xlinkHref', 'imageSrcSet', 'attributionSrc',
]);

/** Warns about everything rehype-sanitize is about to remove. Run right before it. */
export function reportUnsafe() {
  return (tree: Root, file: VFile) => {
    // Iterative walk: author HTML can be nested deeper than the call stack allows.
    const stack: {node: Nodes; ancestors?: Chain}[] = [{node: tree}];
    while (stack.length > 0) {
      const {node, ancestors} = stack.pop()!;
      if (node.type !== 'element' && node.type !== 'root') continue;
      let descend = true;
      if (node.type === 'element') descend = checkElement(node, ancestors, file);
      if (!descend) continue;
      const next = node.type === 'element' ? {tag: node.tagName, up: ancestors} : ancestors;
      for (let i = node.children.length - 1; i >= 0; i--) stack.push({node: node.children[i] as Nodes, ...(next ? {ancestors: next} : {})});
    }
  };
}

/** The tag names above an element, innermost first. */
interface Chain {
  tag: string;
  up?: Chain | undefined;
}

function hasAncestor(chain: Chain | undefined, names: string[]): boolean {
  for (let link = chain; link; link = link.up) if (names.includes(link.tag)) return true;
  return false;
}

/** Reports (and for URLs, removes) what sanitising takes away; false when the content goes too. */
function checkElement(element: Element, ancestors: Chain | undefined, file: VFile): boolean {
  const place = element.position;
  const tag = element.tagName;
  if (!allowedTags.has(tag)) {
    // The element goes with all its attributes: one message says so.
    const what = stripped.has(tag) ? 'with its content' : 'keeping its text';
    const hint = tag === 'svg' ? '; put SVG in an image file and use `![…](file.svg)`'
      : tag === 'math' ? '; write TeX between `$…$`' : '';
    file.message(`Removed \`<${tag}>\` ${what}: it is not allowed in the book${hint}`, {
      place, source: 'book', ruleId: 'unsafe-html',
    });
    return !stripped.has(tag);
  } else {
    const needed = sanitizeSchema.ancestors?.[tag];
    if (needed && !hasAncestor(ancestors, needed)) {
      file.message(`Removed \`<${tag}>\` outside a \`<${needed[0]}>\`, keeping its text`, {place, source: 'book', ruleId: 'unsafe-html'});
    }
  }

  const properties = element.properties ?? {};
  const kept = keptProperties(tag, properties);
  for (const [name, value] of Object.entries(properties)) {
    if (value === undefined || value === null || value === false) continue;
    const removed = !(name in kept);
    const url = URL_PROPERTIES.has(name) || /^(xlink|xLink)/.test(name);
    if (/^on/i.test(name)) {
      if (removed) {
        file.message(`Removed event handler \`${attributeName(name)}\` on \`<${tag}>\``, {place, source: 'book', ruleId: 'unsafe-html'});
      }
    } else if (name === 'style') {
      if (removed) file.message(`Removed \`style\` attribute on \`<${tag}>\`; use a class`, {place, source: 'book', ruleId: 'unsafe-html'});
    } else if (url) {
      const text = Array.isArray(value) ? value.join(' ') : String(value);
      const unsafe = removed || !safeUrl(text);
      if (!unsafe) continue;
      if (!removed) delete properties[name];
      if (tag === 'img' && name === 'src') {
        // An image that cannot be shown is an error, like a remote or missing one.
        file.message(`Image \`${shorten(text)}\` is not a file of the manuscript; \`file:\`, \`data:\` and script URLs are not allowed`, {
          place, source: 'book', ruleId: 'remote-image',
        }).fatal = true;
      } else if (name === 'href' || name === 'src' || name === 'cite' || !safeUrl(text)) {
        file.message(`Removed unsafe URL \`${shorten(text)}\` in \`${attributeName(name)}\` on \`<${tag}>\``, {place, source: 'book', ruleId: 'unsafe-url'});
      } else {
        file.message(`Removed \`${attributeName(name)}\` on \`<${tag}>\`: the book loads no other files or URLs`, {place, source: 'book', ruleId: 'unsafe-html'});
      }
    }
  }
  return true;
}

/** The properties hast-util-sanitize keeps on this element (asked of the library itself). */
function keptProperties(tagName: string, properties: Properties): Properties {
  if (!allowedTags.has(tagName)) return {};
  const probe = sanitize({type: 'element', tagName, properties: {...properties}, children: []}, attributeSchema);
  return probe.type === 'element' ? probe.properties : {};
}

/** The attribute as written in HTML (`srcSet` → `srcset`, `xLinkHref` → `xlink:href`). */
function attributeName(property: string): string {
  if (/^(data|aria)[A-Z]/.test(property)) return property.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (/^xlink/i.test(property)) return `xlink:${property.slice(5).toLowerCase()}`;
  return property.toLowerCase();
}

function shorten(url: string): string {
  // eslint-disable-next-line no-control-regex
  const visible = url.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return visible.length > 60 ? `${visible.slice(0, 57)}…` : visible;
}

/**
 * At least as strict as hast-util-sanitize: a scheme before the first `/?#` must be one we
 * allow, after removing what browsers ignore inside URLs (whitespace and control characters),
 * compared without case.
 */
export function safeUrl(url: string): boolean {
  // eslint-disable-next-line no-control-regex
  const cleaned = url.replace(/[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g, '');
  const colon = cleaned.indexOf(':');
  const boundary = cleaned.search(/[/?#\\]/);
  if (colon === -1 || (boundary !== -1 && boundary < colon)) return true;
  return /^(https?|mailto)$/i.test(cleaned.slice(0, colon));
}

/** Elements that must never reach an output: they run code, embed or fetch other documents. */
export const FORBIDDEN_ELEMENTS = new Set([
  'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'form', 'input', 'button',
  'textarea', 'select', 'link', 'style', 'template', 'noscript', 'portal', 'video', 'audio', 'source', 'track',
  'picture', 'svg', 'foreignobject', 'animate', 'set', 'handler', 'listener',
]);

/**
 * The independent check of an output tree (the tests run it on the EPUB and print HTML):
 * forbidden elements, event handlers, URLs with a scheme other than http(s)/mailto, and
 * styles that load something. Returns a description of each problem; empty means safe.
 * `math` and our own `style` elements are allowed with `allowStyleElements` (the print page).
 */
export function unsafeParts(tree: Nodes, options: {allowStyleElements?: boolean} = {}): string[] {
  const problems: string[] = [];
  const stack: Nodes[] = [tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.type === 'element') {
      const tag = node.tagName.toLowerCase();
      if (FORBIDDEN_ELEMENTS.has(tag) && !(tag === 'style' && options.allowStyleElements) && !(tag === 'meta' && isCharsetMeta(node)) && !(tag === 'link' && isOwnStylesheet(node))) {
        problems.push(`<${tag}> element`);
      }
      for (const [name, value] of Object.entries(node.properties ?? {})) {
        if (value === undefined || value === null || value === false) continue;
        const text = Array.isArray(value) ? value.join(' ') : String(value);
        if (/^on/i.test(name)) problems.push(`${name} handler on <${tag}>`);
        else if (name === 'style' && /url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding/i.test(text)) problems.push(`style loading something on <${tag}>`);
        else if ((URL_PROPERTIES.has(name) || /^xlink/i.test(name)) && !safeUrl(text)) problems.push(`${name}="${shorten(text)}" on <${tag}>`);
        else if (name === 'srcSet' || name === 'ping' || name === 'background' || name === 'poster') problems.push(`${name} on <${tag}>`);
      }
      if (tag === 'style' && options.allowStyleElements) {
        const css = node.children.map((c) => (c.type === 'text' ? c.value : '')).join('');
        // Our own stylesheets inline a few drawings as `data:` URLs; nothing else may have a scheme.
        if (/@import|url\(\s*["']?\s*(?:(?!data:)[a-z][a-z0-9+.-]*:|\/\/)/i.test(css)) {
          problems.push('<style> loading something from outside');
        }
      }
    }
    if ('children' in node) for (const child of node.children) stack.push(child as Nodes);
  }
  return problems;
}

function isCharsetMeta(node: Element): boolean {
  const keys = Object.keys(node.properties ?? {});
  return keys.length === 1 && keys[0] === 'charSet';
}

function isOwnStylesheet(node: Element): boolean {
  const href = String(node.properties?.href ?? '');
  return /^[\w-]+\.css$/.test(href);
}
