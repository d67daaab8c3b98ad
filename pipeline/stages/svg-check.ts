/**
 * What an SVG may contain to be embedded in a book: no scripts, handlers or references to other
 * files; raster images (and SVGs) embedded as `data:` URLs are allowed when their bytes are what
 * they say (diagram tools export drawings that way).
 */
import {parseFragment, type DefaultTreeAdapterTypes as P5} from 'parse5';
import {sniffMediaType} from './media.ts';
import pMap from 'p-map';
import {SVG_LIMITS} from './limits.ts';
import {parseDataUri, withoutDataUris} from './svg-data.ts';

export {parseDataUri};

/**
 * What an SVG must not contain to be embedded: scripts, handlers, external references.
 * Checked twice: on the text (also after decoding character references, which XML resolves
 * inside attributes), and on the elements and attributes an HTML parser finds, so that neither
 * entity tricks nor odd markup hide anything. Only references inside the file (`#id`) are allowed.
 *
 * The parser is parse5 itself, as `hast-util-from-html` calls it (a fragment, scripting off), but
 * without source positions and without building a hast tree: drawings with tens of thousands
 * of elements are common, and those two steps cost most of the time.
 */
export function svgProblems(text: string, embeds: string[] = []): string[] {
  const problems = new Set<string>();
  const decoded = text.includes('&') ? decodeReferences(text) : text;
  for (const source of decoded === text ? [text] : [text, decoded]) {
    if (/<([\w.-]+:)?script[\s>/]/i.test(source)) problems.add('a `<script>`');
    if (/<([\w.-]+:)?foreignObject[\s>/]/i.test(source)) problems.add('a `<foreignObject>`');
    if (/<!ENTITY/i.test(source)) problems.add('an XML entity declaration');
    if (/<\?xml-stylesheet/i.test(source)) problems.add('an external stylesheet reference');
    const doctype = /<!DOCTYPE[^>[]*/i.exec(source)?.[0];
    if (doctype && /\b(SYSTEM|PUBLIC)\b/i.test(doctype) && !/"http:\/\/www\.w3\.org\/Graphics\/SVG\/1\.[01]\/DTD\/svg1[01](-[a-z]+)?\.dtd"/i.test(doctype)) {
      problems.add('a document type loaded from elsewhere');
    }
  }
  let fragment: P5.DocumentFragment | undefined;
  try {
    fragment = parseFragment(text, {scriptingEnabled: false});
  } catch {
    problems.add('markup that cannot be read');
  }
  // Depth first, last child first (the order only decides the order of the reasons).
  const stack: P5.Node[] = fragment ? [fragment] : [];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if ('tagName' in node) checkElement(node, problems, embeds);
    if ('childNodes' in node) for (const child of node.childNodes) stack.push(child);
    // An HTML `<template>` keeps its children apart; an XML parser sees them as ordinary children.
    if ('content' in node && node.content) stack.push(node.content);
  }
  return [...problems];
}

const FORBIDDEN_ELEMENTS = new Set(['iframe', 'object', 'embed', 'audio', 'video', 'link', 'meta', 'base', 'form']);
const ANIMATIONS = new Set(['animate', 'animatemotion', 'animatetransform', 'animatecolor', 'set']);

function checkElement(node: P5.Element, problems: Set<string>, embeds: string[]): void {
  // Like hastscript, read `a.b#c` as a selector; and compare `svg:script` by its local name.
  const selector = /[#.]/.test(node.tagName) ? node.tagName.split(/([#.])/) : undefined;
  const tag = (selector ? selector[0]! : node.tagName).toLowerCase();
  const local = tag.slice(tag.lastIndexOf(':') + 1);
  if (local === 'script') problems.add('a `<script>`');
  else if (local === 'foreignobject') problems.add('a `<foreignObject>`');
  else if (FORBIDDEN_ELEMENTS.has(local)) problems.add(`an element \`<${local}>\``);
  else if (ANIMATIONS.has(local)) {
    for (const attribute of node.attrs) {
      if (!attribute.prefix && attribute.name.toLowerCase() === 'attributename' && /href|^on|style/i.test(attribute.value)) {
        problems.add('an animation that changes a link, handler or style');
      }
    }
  }
  if (selector) {
    // A selector or class list is not CSS: a `data:` URL there is not an image either.
    const refused: string[] = [];
    // hastscript's selector: `.class` and `#id` parts; its class list also takes the `class` attribute.
    const classes: string[] = [];
    for (let index = 1; index < selector.length; index += 2) {
      const part = selector[index + 1]!;
      if (!part) continue;
      if (selector[index] === '.') classes.push(part);
      else if (urlLoadsSomething(part, refused)) problems.add('an external stylesheet reference');
    }
    const classAttribute = node.attrs.find((attribute) => !attribute.prefix && attribute.name === 'class')?.value.trim();
    if (classAttribute) classes.push(...classAttribute.split(/[ \t\n\r\f]+/));
    if (urlLoadsSomething(classes.join(' '), refused) || refused.length > 0) problems.add('an external stylesheet reference');
  }
  for (const attribute of node.attrs) {
    // parse5 gives `xlink:href` in SVG as `href` with the prefix `xlink`, elsewhere as `xlink:href`.
    const name = attribute.prefix ? `${attribute.prefix}:${attribute.name}` : attribute.name;
    const value = attribute.value;
    const isHref = /^(xlink:?)?href$/i.test(name) || /.:href$/i.test(name);
    if (/^on/i.test(name)) problems.add('an event handler');
    else if (isHref && isDataUri(value)) embeds.push(value.trim());
    else if (/^(xlink:?)?href$|^src$|^srcset$/i.test(name) && !value.trim().startsWith('#')) problems.add('a link to another file or URL');
    else if (name === 'style' ? cssLoadsSomething(decodeCss(value), value, embeds) : urlLoadsSomething(value, embeds)) problems.add('an external stylesheet reference');
    // XML may bind any prefix to XLink: `<image x:href="…" xmlns:x="http://www.w3.org/1999/xlink"/>`.
    if (/.:href$/i.test(name) && !value.trim().startsWith('#') && !isDataUri(value)) problems.add('a link to another file or URL');
  }
  if (local === 'style') {
    let css = '';
    for (const child of node.childNodes) {
      if ('value' in child) css += child.value;
      else if ('data' in child) css += child.data;
    }
    if (cssLoadsSomething(decodeCss(css), css, embeds)) problems.add('an external stylesheet reference');
  }
}

/**
 * Whether an attribute other than `style` has a `url()` that loads something (then also any
 * `@import` or `image()` counts, as before). Without `(` or `\` it cannot contain `url(`, which
 * spares decoding the long `d` of every path. hast split some attributes into lists and joined
 * them with single spaces, so that `\75  rl(` or `\75,rl(` became `url(`: that spelling is checked too.
 */
function urlLoadsSomething(value: string, embeds: string[]): boolean {
  const escaped = value.includes('\\');
  if (!escaped && !value.includes('(')) return false;
  const check = (css: string) => {
    const plain = decodeCss(css);
    return /url\(/.test(plain) && cssLoadsSomething(plain, css, embeds);
  };
  return check(value) || (escaped && check(value.trim().replace(/[\s,]+/g, ' ')));
}

/**
 * `@import`, or a `url()`/`image-set()` that is not a reference inside the file (`#id`), in CSS
 * that `decodeCss` has decoded. A `data:` URL is an embedded image, checked by its bytes later:
 * it is collected from the CSS as written (`raw`; decoding lower-cases it), and only when it is
 * written plainly there (a `data:` that only escapes spell is refused).
 */
function cssLoadsSomething(plain: string, raw: string, embeds: string[]): boolean {
  if (/@import/i.test(plain)) return true;
  let written: string[] | undefined;
  for (const match of plain.matchAll(/(?:url|image-set|image)\(\s*(["']?)\s*([^)"']*)/gi)) {
    const target = match[2]!.trim();
    if (target.startsWith('#')) continue;
    if (!target.startsWith('data:')) return true;
    written ??= [...raw.matchAll(/url\(\s*["']?\s*(data:[^)"'\s]*)/gi)].map((m) => m[1]!);
    const plainly = written.find((uri) => uri.toLowerCase() === target);
    if (!plainly) return true;
    embeds.push(plainly);
  }
  return false;
}

function isDataUri(value: string): boolean {
  return /^data:/i.test(value.trim());
}

/** CSS without comments and escapes (`\69 mport`, `\@`), lower-cased for matching. */
function decodeCss(css: string): string {
  return css
    .replace(/\/\*[\s\S]*?(\*\/|$)/g, '')
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (_, hex: string) => safeCodePoint(parseInt(hex, 16)))
    .replace(/\\([^\n0-9a-f])/gi, '$1')
    .toLowerCase();
}

/** Numeric and the predefined XML character references, as an XML parser resolves them. */
function decodeReferences(text: string): string {
  const named: Record<string, string> = {lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", colon: ':', tab: '\t', newline: '\n'};
  return text.replace(/&(?:#(\d{1,8})|#x([0-9a-f]{1,8})|([a-z]+));?/gi, (whole, dec?: string, hex?: string, name?: string) => {
    if (dec) return safeCodePoint(Number.parseInt(dec, 10));
    if (hex) return safeCodePoint(Number.parseInt(hex, 16));
    return named[name!.toLowerCase()] ?? whole;
  });
}

function safeCodePoint(code: number): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
}


const EMBEDDED_RASTERS = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);


/**
 * The bytes of an embedded image's base64, or a reason. Strict: only the base64 alphabet (white
 * space between, as XML tools wrap long lines), whole groups of four, padding only at the end:
 * a truncated export is refused rather than half-drawn.
 */
export function decodeBase64(data: string, maxBytes: number): Uint8Array | string {
  const compact = data.replace(/[\s]+/g, '');
  if (Math.floor(compact.length / 4) * 3 > maxBytes) return `is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return 'is not complete base64 (truncated or damaged)';
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/**
 * Everything that keeps an SVG out of the book: svgProblems on its text, and each image it
 * embeds checked for what it is: base64 that decodes, a PNG, JPEG, GIF or WebP whose bytes are
 * that format and whose pixels decode (sharp), within SVG_LIMITS; an embedded SVG checked the same
 * way, to a bounded depth. Anything else a `data:` URL may hold (HTML, text, fonts) is refused.
 */
export async function checkSvg(text: string, depth = 0): Promise<string[]> {
  const embeds: string[] = [];
  const problems = new Set(svgProblems(text, embeds));
  const malformed = await notWellFormed(text);
  if (malformed) problems.add(malformed);
  let total = 0;
  // A few at a time: sharp decodes on libuv's threads. The reasons keep the order of the URLs.
  const reasons = await pMap(new Set(embeds), (uri) => embeddedProblem(uri, depth, (bytes) => (total += bytes) > SVG_LIMITS.embeddedTotalBytes), {concurrency: 4});
  for (const reason of reasons) if (reason) problems.add(reason);
  return [...problems];
}

async function embeddedProblem(uri: string, depth: number, tooMuch: (bytes: number) => boolean): Promise<string | undefined> {
  const parsed = parseDataUri(uri);
  if (!parsed) return 'an embedded image that is not a `data:` URL';
  const {mediaType} = parsed;
  const label = `an embedded \`${mediaType}\``;
  if (mediaType === 'image/svg+xml') {
    if (depth + 1 > SVG_LIMITS.nestedSvgDepth) return `SVGs embedded in each other more than ${SVG_LIMITS.nestedSvgDepth} deep`;
    let inner: string;
    if (parsed.base64) {
      const bytes = decodeBase64(parsed.data, SVG_LIMITS.embeddedBytes);
      if (typeof bytes === 'string') return `${label} that ${bytes}`;
      inner = Buffer.from(bytes).toString('utf8');
    } else {
      try {
        inner = decodeURIComponent(parsed.data);
      } catch {
        return `${label} that cannot be decoded`;
      }
    }
    if (tooMuch(Buffer.byteLength(inner))) return `embedded images of more than ${SVG_LIMITS.embeddedTotalBytes / 1024 / 1024} MB in all`;
    if (sniffMediaType(Buffer.from(inner)) !== 'image/svg+xml') return `${label} that is not an SVG`;
    const innerProblems = await checkSvg(inner, depth + 1);
    return innerProblems.length ? `an embedded SVG that contains ${innerProblems.join(', ')}` : undefined;
  }
  if (!EMBEDDED_RASTERS.has(mediaType)) return `${label} (only PNG, JPEG, GIF, WebP and SVG images may be embedded)`;
  if (!parsed.base64) return `${label} that is not base64-encoded`;
  const bytes = decodeBase64(parsed.data, SVG_LIMITS.embeddedBytes);
  if (typeof bytes === 'string') return `${label} that ${bytes}`;
  if (tooMuch(bytes.byteLength)) return `embedded images of more than ${SVG_LIMITS.embeddedTotalBytes / 1024 / 1024} MB in all`;
  const sniffed = sniffMediaType(bytes);
  if (sniffed !== mediaType) return `${label} whose bytes are ${sniffed ? `\`${sniffed}\`` : 'not an image'}`;
  try {
    // Decoded whole (to a few pixels): a file cut short fails here, not in a reader.
    const {default: sharp} = await import('sharp');
    await sharp(bytes, {limitInputPixels: SVG_LIMITS.embeddedPixels, failOn: 'truncated'}).resize(4, 4, {fit: 'fill'}).raw().toBuffer();
  } catch (error) {
    return `${label} that cannot be decoded (${(error as Error).message.split('\n')[0]})`;
  }
  return undefined;
}

/**
 * Whether the SVG is XML that readers (and svgo, which normalises it for the targets) can parse:
 * an HTML parser, which svgProblems uses, reads anything. svgo's own parser, loaded when needed.
 */
async function notWellFormed(text: string): Promise<string | undefined> {
  const {optimize} = await import('svgo');
  try {
    optimize(withoutDataUris(text).text, {plugins: []});
    return undefined;
  } catch (error) {
    const {line, column, reason} = error as {line?: number; column?: number; reason?: string};
    return `markup that is not well-formed XML${line ? ` (line ${line}, column ${column}: ${reason ?? 'cannot be read'})` : ''}`;
  }
}
