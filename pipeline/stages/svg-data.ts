/**
 * `data:` URLs in SVG text: taken apart, and set aside while a parser reads the markup.
 */

/** A `data:` URL taken apart, or undefined when it is not one. */
export function parseDataUri(uri: string): {mediaType: string; base64: boolean; data: string} | undefined {
  const match = /^data:([^,]*),/i.exec(uri);
  if (!match) return undefined;
  const params = match[1]!.split(';').map((part) => part.trim());
  const mediaType = (params[0] || 'text/plain').toLowerCase();
  const base64 = params.slice(1).some((part) => part.toLowerCase() === 'base64');
  return {mediaType, base64, data: uri.slice(match[0].length)};
}

/** Stands for the `index`th data URL while svgo works: base64 characters only, never in a real export (which has no `~`). */
export const TOKEN = /data:image\/x-book-token;base64,~(\d+)~/g;

/**
 * The SVG with every attribute value that is a `data:` URL replaced by a short token, and the
 * URLs. svgo's parser reads long attribute values slowly (about 10 MB/s), and the bitmaps' base64
 * is nothing it needs to see: a 6 MB export becomes a few kilobytes of markup. Values holding
 * `<` or `&` are left alone (their XML is svgo's to read). Also used for the XML check at load.
 */
export function withoutDataUris(text: string): {text: string; uris: string[]} {
  const uris: string[] = [];
  const small = text.replace(/(=\s*)(["'])(\s*data:[^"'<&]*)\2/g, (_, eq: string, quote: string, uri: string) => {
    uris.push(uri.trim());
    return `${eq}${quote}data:image/x-book-token;base64,~${uris.length - 1}~${quote}`;
  });
  return {text: small, uris};
}
