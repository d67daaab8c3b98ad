/**
 * Makes a zip reproducible: `mimetype` first and stored, the other entries sorted by
 * name, every timestamp set from SOURCE_DATE_EPOCH.
 */
import {zipSync, type Zippable, type ZipOptions} from 'fflate';

/** zipSync or a drop-in with the same output (the build cache's, which reuses compressed entries). */
export type ZipFunction = (data: Zippable, options?: ZipOptions) => Uint8Array;

const COMPRESSED = /\.(jpe?g|png|gif|webp|avif|woff2?|mp3|mp4|m4a)$/i;

/** The EPUB's entries as one zip (names ending in `/` are folders and left out). */
export function normaliseEntries(entries: Record<string, Uint8Array>, sourceDateEpoch: number, zip: ZipFunction = zipSync): Uint8Array {
  // DOS timestamps start in 1980 and are local-time based: fflate uses the Date as given.
  const utc = new Date(Math.max(sourceDateEpoch, 315532800) * 1000);
  // fflate writes local-time fields; shift so they equal the UTC time whatever TZ says.
  const mtime = new Date(utc.getTime() + utc.getTimezoneOffset() * 60_000);
  const ordered: Zippable = {};
  if (!entries.mimetype) throw new Error('EPUB has no mimetype entry');
  ordered.mimetype = [entries.mimetype, {level: 0, mtime}];
  for (const name of Object.keys(entries).filter((n) => n !== 'mimetype' && !n.endsWith('/')).sort()) {
    // Photos and fonts are compressed already: deflating them again costs time and saves nothing.
    ordered[name] = [entries[name]!, {level: COMPRESSED.test(name) ? 0 : 9, mtime}];
  }
  return zip(ordered, {mtime});
}
