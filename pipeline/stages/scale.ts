/**
 * Raster images at the size a target needs: the EPUB gets at most a screen's worth of
 * pixels, the print PDF about 300 dpi at the text width. SVG stays vector, normalised, with its
 * embedded bitmaps scaled the same way. Deterministic:
 * the same input bytes give the same output bytes (libvips, fixed settings).
 */
import {createHash} from 'node:crypto';
import pMap from 'p-map';
import type {Asset, Book} from '../model.ts';

/** Remembers scaled images by their input (a build cache keeps them between builds). */
export type ScaleMemo = (asset: Asset, maxWidth: number, maxHeight: number, scale: () => Promise<Asset>) => Promise<Asset>;

export async function scaleAssets(assets: Map<string, Asset>, maxWidth: number, maxHeight = maxWidth * 1.5, memo?: ScaleMemo): Promise<Map<string, Asset>> {
  // A few at a time: libvips works on libuv's threads, so both cores scale while this one waits.
  // p-map keeps the order of `assets` whatever the order of completion.
  const scaled = await pMap(assets, ([, asset]) => scaleAsset(asset, maxWidth, maxHeight, memo), {concurrency: 4});
  return new Map([...assets.keys()].map((key, i) => [key, scaled[i]!]));
}

/** The book with every image (cover and part images too) at most `maxWidth` × `maxHeight`: what a target renders from. */
export async function scaledBook(book: Book, maxWidth: number, maxHeight: number, memo?: ScaleMemo): Promise<Book> {
  const assets = await scaleAssets(book.assets, maxWidth, maxHeight, memo);
  const scaled = (asset: Asset) => assets.get(asset.path) ?? asset;
  return {
    ...book, assets,
    ...(book.cover ? {cover: scaled(book.cover)} : {}),
    parts: book.parts.map((part) => ({...part, ...(part.image ? {image: scaled(part.image)} : {})})),
  };
}

export async function scaleAsset(asset: Asset, maxWidth: number, maxHeight: number, memo?: ScaleMemo): Promise<Asset> {
  if (asset.mediaType === 'image/svg+xml') {
    if (memo) return memo(asset, maxWidth, maxHeight, () => scaleAsset(asset, maxWidth, maxHeight));
    // Normalised for the schema, its embedded bitmaps at the pixels this target needs (svg-normalise.ts).
    // loadAsset checked that svgo can read it; should it still fail, the drawing goes as it came.
    // Loaded when a drawing is scaled: svgo takes a moment to import, and cached builds never need it.
    const {svgForTarget} = await import('./svg-normalise.ts');
    const normalised = await svgForTarget(Buffer.from(asset.bytes).toString('utf8'), maxWidth, maxHeight).catch(() => undefined);
    if (normalised === undefined) return asset;
    const svg = Buffer.from(normalised, 'utf8');
    const hash = createHash('sha256').update(svg).digest('hex').slice(0, 16);
    return {...asset, bytes: new Uint8Array(svg), name: `img-${hash}.svg`};
  }
  if (asset.mediaType === 'image/gif' || !asset.width || !asset.height) return asset;
  if (asset.width <= maxWidth && asset.height <= maxHeight) return asset;
  if (memo) return memo(asset, maxWidth, maxHeight, () => scaleAsset(asset, maxWidth, maxHeight));
  // Loaded when an image is scaled: a rebuild that finds every scaled image remembered never needs it.
  const {default: sharp} = await import('sharp');
  const image = sharp(asset.bytes, {limitInputPixels: 100_000_000}).resize({width: maxWidth, height: maxHeight, fit: 'inside', withoutEnlargement: true});
  const encoded = asset.mediaType === 'image/jpeg'
    ? image.jpeg({quality: 85, mozjpeg: false})
    : asset.mediaType === 'image/webp' ? image.webp({quality: 85}) : image.png({compressionLevel: 9});
  const {data, info} = await encoded.toBuffer({resolveWithObject: true});
  const extension = asset.name.split('.').pop();
  const hash = createHash('sha256').update(data).digest('hex').slice(0, 16);
  return {...asset, bytes: new Uint8Array(data), width: info.width, height: info.height, name: `img-${hash}.${extension}`};
}

/**
 * Scaling started ahead. Loading the book hands each image it measured afresh to `start` as soon
 * as it is read, and its scaling for every target being built begins then, on libvips's threads,
 * while the rest of the book loads (the other chapters' images, the SVG checks, the citations).
 * The targets' scaleAssets find the results through `memo`. Images known to the build cache are
 * not started: a rebuild may not need them at all.
 */
export class ScaleAhead {
  private readonly started = new Map<string, Promise<Asset>>();

  /** `bounds`: each target's largest width and height; `cache`: the build cache's memo. */
  constructor(private readonly bounds: {maxWidth: number; maxHeight: number}[], private readonly cache?: ScaleMemo) {}

  start(asset: Asset): void {
    for (const {maxWidth, maxHeight} of this.bounds) {
      const key = aheadKey(asset, maxWidth, maxHeight);
      if (this.started.has(key)) continue;
      const scaling = scaleAsset(asset, maxWidth, maxHeight, this.cache);
      // A failure is the target's to report, when it asks for the image.
      scaling.catch(() => {});
      this.started.set(key, scaling);
    }
  }

  /** For the targets: what was started ahead, else the build cache's memo, else scaling now. */
  readonly memo: ScaleMemo = (asset, maxWidth, maxHeight, scale) =>
    this.started.get(aheadKey(asset, maxWidth, maxHeight)) ?? (this.cache ? this.cache(asset, maxWidth, maxHeight, scale) : scale());
}

/** Images are named by a hash of their bytes. */
function aheadKey(asset: Asset, maxWidth: number, maxHeight: number): string {
  return `${asset.name}\n${asset.mediaType}\n${asset.bytes.byteLength}\n${maxWidth}\n${maxHeight}`;
}
