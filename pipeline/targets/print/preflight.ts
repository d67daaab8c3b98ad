/**
 * Preflight: reads a finished PDF as a printer's intake would and says what it would reject.
 * Pure (bytes in, findings out); build.ts turns the findings into messages.
 *
 * - every profile: fonts embedded;
 * - `screen`: what PDF/UA asks that pdf-lib can see (tagged, structure tree, /Lang, the title
 *   shown, alternative text on every figure, /Tabs /S where there are annotations);
 * - `kdp`: no bookmarks or annotations, the trim and bleed asked for, images of 300 ppi or more
 *   at the size they are printed;
 * - `cover`: fonts embedded, the image of 300 ppi or more;
 * - `pdfx`: PDF/X-1a:2001 named, an output intent with its profile, only grey and CMYK colour,
 *   no transparency, TrimBox inside BleedBox inside MediaBox on every page.
 */
import {
  PDFDocument, PDFName, PDFDict, PDFArray, PDFNumber, PDFRawStream, PDFRef, PDFStream, PDFString, PDFHexString,
  decodePDFRawStream, type PDFObject,
} from 'pdf-lib';
import type {PrintProfile} from '../../config/schema.ts';
import {contentImages, type PlacedImage} from './content.ts';

export interface Finding {
  severity: 'error' | 'warning';
  rule: string;
  message: string;
  /** 1-based page, when the finding is about one. */
  page?: number;
  /** A low-resolution image: its pixels, to find the figure it is. */
  image?: PlacedImage;
}

export interface PreflightOptions {
  /** The page size the profile should have: trim and bleed in points. */
  trim?: {width: number; height: number};
  bleed?: number;
  /** Lowest resolution of a printed image (ppi). */
  minPpi?: number;
}

const name = (value: string) => PDFName.of(value);

export async function preflight(bytes: Uint8Array, profile: PrintProfile | 'cover', options: PreflightOptions = {}): Promise<Finding[]> {
  const doc = await PDFDocument.load(bytes, {updateMetadata: false});
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], rule: string, message: string, extra: Partial<Finding> = {}) => findings.push({severity, rule, message, ...extra});
  const pages = doc.getPages();

  for (const font of fontsOf(doc)) {
    if (!embedded(font)) add('error', 'pdf-font-not-embedded', `The font \`${fontName(font)}\` is not embedded`);
  }

  if (profile === 'screen') {
    const markInfo = doc.catalog.lookupMaybe(name('MarkInfo'), PDFDict);
    if (markInfo?.get(name('Marked'))?.toString() !== 'true') add('error', 'pdf-ua', 'The PDF is not marked as tagged (/MarkInfo /Marked true)');
    const tree = doc.catalog.lookupMaybe(name('StructTreeRoot'), PDFDict);
    if (!tree) add('error', 'pdf-ua', 'The PDF has no structure tree');
    if (!doc.catalog.get(name('Lang'))) add('error', 'pdf-ua', 'The PDF does not say its language (/Lang)');
    const prefs = doc.catalog.lookupMaybe(name('ViewerPreferences'), PDFDict);
    if (prefs?.get(name('DisplayDocTitle'))?.toString() !== 'true') add('error', 'pdf-ua', 'Viewers are not asked to show the title (/DisplayDocTitle)');
    if (!doc.getTitle()) add('error', 'pdf-ua', 'The PDF has no title');
    if (tree) {
      const missing = figuresWithoutAlt(tree);
      if (missing > 0) add('error', 'pdf-ua', `${missing} figure(s) of the structure tree have no alternative text`);
    }
    pages.forEach((page, i) => {
      if (page.node.get(name('Annots')) && page.node.get(name('Tabs'))?.toString() !== '/S') {
        add('error', 'pdf-ua', 'A page with links does not follow the structure order (/Tabs /S)', {page: i + 1});
      }
    });
  }

  if (profile === 'kdp' || profile === 'pdfx') {
    if (doc.catalog.get(name('Outlines'))) add('error', 'print-interactive', 'The PDF has bookmarks');
    pages.forEach((page, i) => {
      if (page.node.get(name('Annots'))) add('error', 'print-interactive', 'The page has annotations (links)', {page: i + 1});
    });
  }

  if (profile === 'kdp') {
    const {trim, bleed = 0} = options;
    pages.forEach((page, i) => {
      const media = page.getMediaBox();
      const cut = page.getTrimBox();
      if (trim && (!close(cut.width, trim.width) || !close(cut.height, trim.height))) {
        add('error', 'print-box', `The trim box is ${pt(cut.width)} × ${pt(cut.height)}, not the trim size ${pt(trim.width)} × ${pt(trim.height)}`, {page: i + 1});
      }
      if (trim && (!close(media.width, trim.width + bleed) || !close(media.height, trim.height + 2 * bleed))) {
        add('error', 'print-box', `The page is ${pt(media.width)} × ${pt(media.height)}; with ${pt(bleed)} bleed it should be ${pt(trim.width + bleed)} × ${pt(trim.height + 2 * bleed)}`, {page: i + 1});
      }
    });
  }

  if (profile === 'kdp' || profile === 'cover') {
    const minPpi = options.minPpi ?? 300;
    pages.forEach((page, i) => {
      for (const image of contentImages(page)) {
        if (image.ppi + 0.5 < minPpi) {
          add('warning', 'image-resolution', `An image of ${image.pixelWidth} × ${image.pixelHeight} px is printed at ${Math.round(image.ppi)} ppi (${(image.widthPt / 72).toFixed(2)} in wide); printers ask for ${minPpi}`, {page: i + 1, image});
        }
      }
    });
  }

  if (profile === 'pdfx') {
    const info = doc.context.lookup(doc.context.trailerInfo.Info);
    const version = info instanceof PDFDict ? decodeText(info.get(name('GTS_PDFXVersion'))) : undefined;
    if (version !== 'PDF/X-1a:2001') add('error', 'pdfx', `The PDF does not say it is PDF/X-1a:2001 (GTS_PDFXVersion: ${version ?? 'none'})`);
    const intents = doc.catalog.lookupMaybe(name('OutputIntents'), PDFArray);
    const intent = intents?.size() ? intents.lookup(0) : undefined;
    if (!(intent instanceof PDFDict) || intent.get(name('S'))?.toString() !== '/GTS_PDFX' || !intent.get(name('DestOutputProfile'))) {
      add('error', 'pdfx', 'The PDF has no PDF/X output intent with an ICC profile');
    }
    const profileRef = intent instanceof PDFDict ? intent.get(name('DestOutputProfile')) : undefined;
    for (const problem of colourAndTransparency(doc, profileRef)) add('error', 'pdfx', problem);
    pages.forEach((page, i) => {
      const [media, bleed, cut] = [page.getMediaBox(), page.node.get(name('BleedBox')) ? page.getBleedBox() : undefined, page.node.get(name('TrimBox')) ? page.getTrimBox() : undefined];
      if (!cut || !bleed) add('error', 'print-box', 'The page has no TrimBox or BleedBox', {page: i + 1});
      else if (!inside(cut, bleed) || !inside(bleed, media)) add('error', 'print-box', 'The TrimBox is not inside the BleedBox, or the BleedBox not inside the MediaBox', {page: i + 1});
    });
  }
  return findings;
}

type Box = {x: number; y: number; width: number; height: number};
const close = (a: number, b: number) => Math.abs(a - b) < 0.5;
const inside = (a: Box, b: Box) => a.x >= b.x - 0.01 && a.y >= b.y - 0.01 && a.x + a.width <= b.x + b.width + 0.01 && a.y + a.height <= b.y + b.height + 0.01;
const pt = (points: number) => `${(points / 72).toFixed(3)} in`;

function decodeText(value: PDFObject | undefined): string | undefined {
  return value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined;
}

/** Every font dictionary of the document. */
function fontsOf(doc: PDFDocument): PDFDict[] {
  const fonts: PDFDict[] = [];
  for (const [, object] of doc.context.enumerateIndirectObjects()) {
    if (object instanceof PDFDict && !(object instanceof PDFStream) && object.get(name('Type')) === name('Font') && object.get(name('Subtype')) !== name('CIDFontType0') && object.get(name('Subtype')) !== name('CIDFontType2')) {
      fonts.push(object);
    }
  }
  return fonts;
}

function embedded(font: PDFDict): boolean {
  const subtype = font.get(name('Subtype'));
  if (subtype === name('Type3')) return true;
  let descriptorOwner: PDFDict | undefined = font;
  if (subtype === name('Type0')) {
    const descendants = font.lookupMaybe(name('DescendantFonts'), PDFArray);
    const first = descendants?.lookup(0);
    descriptorOwner = first instanceof PDFDict ? first : undefined;
  }
  const descriptor = descriptorOwner?.lookupMaybe(name('FontDescriptor'), PDFDict);
  return !!descriptor && ['FontFile', 'FontFile2', 'FontFile3'].some((key) => descriptor.get(name(key)));
}

function fontName(font: PDFDict): string {
  return font.get(name('BaseFont'))?.toString().replace(/^\//, '') ?? 'unnamed';
}

function figuresWithoutAlt(root: PDFDict): number {
  let missing = 0;
  const seen = new Set<PDFDict>();
  const walk = (node: PDFObject | undefined) => {
    const value = node instanceof PDFRef ? root.context.lookup(node) : node;
    if (value instanceof PDFArray) {
      for (let i = 0; i < value.size(); i++) walk(value.get(i));
      return;
    }
    if (!(value instanceof PDFDict) || seen.has(value)) return;
    seen.add(value);
    if (value.get(name('S')) === name('Figure') && !value.get(name('Alt')) && !value.get(name('ActualText'))) missing++;
    walk(value.get(name('K')));
  };
  walk(root.get(name('K')));
  return missing;
}

const FORBIDDEN_SPACES = new Set(['/DeviceRGB', '/CalRGB', '/CalGray', '/Lab', '/ICCBased']);

/** Colour spaces and transparency anywhere in the file, but the output intent's own profile. */
function colourAndTransparency(doc: PDFDocument, profileRef: PDFObject | undefined): string[] {
  const problems = new Set<string>();
  const scan = (object: PDFObject, depth: number) => {
    if (depth > 8) return;
    if (object instanceof PDFName) {
      if (FORBIDDEN_SPACES.has(object.toString())) problems.add(`A colour space other than grey or CMYK: ${object.toString()}`);
    } else if (object instanceof PDFArray) {
      for (let i = 0; i < object.size(); i++) scan(object.get(i), depth + 1);
    } else if (object instanceof PDFDict) {
      for (const [key, value] of object.entries()) {
        const k = key.toString();
        if (k === '/SMask' && value !== name('None')) problems.add('Transparency: a soft mask (/SMask)');
        if ((k === '/CA' || k === '/ca') && value instanceof PDFNumber && value.asNumber() < 1) problems.add(`Transparency: an opacity below 1 (${k})`);
        if (k === '/BM' && value !== name('Normal') && value !== name('Compatible')) problems.add(`Transparency: a blend mode (${value.toString()})`);
        if (k === '/S' && value === name('Transparency')) problems.add('Transparency: a transparency group');
        if (k === '/DestOutputProfile' || k === '/Parent' || k === '/P') continue;
        scan(value, depth + 1);
      }
    }
  };
  for (const [ref, object] of doc.context.enumerateIndirectObjects()) {
    if (profileRef instanceof PDFRef && ref === profileRef) continue;
    if (object instanceof PDFStream) scan(object.dict, 0);
    else scan(object, 0);
  }
  // Content streams set colour with operators: rg/RG are DeviceRGB.
  const contents = new Set<PDFRawStream>();
  for (const page of doc.getPages()) {
    const value = page.node.get(name('Contents'));
    const list = value ? doc.context.lookup(value) : undefined;
    for (const item of list instanceof PDFArray ? list.asArray() : [value]) {
      const stream = item ? doc.context.lookup(item) : undefined;
      if (stream instanceof PDFRawStream) contents.add(stream);
    }
  }
  for (const [, object] of doc.context.enumerateIndirectObjects()) {
    if (object instanceof PDFRawStream && object.dict.get(name('Subtype')) === name('Form')) contents.add(object);
  }
  for (const stream of contents) {
    try {
      const text = Buffer.from(decodePDFRawStream(stream).decode()).toString('latin1');
      if (/(^|\s)(rg|RG)(\s|$)/.test(text)) problems.add('DeviceRGB colour set in a content stream (rg/RG)');
    } catch {}
  }
  return [...problems];
}
