/**
 * Images: read from inside the manuscript only, checked by their bytes (not their name),
 * named by content hash so each is stored once.
 */
import {createHash} from 'node:crypto';
import type {VFile} from 'vfile';
import type {Element} from 'hast';
import sharp from 'sharp';
import {fromHtml} from 'hast-util-from-html';
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
 */
export function svgProblems(text: string): string[] {
  const problems = new Set<string>();
  const decoded = decodeReferences(text);
  for (const source of [text, decoded]) {
    if (/<([\w.-]+:)?script[\s>/]/i.test(source)) problems.add('a `<script>`');
    if (/<([\w.-]+:)?foreignObject[\s>/]/i.test(source)) problems.add('a `<foreignObject>`');
    if (/<!ENTITY/i.test(source)) problems.add('an XML entity declaration');
    if (/<\?xml-stylesheet/i.test(source)) problems.add('an external stylesheet reference');
    const doctype = /<!DOCTYPE[^>[]*/i.exec(source)?.[0];
    if (doctype && /\b(SYSTEM|PUBLIC)\b/i.test(doctype) && !/"http:\/\/www\.w3\.org\/Graphics\/SVG\/1\.[01]\/DTD\/svg1[01](-[a-z]+)?\.dtd"/i.test(doctype)) {
      problems.add('a document type loaded from elsewhere');
    }
  }
  let tree: ReturnType<typeof fromHtml> | undefined;
  try {
    tree = fromHtml(text, {fragment: true, space: 'svg'});
  } catch {
    problems.add('markup that cannot be read');
  }
  const stack: unknown[] = tree ? [tree] : [];
  while (stack.length > 0) {
    const node = stack.pop() as {type: string; tagName?: string; properties?: Record<string, unknown>; children?: unknown[]; value?: string};
    if (node.type === 'element') {
      const tag = node.tagName!.toLowerCase();
      if (tag === 'script') problems.add('a `<script>`');
      else if (tag === 'foreignobject') problems.add('a `<foreignObject>`');
      else if (['iframe', 'object', 'embed', 'audio', 'video', 'link', 'meta', 'base', 'form'].includes(tag)) problems.add(`an element \`<${tag}>\``);
      else if (/^(animate|animatemotion|animatetransform|animatecolor|set)$/.test(tag) && /href|^on|style/i.test(String(node.properties?.attributeName ?? ''))) {
        problems.add('an animation that changes a link, handler or style');
      }
      for (const [name, value] of Object.entries(node.properties ?? {})) {
        if (value === undefined || value === null || value === false) continue;
        const attribute = Array.isArray(value) ? value.join(' ') : String(value);
        if (/^on/i.test(name)) problems.add('an event handler');
        else if (/^(xlink:?)?href$|^src$|^srcset$/i.test(name) && !attribute.trim().startsWith('#')) problems.add('a link to another file or URL');
        else if (name === 'style' && cssLoadsSomething(attribute)) problems.add('an external stylesheet reference');
        else if (/url\(/i.test(decodeCss(attribute)) && cssLoadsSomething(attribute)) problems.add('an external stylesheet reference');
      }
      if (tag === 'style') {
        const css = (node.children ?? []).map((child) => ((child as {value?: string}).value ?? '')).join('');
        if (cssLoadsSomething(css)) problems.add('an external stylesheet reference');
      }
    }
    if (Array.isArray(node.children)) stack.push(...node.children);
  }
  return [...problems];
}

/** `@import`, or a `url()`/`image-set()` that is not a reference inside the file (`#id`). */
function cssLoadsSomething(css: string): boolean {
  const plain = decodeCss(css);
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

export async function loadAsset(root: string, relPath: string, memo?: ImageMemo): Promise<Asset> {
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
  const measure = async () => {
    try {
      const metadata = await sharp(bytes, {limitInputPixels: 100_000_000}).metadata();
      return {width: metadata.width, height: metadata.height};
    } catch (error) {
      throw new AssetError(`Cannot read image \`${relPath}\`: ${(error as Error).message}`);
    }
  };
  const {width, height} = memo ? await memo('size', sha256, measure) : await measure();
  const hash = sha256.slice(0, 16);
  return {
    path: relPath, absPath, mediaType: sniffed, name: `img-${hash}.${EXTENSIONS[sniffed]}`,
    bytes: new Uint8Array(bytes), ...(width ? {width} : {}), ...(height ? {height} : {}),
  };
}

export class AssetError extends Error {}

/** Loads every referenced image once; failures become messages at the image's line. */
export async function loadAssets(
  root: string,
  refs: {path: string; node?: Element; file: VFile}[],
  memo?: ImageMemo,
): Promise<Map<string, Asset>> {
  const loaded = new Map<string, Asset>();
  const failed = new Map<string, string>();
  const load = async (relPath: string) => {
    try {
      loaded.set(relPath, await loadAsset(root, relPath, memo));
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
  const paths = [...new Set(refs.map((ref) => ref.path))];
  let next = 0;
  await Promise.all(Array.from({length: Math.min(4, paths.length)}, async () => {
    while (next < paths.length) await load(paths[next++]!);
  }));
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
