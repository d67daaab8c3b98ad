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

