/** Reads what Chrome wrote: the page of every link destination (`/Dests`). */
import {PDFDocument, PDFName, PDFDict, PDFArray, PDFRef, PDFNumber} from 'pdf-lib';

export interface Destination {
  /** 1-based page index in the document. */
  page: number;
  /** Top of the target in PDF points from the page bottom. */
  y: number;
}

export function readDestinations(doc: PDFDocument): Map<string, Destination> {
  const pageIndex = new Map<string, number>();
  doc.getPages().forEach((page, i) => pageIndex.set(page.ref.toString(), i + 1));
  const out = new Map<string, Destination>();
  const dests = doc.catalog.lookup(PDFName.of('Dests'));
  if (dests instanceof PDFDict) {
    for (const [key, value] of dests.entries()) {
      const array = value instanceof PDFRef ? doc.context.lookup(value) : value;
      if (!(array instanceof PDFArray)) continue;
      const ref = array.get(0);
      const y = array.get(3);
      const page = ref instanceof PDFRef ? pageIndex.get(ref.toString()) : undefined;
      if (page) out.set(decodeName(key.asString()), {page, y: y instanceof PDFNumber ? y.asNumber() : 0});
    }
  }
  return out;
}

/** PDF names escape bytes as #xx; ids are UTF-8. */
export function decodeName(name: string): string {
  const raw = name.startsWith('/') ? name.slice(1) : name;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '#' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
