/** What kind of reference a URL in the manuscript is. */

/** A URL with a scheme (`https:`, `file:`, `data:`…) or protocol-relative (`//host/…`): not a file of the manuscript. */
export function isRemote(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//');
}

/** A URL with a scheme. */
export function hasScheme(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(url);
}
