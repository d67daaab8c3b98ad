/**
 * SVG drawings as a target needs them. Diagram tools (Keynote, OmniGraffle, draw.io, Inkscape)
 * export attributes and elements the SVG schema does not allow where they stand, a document type
 * EPUB forbids, editor data, and bitmaps far larger than the drawing is ever shown. svgo
 * normalises the markup with a conservative set of its plugins (nothing that moves or merges
 * shapes); the bitmaps embedded as `data:` URLs are then scaled with sharp to the pixels each one
 * needs at the target's largest size of the drawing, keeping the drawing's geometry.
 * Deterministic: the same input and bounds give the same bytes.
 */
import {optimize, type CustomPlugin, type XastElement, type XastRoot, type XastChild} from 'svgo';
import pMap from 'p-map';
import {parseDataUri, withoutDataUris, TOKEN} from './svg-data.ts';
import {measureImages, length, hrefOf, type EmbeddedNeed} from './svg-measure.ts';

export {parseTransform} from './svg-measure.ts';

/** Attributes the SVG 1.1 schema (which EPUBCheck applies) does not allow on these elements, though tools write them. */
const NOT_ALLOWED: Record<string, Set<string>> = {
  image: new Set(['fill', 'fill-opacity', 'fill-rule', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-linecap', 'stroke-linejoin', 'stroke-dasharray', 'stroke-miterlimit', 'font-family', 'font-size', 'font-weight']),
};

/** svgo plugins that change no pixel: they only drop what a renderer ignores or shorten numbers. */
const NORMALISE: Parameters<typeof optimize>[1] = {
  multipass: false,
  plugins: [
    'removeDoctype',
    'removeXMLProcInst',
    'removeComments',
    'removeMetadata',
    'removeEditorsNSData',
    'cleanupAttrs',
    {name: 'removeUnknownsAndDefaults', params: {unknownContent: true, unknownAttrs: true, defaultAttrs: false, defaultMarkupDeclarations: false, uselessOverrides: false, keepDataAttrs: false, keepAriaAttrs: true, keepRoleAttr: true}},
    // Unused ids first (none renamed), so that removeUselessDefs drops the definitions nothing uses.
    {name: 'cleanupIds', params: {remove: true, minify: false}},
    'removeUselessDefs',
    {name: 'cleanupNumericValues', params: {floatPrecision: 3, leadingZero: false, defaultPx: true, convertToPx: false}},
    'removeEmptyAttrs',
    'removeUnusedNS',
  ],
  js2svg: {pretty: false},
};


/**
 * The normalised SVG and, for each embedded bitmap (by its `data:` URL as written in the
 * output), the pixels it needs when the whole drawing is at most `maxWidth` × `maxHeight`.
 */
export function normaliseSvg(text: string, maxWidth: number, maxHeight: number): {svg: string; needs: Map<string, EmbeddedNeed>} {
  const needs = new Map<string, EmbeddedNeed>();
  const schema: CustomPlugin = {name: 'bookSchema', fn: (root: XastRoot) => {
    dropDanglingReferences(root);
    patternsToImages(root);
    return {element: {enter: (node) => dropNotAllowed(node)}};
  }};
  const measure: CustomPlugin = {name: 'bookEmbeddedSizes', fn: (root: XastRoot) => {
    measureImages(root, maxWidth, maxHeight, needs);
    return null;
  }};
  const {text: small, uris} = withoutDataUris(text);
  const {data} = optimize(small, {...NORMALISE, plugins: [...NORMALISE!.plugins!, schema, measure]});
  const restore = (value: string) => value.replace(TOKEN, (_, index: string) => uris[Number(index)]!);
  return {svg: restore(data), needs: new Map([...needs].map(([uri, need]) => [restore(uri), need]))};
}


function dropNotAllowed(node: XastElement): void {
  const refused = NOT_ALLOWED[node.name];
  if (!refused) return;
  for (const name of Object.keys(node.attributes)) if (refused.has(name)) delete node.attributes[name];
}

/**
 * A reference to an id the file does not have draws nothing, and EPUB forbids it (RSC-012):
 * an element that only draws what it refers to goes, any other keeps everything but the link.
 */
function dropDanglingReferences(root: XastRoot): void {
  const ids = new Set<string>();
  const collect = (node: XastChild) => {
    if (node.type !== 'element') return;
    if (node.attributes.id) ids.add(node.attributes.id);
    node.children.forEach(collect);
  };
  root.children.forEach(collect);
  const prune = (node: XastElement | XastRoot) => {
    node.children = node.children.filter((child) => {
      if (child.type !== 'element') return true;
      for (const [name, value] of Object.entries(child.attributes)) {
        if (!(name === 'href' || name.endsWith(':href')) || !value.trim().startsWith('#') || ids.has(value.trim().slice(1))) continue;
        if (['use', 'image', 'feImage', 'tref'].includes(child.name)) return false;
        delete child.attributes[name];
      }
      prune(child);
      return true;
    });
  };
  prune(root);
}

/**
 * Keynote and others place each bitmap as a rectangle filled with a pattern whose one tile is
 * the bitmap, exactly the rectangle's size. That draws the same as the `<image>` itself, and the
 * image is what printing needs: Chrome rasterises pattern fills into new bitmaps at its own
 * resolution (slow, and large in the PDF), while it passes an image's pixels through. Only the
 * exact case is rewritten: one `<image>` filling one tile that the unstroked, square-cornered
 * rectangle covers exactly; the pattern goes when nothing else uses it.
 */
function patternsToImages(root: XastRoot): void {
  const patterns = new Map<string, XastElement>();
  const collect = (node: XastChild) => {
    if (node.type !== 'element') return;
    if (node.name === 'pattern' && node.attributes.id) patterns.set(node.attributes.id, node);
    node.children.forEach(collect);
  };
  root.children.forEach(collect);
  if (patterns.size === 0) return;
  const same = (a: number | undefined, b: number | undefined) => a !== undefined && b !== undefined && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  const rewritten = new Set<string>();
  const visit = (node: XastElement, inherited: {stroke: string; fillOpacity: string}) => {
    const own = styleOf(node);
    const state = {stroke: own.stroke ?? inherited.stroke, fillOpacity: own['fill-opacity'] ?? inherited.fillOpacity};
    if (node.name === 'rect') {
      const id = /^url\(\s*["']?#([^)"']+)["']?\s*\)$/.exec((own.fill ?? '').trim())?.[1];
      const pattern = id ? patterns.get(id) : undefined;
      const image = pattern ? soleImage(pattern) : undefined;
      const a = pattern?.attributes;
      const tile = a && {x: length(a.x ?? '0'), y: length(a.y ?? '0'), width: length(a.width), height: length(a.height)};
      const r = node.attributes;
      if (pattern && image && a && tile && a.patternUnits === 'userSpaceOnUse' && !a.patternTransform && !a.viewBox && (a.patternContentUnits ?? 'userSpaceOnUse') === 'userSpaceOnUse' &&
        !Object.keys(a).some((name) => name === 'href' || name.endsWith(':href')) &&
        !image.attributes.transform && same(length(image.attributes.x ?? '0'), 0) && same(length(image.attributes.y ?? '0'), 0) &&
        same(length(image.attributes.width), tile.width) && same(length(image.attributes.height), tile.height) &&
        same(length(r.x ?? '0'), tile.x) && same(length(r.y ?? '0'), tile.y) && same(length(r.width), tile.width) && same(length(r.height), tile.height) &&
        !r.rx && !r.ry && (state.stroke === 'none') && Number(state.fillOpacity) === 1) {
        const href = Object.entries(image.attributes).find(([name]) => name === 'href' || name.endsWith(':href'))!;
        const keep = ['id', 'class', 'transform', 'opacity', 'clip-path', 'mask', 'filter', 'visibility', 'display'];
        const attributes: Record<string, string> = {};
        for (const name of keep) if (r[name] !== undefined) attributes[name] = r[name]!;
        Object.assign(attributes, {x: r.x ?? '0', y: r.y ?? '0', width: r.width!, height: r.height!});
        if (image.attributes.preserveAspectRatio) attributes.preserveAspectRatio = image.attributes.preserveAspectRatio;
        attributes[href[0]] = href[1];
        node.name = 'image';
        node.attributes = attributes;
        rewritten.add(id!);
        return;
      }
    }
    for (const child of node.children) if (child.type === 'element') visit(child, state);
  };
  for (const child of root.children) if (child.type === 'element') visit(child, {stroke: 'none', fillOpacity: '1'});
  if (rewritten.size === 0) return;
  // Patterns still referred to (another shape, a `<use>`, CSS) stay.
  const used = new Set<string>();
  const uses = (node: XastChild) => {
    if (node.type === 'element') {
      for (const value of Object.values(node.attributes)) for (const match of value.matchAll(/#([^\s)"';,]+)/g)) used.add(match[1]!);
      node.children.forEach(uses);
    } else if (node.type === 'text' || node.type === 'cdata') {
      for (const match of node.value.matchAll(/#([^\s)"';,{]+)/g)) used.add(match[1]!);
    }
  };
  root.children.forEach(uses);
  const prune = (node: XastElement | XastRoot) => {
    node.children = node.children.filter((child) => child.type !== 'element' || child.name !== 'pattern' || !rewritten.has(child.attributes.id ?? '') || used.has(child.attributes.id!));
    for (const child of node.children) if (child.type === 'element') prune(child);
  };
  prune(root);
}

/** An element's fill, stroke and fill-opacity, from its attributes and its `style` (which wins). */
function styleOf(node: XastElement): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {fill: node.attributes.fill, stroke: node.attributes.stroke, 'fill-opacity': node.attributes['fill-opacity']};
  for (const declaration of (node.attributes.style ?? '').split(';')) {
    const [name, ...value] = declaration.split(':');
    const key = name?.trim().toLowerCase();
    if (key === 'fill' || key === 'stroke' || key === 'fill-opacity') result[key] = value.join(':').trim();
  }
  return result;
}

/** The pattern's only child when it is an `<image>` of a `data:` bitmap (white space aside). */
function soleImage(pattern: XastElement): XastElement | undefined {
  const children = pattern.children.filter((child) => child.type !== 'text' || child.value.trim() !== '');
  const [only] = children;
  if (children.length !== 1 || only?.type !== 'element' || only.name !== 'image') return undefined;
  const href = hrefOf(only);
  return href?.startsWith('data:image/') ? only : undefined;
}

/**
 * The SVG for a target: normalised, and its embedded PNG and JPEG bitmaps scaled down to what
 * they need (never up, and only when that leaves at most three quarters of its width and height:
 * Chrome prints every pixel it gets, and readers decode them all).
 */
export async function svgForTarget(text: string, maxWidth: number, maxHeight: number): Promise<string> {
  const {svg, needs} = normaliseSvg(text, maxWidth, maxHeight);
  if (needs.size === 0) return svg;
  const {default: sharp} = await import('sharp');
  const replacements = new Map<string, string>();
  // A few at a time: sharp scales on libuv's threads. Each URL has its own replacement, whatever the order.
  await pMap(needs, async ([uri, need]) => {
    const parsed = parseDataUri(uri);
    if (!parsed?.base64 || (parsed.mediaType !== 'image/png' && parsed.mediaType !== 'image/jpeg')) return;
    const bytes = Buffer.from(parsed.data.replace(/\s+/g, ''), 'base64');
    const image = sharp(bytes, {limitInputPixels: 100_000_000});
    const {width, height} = await image.metadata();
    if (!width || !height) return;
    const fx = need.width / width;
    const fy = need.height / height;
    const f = need.fit === 'meet' ? Math.min(fx, fy) : Math.max(fx, fy);
    if (f >= 0.75) return;
    const target = {width: Math.max(1, Math.ceil(width * f)), height: Math.max(1, Math.ceil(height * f))};
    const resized = image.resize({...target, fit: 'fill'});
    const encoded = await (parsed.mediaType === 'image/jpeg' ? resized.jpeg({quality: 85, mozjpeg: false}) : resized.png({compressionLevel: 9})).toBuffer();
    replacements.set(uri, `data:${parsed.mediaType};base64,${encoded.toString('base64')}`);
  }, {concurrency: 4});
  let out = svg;
  for (const [from, to] of replacements) out = out.split(from).join(to);
  return out;
}
