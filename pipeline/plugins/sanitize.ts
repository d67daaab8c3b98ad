/**
 * The allow-list for author HTML (rehype-sanitize) and a reporter that turns
 * each removal into a warning at its line, so nothing disappears silently.
 */
import type {Root, Element} from 'hast';
import type {VFile} from 'vfile';
import {defaultSchema, type Schema} from 'hast-util-sanitize';
import {visit, SKIP} from 'unist-util-visit';

const extraTags = ['figure', 'figcaption', 'section', 'aside', 'mark', 'abbr', 'small', 'cite', 'time', 'caption', 'colgroup', 'col', 'u'];

/** GitHub's schema limits class names per element; the book's own classes are allowed anywhere. */
const relaxedAttributes = Object.fromEntries(
  Object.entries(defaultSchema.attributes ?? {}).map(([tag, list]) => [
    tag,
    list.map((entry) => (Array.isArray(entry) && entry[0] === 'className' ? 'className' : entry)),
  ]),
);

export const bookSchema: Schema = {
  ...defaultSchema,
  clobberPrefix: '',
  clobber: [],
  tagNames: [...(defaultSchema.tagNames ?? []).filter((t) => t !== 'input'), ...extraTags],
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

const allowedTags = new Set(bookSchema.tagNames);
const stripped = new Set(bookSchema.strip);

/** Warns about everything rehype-sanitize is about to remove. Run right before it. */
export function reportUnsafe() {
  return (tree: Root, file: VFile) => {
    visit(tree, (node) => {
      if (node.type === 'comment' || node.type === 'doctype') return;
      if (node.type !== 'element') return;
      const element = node as Element;
      const place = element.position;
      if (!allowedTags.has(element.tagName)) {
        const what = stripped.has(element.tagName) ? 'with its content' : 'keeping its text';
        const hint = element.tagName === 'svg' ? '; put SVG in an image file and use `![…](file.svg)`' : '';
        file.message(`Removed \`<${element.tagName}>\` ${what}: it is not allowed in the book${hint}`, {
          place, source: 'book', ruleId: 'unsafe-html',
        });
        if (stripped.has(element.tagName)) return SKIP;
      }
      for (const [name, value] of Object.entries(element.properties ?? {})) {
        if (/^on/i.test(name)) {
          file.message(`Removed event handler \`${name.toLowerCase()}\` on \`<${element.tagName}>\``, {
            place, source: 'book', ruleId: 'unsafe-html',
          });
        } else if ((name === 'href' || name === 'src') && typeof value === 'string' && !safeUrl(value)) {
          file.message(`Removed unsafe URL in \`${name}\` on \`<${element.tagName}>\``, {
            place, source: 'book', ruleId: 'unsafe-url',
          });
        } else if (name === 'style') {
          file.message(`Removed \`style\` attribute on \`<${element.tagName}>\`; use a class`, {
            place, source: 'book', ruleId: 'unsafe-html',
          });
        }
      }
      return undefined;
    });
  };
}

/** Same decision as hast-util-sanitize: a scheme before the first `/?#` must be allowed. */
function safeUrl(url: string): boolean {
  // eslint-disable-next-line no-control-regex
  const cleaned = url.replace(/[\u0000-\u0020\u007f]/g, '');
  const colon = cleaned.indexOf(':');
  const boundary = cleaned.search(/[/?#]/);
  if (colon === -1 || (boundary !== -1 && boundary < colon)) return true;
  return /^(https?|mailto)$/i.test(cleaned.slice(0, colon));
}
