/** What an image is, told by its first bytes rather than its name. */

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
 * The `width` and `height` an `<img>` is written with: the image's own pixels, unless the author
 * asked for a width (`<img width="400">`, as mdBook books do): then that many CSS pixels, the
 * height in proportion; a percentage becomes a CSS width (XHTML allows only whole numbers in
 * `width`). Mutates the element's properties.
 */
export function sizeImage(props: Record<string, unknown>, asset: {width?: number; height?: number}): void {
  if (!asset.width || !asset.height) return;
  const asked = String(props.width ?? '').trim();
  delete props.width;
  delete props.height;
  const pixels = /^(\d+(?:\.\d+)?)(px)?$/.exec(asked);
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(asked);
  if (pixels && Number(pixels[1]) > 0) {
    const width = Math.round(Number(pixels[1]));
    [props.width, props.height] = [width, Math.max(1, Math.round((width * asset.height) / asset.width))];
  } else if (percent && Number(percent[1]) > 0 && Number(percent[1]) <= 100) {
    props.style = `width: ${Number(percent[1])}%; height: auto`;
  } else {
    [props.width, props.height] = [asset.width, asset.height];
  }
}
