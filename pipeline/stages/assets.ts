/**
 * Images: read from inside the manuscript only, checked by their bytes (not their name),
 * named by content hash so each is stored once.
 */
import {createHash} from 'node:crypto';
import pMap from 'p-map';
import type {VFile} from 'vfile';
import type {Element} from 'hast';
import type {Asset} from '../model.ts';
import {sniffMediaType} from './media.ts';
import {checkSvg} from './svg-check.ts';
import {placeholderFor} from './placeholder.ts';
import {readInside, OutsideManuscriptError, MissingFileError, similarFiles} from '../io/files.ts';

const MEDIA_TYPES: Record<string, string> = {
  svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
};
export {sniffMediaType} from './media.ts';
export {svgProblems} from './svg-check.ts';

const EXTENSIONS: Record<string, string> = {'image/svg+xml': 'svg', 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp'};

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
    const check = () => checkSvg(bytes.toString('utf8'));
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
      const message = ref.file.message(reason, {place, source: 'book', ruleId: 'missing-image'});
      message.fatal = true;
      if (ref.node) placeholderFor(ref.node, message);
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
