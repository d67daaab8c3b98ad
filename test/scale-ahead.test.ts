/**
 * Images are scaled ahead for the targets while the book loads (stages/scale.ts ScaleAhead): the
 * targets must get the very images they would have scaled themselves, without scaling again,
 * and loading must start only the images the build cache did not know.
 */
import {describe, it, expect} from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {createHash} from 'node:crypto';
import {ScaleAhead, scaleAssets, type ScaleMemo} from '../pipeline/stages/scale.ts';
import {loadAssets} from '../pipeline/stages/assets.ts';
import {VFile} from 'vfile';
import type {Asset} from '../pipeline/model.ts';

async function photo(width: number, height: number, seed: number): Promise<Asset> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * seed + (i >> 7)) & 0xff;
  const bytes = await sharp(pixels, {raw: {width, height, channels: 3}}).jpeg({quality: 80}).toBuffer();
  const name = `img-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.jpg`;
  return {path: `img/${seed}.jpg`, absPath: `/nowhere/${seed}.jpg`, mediaType: 'image/jpeg', name, bytes: new Uint8Array(bytes), width, height};
}

describe('scaling ahead', () => {
  it('should give the targets the images they would scale themselves, scaled once per bounds', async () => {
    const big = await photo(2400, 1600, 7);
    const small = await photo(300, 200, 3);
    const assets = new Map([[big.path, big], [small.path, small]]);
    let scaled = 0;
    const counting: ScaleMemo = (asset, maxWidth, maxHeight, scale) => {
      scaled++;
      return scale();
    };
    const ahead = new ScaleAhead([{maxWidth: 1600, maxHeight: 2400}, {maxWidth: 1000, maxHeight: 1500}], counting);
    ahead.start(big);
    ahead.start(small);
    ahead.start(big);
    // The big photo for both bounds; the small one needs no scaling.
    expect(scaled).toBe(2);
    for (const [maxWidth, maxHeight] of [[1600, 2400], [1000, 1500]] as const) {
      const own = await scaleAssets(assets, maxWidth, maxHeight);
      const fromAhead = await scaleAssets(assets, maxWidth, maxHeight, ahead.memo);
      expect(fromAhead.get(big.path)!.width).toBe(maxWidth);
      expect(Buffer.from(fromAhead.get(big.path)!.bytes).equals(Buffer.from(own.get(big.path)!.bytes))).toBe(true);
      expect(fromAhead.get(big.path)!.name).toBe(own.get(big.path)!.name);
      expect(fromAhead.get(small.path)).toBe(small);
    }
    expect(scaled).toBe(2);
    // Bounds nobody started go to the cache's memo.
    await scaleAssets(assets, 800, 1200, ahead.memo);
    expect(scaled).toBe(3);
  });

  it('should start only images that the image memo did not know', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'book-ahead-'));
    try {
      const a = await photo(64, 48, 5);
      const b = await photo(64, 48, 9);
      fs.writeFileSync(path.join(dir, 'a.jpg'), a.bytes);
      fs.writeFileSync(path.join(dir, 'b.jpg'), b.bytes);
      const known = new Map<string, unknown>();
      const memo = async <T>(kind: string, sha256: string, compute: () => Promise<T>): Promise<T> => {
        const key = `${kind}:${sha256}`;
        if (!known.has(key)) known.set(key, await compute());
        return known.get(key) as T;
      };
      const file = new VFile({path: 'chapter.md'});
      const first: string[] = [];
      await loadAssets(dir, [{path: 'a.jpg', file}], memo, (asset) => first.push(asset.path));
      expect(first).toEqual(['a.jpg']);
      const second: string[] = [];
      await loadAssets(dir, [{path: 'a.jpg', file}, {path: 'b.jpg', file}], memo, (asset) => second.push(asset.path));
      expect(second).toEqual(['b.jpg']);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
