/**
 * Images: read from inside the manuscript only, checked by their bytes (not their name),
 * named by content hash so each is stored once.
 */
import {createHash} from 'node:crypto';
import type {VFile} from 'vfile';
import type {Element} from 'hast';
import sharp from 'sharp';
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
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'image/svg+xml';
  return undefined;
}

/** What an SVG must not contain to be embedded: scripts, handlers, external references. */
export function svgProblems(text: string): string[] {
  const problems: string[] = [];
  if (/<script[\s>]/i.test(text)) problems.push('a `<script>`');
  if (/\son[a-z]+\s*=/i.test(text)) problems.push('an event handler');
  if (/<foreignObject[\s>]/i.test(text)) problems.push('a `<foreignObject>`');
  if (/(?:xlink:)?href\s*=\s*["']\s*(?!#)[^"']+["']/i.test(text)) problems.push('a link to another file or URL');
  if (/url\(\s*["']?\s*(?!#)[a-z]+:/i.test(text) || /@import/i.test(text)) problems.push('an external stylesheet reference');
  if (/<!ENTITY/i.test(text)) problems.push('an XML entity declaration');
  return problems;
}

/** Remembers image dimensions by the SHA-256 of the bytes (a build cache keeps them between builds). */
export type ImageSizeMemo = (sha256: string, measure: () => Promise<{width?: number; height?: number}>) => Promise<{width?: number; height?: number}>;

export async function loadAsset(root: string, relPath: string, memo?: ImageSizeMemo): Promise<Asset> {
  const {absPath, bytes} = await readInside(root, relPath);
  const extension = relPath.split('.').pop()?.toLowerCase() ?? '';
  const sniffed = sniffMediaType(bytes);
  if (!sniffed) throw new AssetError(`\`${relPath}\` is not an SVG, PNG, JPEG, GIF or WebP image`);
  if (MEDIA_TYPES[extension] && MEDIA_TYPES[extension] !== sniffed) {
    throw new AssetError(`\`${relPath}\` is named .${extension} but contains ${sniffed}`);
  }
  if (sniffed === 'image/svg+xml') {
    const problems = svgProblems(bytes.toString('utf8'));
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
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const {width, height} = memo ? await memo(sha256, measure) : await measure();
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
  memo?: ImageSizeMemo,
): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  const failed = new Map<string, string>();
  for (const ref of refs) {
    if (!assets.has(ref.path) && !failed.has(ref.path)) {
      try {
        assets.set(ref.path, await loadAsset(root, ref.path, memo));
      } catch (error) {
        let reason: string;
        if (error instanceof MissingFileError) {
          const similar = await similarFiles(root, ref.path);
          reason = `Cannot find image \`${ref.path}\`${similar.length ? `; did you mean \`${similar[0]}\`?` : ''}`;
        } else if (error instanceof OutsideManuscriptError) {
          reason = `Image \`${ref.path}\` is outside the manuscript folder (after following links)`;
        } else if (error instanceof AssetError) {
          reason = error.message;
        } else throw error;
        failed.set(ref.path, reason);
      }
    }
    const reason = failed.get(ref.path);
    if (reason) {
      ref.file.message(reason, {place: ref.node?.position, source: 'book', ruleId: 'missing-image'}).fatal = true;
    }
  }
  return assets;
}
