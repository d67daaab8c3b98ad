/**
 * Images: read from inside the manuscript only, checked by their bytes (not their name),
 * named by content hash so each is stored once.
 */
import {createHash} from 'node:crypto';
import pMap from 'p-map';
import type {VFile} from 'vfile';
import type {Element} from 'hast';
import {parseFragment, type DefaultTreeAdapterTypes as P5} from 'parse5';
import type {Asset} from '../model.ts';
import {readInside, OutsideManuscriptError, MissingFileError, similarFiles} from '../io/files.ts';

const MEDIA_TYPES: Record<string, string> = {
  svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
};
const EXTENSIONS: Record<string, string> = {'image/svg+xml': 'svg', 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp'};

/** The media type from the first bytes, or undefined when they are not an image we accept. */
export function sniffMediaType(bytes: Uint8Array): string | undefined {
  const b = bytes;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  const head = Buffer.from(b.subarray(0, 1024)).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  // A prolog of processing instructions, comments and a document type (with an internal subset,
  // which svgProblems then refuses with a clear reason) before the <svg> element.
  if (/^(<\?[\s\S]*?\?>\s*|<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>[]*(\[[\s\S]*?\])?\s*>\s*)?(<\?[\s\S]*?\?>\s*|<!--[\s\S]*?-->\s*)*<svg[\s/>]/i.test(head)) return 'image/svg+xml';
  return undefined;
}

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
export function svgProblems(text: string): string[] {
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
    if ('tagName' in node) checkElement(node, problems);
    if ('childNodes' in node) for (const child of node.childNodes) stack.push(child);
    // An HTML `<template>` keeps its children apart; an XML parser sees them as ordinary children.
    if ('content' in node && node.content) stack.push(node.content);
  }
  return [...problems];
}

const FORBIDDEN_ELEMENTS = new Set(['iframe', 'object', 'embed', 'audio', 'video', 'link', 'meta', 'base', 'form']);
const ANIMATIONS = new Set(['animate', 'animatemotion', 'animatetransform', 'animatecolor', 'set']);

function checkElement(node: P5.Element, problems: Set<string>): void {
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
    // hastscript's selector: `.class` and `#id` parts; its class list also takes the `class` attribute.
    const classes: string[] = [];
    for (let index = 1; index < selector.length; index += 2) {
      const part = selector[index + 1]!;
      if (!part) continue;
      if (selector[index] === '.') classes.push(part);
      else if (urlLoadsSomething(part)) problems.add('an external stylesheet reference');
    }
    const classAttribute = node.attrs.find((attribute) => !attribute.prefix && attribute.name === 'class')?.value.trim();
    if (classAttribute) classes.push(...classAttribute.split(/[ \t\n\r\f]+/));
    if (urlLoadsSomething(classes.join(' '))) problems.add('an external stylesheet reference');
  }
  for (const attribute of node.attrs) {
    // parse5 gives `xlink:href` in SVG as `href` with the prefix `xlink`, elsewhere as `xlink:href`.
    const name = attribute.prefix ? `${attribute.prefix}:${attribute.name}` : attribute.name;
    const value = attribute.value;
    if (/^on/i.test(name)) problems.add('an event handler');
    else if (/^(xlink:?)?href$|^src$|^srcset$/i.test(name) && !value.trim().startsWith('#')) problems.add('a link to another file or URL');
    else if (name === 'style' ? cssLoadsSomething(decodeCss(value)) : urlLoadsSomething(value)) problems.add('an external stylesheet reference');
    // XML may bind any prefix to XLink: `<image x:href="…" xmlns:x="http://www.w3.org/1999/xlink"/>`.
    if (/.:href$/i.test(name) && !value.trim().startsWith('#')) problems.add('a link to another file or URL');
  }
  if (local === 'style') {
    let css = '';
    for (const child of node.childNodes) {
      if ('value' in child) css += child.value;
      else if ('data' in child) css += child.data;
    }
    if (cssLoadsSomething(decodeCss(css))) problems.add('an external stylesheet reference');
  }
}

/**
 * Whether an attribute other than `style` has a `url()` that loads something (then also any
 * `@import` or `image()` counts, as before). Without `(` or `\` it cannot contain `url(`, which
 * spares decoding the long `d` of every path. hast split some attributes into lists and joined
 * them with single spaces, so that `\75  rl(` or `\75,rl(` became `url(`: that spelling is checked too.
 */
function urlLoadsSomething(value: string): boolean {
  const escaped = value.includes('\\');
  if (!escaped && !value.includes('(')) return false;
  const check = (css: string) => {
    const plain = decodeCss(css);
    return /url\(/.test(plain) && cssLoadsSomething(plain);
  };
  return check(value) || (escaped && check(value.trim().replace(/[\s,]+/g, ' ')));
}

/** `@import`, or a `url()`/`image-set()` that is not a reference inside the file (`#id`), in CSS that `decodeCss` has decoded. */
function cssLoadsSomething(plain: string): boolean {
  if (/@import/i.test(plain)) return true;
  for (const match of plain.matchAll(/(?:url|image-set|image)\(\s*(["']?)\s*([^)"']*)/gi)) {
    if (!match[2]!.trim().startsWith('#')) return true;
  }
  return false;
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

/**
 * Remembers what is learnt from an image's bytes (its size, an SVG's problems) by the SHA-256 of
 * the bytes; a build cache keeps it between builds (measuring and checking large SVGs is slow).
 */
export type ImageMemo = <T>(kind: 'size' | 'svg-problems', sha256: string, compute: () => Promise<T>) => Promise<T>;

export async function loadAsset(root: string, relPath: string, memo?: ImageMemo, onFresh?: (asset: Asset) => void): Promise<Asset> {
  const {absPath, bytes} = await readInside(root, relPath);
  const extension = relPath.split('.').pop()?.toLowerCase() ?? '';
  const sniffed = sniffMediaType(bytes);
  if (!sniffed) throw new AssetError(`\`${relPath}\` is not an SVG, PNG, JPEG, GIF or WebP image`);
  if (MEDIA_TYPES[extension] && MEDIA_TYPES[extension] !== sniffed) {
    throw new AssetError(`\`${relPath}\` is named .${extension} but contains ${sniffed}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sniffed === 'image/svg+xml') {
    const check = async () => svgProblems(bytes.toString('utf8'));
    const problems = memo ? await memo('svg-problems', sha256, check) : await check();
    if (problems.length > 0) throw new AssetError(`SVG \`${relPath}\` contains ${problems.join(', ')}; only self-contained drawings are allowed`);
  }
  let fresh = false;
  const measure = async () => {
    fresh = true;
    try {
      // Loaded when an image is measured: a rebuild that remembers every size never needs it.
      const {default: sharp} = await import('sharp');
      const metadata = await sharp(bytes, {limitInputPixels: 100_000_000}).metadata();
      return {width: metadata.width, height: metadata.height};
    } catch (error) {
      throw new AssetError(`Cannot read image \`${relPath}\`: ${(error as Error).message}`);
    }
  };
  const {width, height} = memo ? await memo('size', sha256, measure) : await measure();
  const hash = sha256.slice(0, 16);
  const asset: Asset = {
    path: relPath, absPath, mediaType: sniffed, name: `img-${hash}.${EXTENSIONS[sniffed]}`,
    bytes: new Uint8Array(bytes), ...(width ? {width} : {}), ...(height ? {height} : {}),
  };
  // An image the memo did not know (or any, without one): its scaling can start now.
  if (fresh) onFresh?.(asset);
  return asset;
}

export class AssetError extends Error {}

/** Loads every referenced image once; failures become messages at the image's line. */
export async function loadAssets(
  root: string,
  refs: {path: string; node?: Element; file: VFile}[],
  memo?: ImageMemo,
  onFresh?: (asset: Asset) => void,
): Promise<Map<string, Asset>> {
  const loaded = new Map<string, Asset>();
  const failed = new Map<string, string>();
  const load = async (relPath: string) => {
    try {
      loaded.set(relPath, await loadAsset(root, relPath, memo, onFresh));
    } catch (error) {
      let reason: string;
      if (error instanceof MissingFileError) {
        const similar = await similarFiles(root, relPath);
        reason = `Cannot find image \`${relPath}\`${similar.length ? `; did you mean \`${similar[0]}\`?` : ''}`;
      } else if (error instanceof OutsideManuscriptError) {
        reason = `Image \`${relPath}\` is outside the manuscript folder (after following links)`;
      } else if (error instanceof AssetError) {
        reason = error.message;
      } else throw error;
      failed.set(relPath, reason);
    }
  };
  // A few at a time: measuring an image (sharp) runs on libuv's threads, so both cores work
  // while this thread waits. The results are used in the order of `refs` below.
  await pMap(new Set(refs.map((ref) => ref.path)), load, {concurrency: 4});
  const assets = new Map<string, Asset>();
  for (const ref of refs) {
    const asset = loaded.get(ref.path);
    if (asset && !assets.has(ref.path)) assets.set(ref.path, asset);
    const reason = failed.get(ref.path);
    if (reason) {
      // Images named in book.yaml (cover, part pages) have no node: point at where the path is written.
      const place = ref.node?.position ?? placeOf(String(ref.file.value ?? ''), ref.path);
      ref.file.message(reason, {place, source: 'book', ruleId: 'missing-image'}).fatal = true;
    }
  }
  return assets;
}

/** Where `needle` first appears in `text`, as a range, or undefined. */
function placeOf(text: string, needle: string) {
  const index = needle ? text.indexOf(needle) : -1;
  if (index < 0) return undefined;
  const before = text.slice(0, index).split('\n');
  const line = before.length;
  const column = before.at(-1)!.length + 1;
  return {start: {line, column}, end: {line, column: column + needle.length}};
}
