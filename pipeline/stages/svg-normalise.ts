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
import {parseDataUri} from './svg-check.ts';

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

export interface EmbeddedNeed {
  /** Largest width and height, in target pixels, at which the bitmap is drawn. */
  width: number;
  height: number;
  /** `preserveAspectRatio` of the `<image>` (`none`, `meet`, `slice`). */
  fit: 'none' | 'meet' | 'slice';
}

/**
 * The normalised SVG and, for each embedded bitmap (by its `data:` URL as written in the
 * output), the pixels it needs when the whole drawing is at most `maxWidth` × `maxHeight`.
 */
export function normaliseSvg(text: string, maxWidth: number, maxHeight: number): {svg: string; needs: Map<string, EmbeddedNeed>} {
  const needs = new Map<string, EmbeddedNeed>();
  const schema: CustomPlugin = {name: 'bookSchema', fn: (root: XastRoot) => {
    dropDanglingReferences(root);
    return {element: {enter: (node) => dropNotAllowed(node)}};
  }};
  const measure: CustomPlugin = {name: 'bookEmbeddedSizes', fn: (root: XastRoot) => {
    measureImages(root, maxWidth, maxHeight, needs);
    return null;
  }};
  const {data} = optimize(text, {...NORMALISE, plugins: [...NORMALISE!.plugins!, schema, measure]});
  return {svg: data, needs};
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

type Matrix = [number, number, number, number, number, number];
const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

function multiply(m: Matrix, n: Matrix): Matrix {
  return [
    m[0] * n[0] + m[2] * n[1], m[1] * n[0] + m[3] * n[1],
    m[0] * n[2] + m[2] * n[3], m[1] * n[2] + m[3] * n[3],
    m[0] * n[4] + m[2] * n[5] + m[4], m[1] * n[4] + m[3] * n[5] + m[5],
  ];
}

/** An SVG `transform` list as one matrix, or undefined when it cannot be read. */
export function parseTransform(text: string | undefined): Matrix | undefined {
  if (!text || !text.trim()) return IDENTITY;
  let result = IDENTITY;
  let rest = text.trim();
  const pattern = /^\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?/;
  while (rest.length > 0) {
    const match = pattern.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length).trim();
    const n = match[2]!.trim().split(/[\s,]+/).filter(Boolean).map(Number);
    if (n.some((v) => !Number.isFinite(v))) return undefined;
    let m: Matrix;
    switch (match[1]) {
      case 'matrix':
        if (n.length !== 6) return undefined;
        m = n as Matrix;
        break;
      case 'translate':
        m = [1, 0, 0, 1, n[0] ?? 0, n[1] ?? 0];
        break;
      case 'scale':
        m = [n[0] ?? 1, 0, 0, n[1] ?? n[0] ?? 1, 0, 0];
        break;
      case 'rotate': {
        const a = ((n[0] ?? 0) * Math.PI) / 180;
        const [cx = 0, cy = 0] = n.slice(1);
        m = multiply(multiply([1, 0, 0, 1, cx, cy], [Math.cos(a), Math.sin(a), -Math.sin(a), Math.cos(a), 0, 0]), [1, 0, 0, 1, -cx, -cy]);
        break;
      }
      case 'skewX':
        m = [1, 0, Math.tan(((n[0] ?? 0) * Math.PI) / 180), 1, 0, 0];
        break;
      default:
        m = [1, Math.tan(((n[0] ?? 0) * Math.PI) / 180), 0, 1, 0, 0];
    }
    result = multiply(result, m);
  }
  return result;
}

const UNITS: Record<string, number> = {'': 1, px: 1, pt: 96 / 72, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4};

/** A length in user units (px), or undefined for percentages, em and what cannot be read. */
function length(value: string | undefined): number | undefined {
  const match = value ? /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$/i.exec(value) : null;
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  return match && unit !== undefined ? Number(match[1]) * unit : undefined;
}

function viewBox(node: XastElement): [number, number, number, number] | undefined {
  const n = node.attributes.viewBox?.trim().split(/[\s,]+/).map(Number);
  return n && n.length === 4 && n.every(Number.isFinite) && n[2]! > 0 && n[3]! > 0 ? (n as [number, number, number, number]) : undefined;
}

const scaleOf = (m: Matrix) => ({x: Math.hypot(m[0], m[1]), y: Math.hypot(m[2], m[3])});

/** `url(#id)` in a fill or stroke, as attribute or in `style`. */
function paintReferences(node: XastElement): string[] {
  const values = [node.attributes.fill, node.attributes.stroke];
  const style = node.attributes.style;
  if (style) for (const match of style.matchAll(/(?:fill|stroke)\s*:\s*([^;]+)/gi)) values.push(match[1]);
  return values.flatMap((value) => {
    const match = value ? /url\(\s*["']?#([^)"']+)["']?\s*\)/.exec(value) : null;
    return match ? [match[1]!] : [];
  });
}

const hrefOf = (node: XastElement) => Object.entries(node.attributes).find(([name]) => name === 'href' || name.endsWith(':href'))?.[1]?.trim();

/** Elements whose children are not drawn where they stand: they are drawn (or not) where something refers to them. */
const REFERENCED_ONLY = new Set(['defs', 'symbol', 'mask', 'clipPath', 'marker', 'filter', 'pattern', 'linearGradient', 'radialGradient']);

/**
 * Walks the drawing with each element's current transformation (from user units to target
 * pixels) and records, for every `<image>` with a `data:` bitmap, the largest box it is drawn in:
 * through transforms, nested `<svg>` viewports, `<use>` and pattern fills. An image whose use
 * cannot be followed (in a mask, a filter, an unreadable transform) gets the whole drawing's size.
 */
function measureImages(root: XastRoot, maxWidth: number, maxHeight: number, needs: Map<string, EmbeddedNeed>): void {
  const svg = root.children.find((child): child is XastElement => child.type === 'element' && child.name === 'svg');
  if (!svg) return;
  const box = viewBox(svg);
  const userWidth = box?.[2] ?? length(svg.attributes.width);
  const userHeight = box?.[3] ?? length(svg.attributes.height);
  if (!userWidth || !userHeight) return;
  const k = Math.min(maxWidth / userWidth, maxHeight / userHeight);
  const whole = {width: userWidth * k, height: userHeight * k};
  const byId = new Map<string, XastElement>();
  const each = (node: XastChild) => {
    if (node.type !== 'element') return;
    if (node.attributes.id) byId.set(node.attributes.id, node);
    node.children.forEach(each);
  };
  each(svg);

  const record = (node: XastElement, width: number, height: number) => {
    const href = hrefOf(node);
    if (!href || !parseDataUri(href)) return;
    const aspect = (node.attributes.preserveAspectRatio ?? '').trim();
    const fit = aspect.startsWith('none') ? 'none' : /slice/.test(aspect) ? 'slice' : 'meet';
    const before = needs.get(href);
    needs.set(href, {width: Math.max(before?.width ?? 0, width), height: Math.max(before?.height ?? 0, height), fit});
  };
  /** Every image under `node`, at the whole drawing's size. */
  const fallback = (node: XastElement) => {
    if (node.name === 'image') record(node, whole.width, whole.height);
    for (const child of node.children) if (child.type === 'element') fallback(child);
  };

  let work = 0;
  const walk = (node: XastElement, parent: Matrix, depth: number): void => {
    // `<use>` chains and patterns can refer in circles or fan out: beyond these bounds, the whole drawing's size.
    if (depth > 8 || ++work > 200_000) return fallback(node);
    const own = node === svg ? IDENTITY : parseTransform(node.attributes.transform);
    if (!own) return fallback(node);
    let m = multiply(parent, own);
    if (node.name === 'svg' && node !== svg) {
      const inner = viewBox(node);
      const width = length(node.attributes.width);
      const height = length(node.attributes.height);
      m = multiply(m, [1, 0, 0, 1, length(node.attributes.x) ?? 0, length(node.attributes.y) ?? 0]);
      if (inner) {
        if (width === undefined || height === undefined) return fallback(node);
        const none = (node.attributes.preserveAspectRatio ?? '').trim().startsWith('none');
        const sx = width / inner[2];
        const sy = height / inner[3];
        const s = /slice/.test(node.attributes.preserveAspectRatio ?? '') ? Math.max(sx, sy) : Math.min(sx, sy);
        m = multiply(m, none ? [sx, 0, 0, sy, 0, 0] : [s, 0, 0, s, 0, 0]);
      }
    }
    if (node.name === 'image') {
      const width = length(node.attributes.width);
      const height = length(node.attributes.height);
      if (width === undefined || height === undefined) return record(node, whole.width, whole.height);
      const s = scaleOf(m);
      record(node, width * s.x, height * s.y);
      return;
    }
    for (const id of paintReferences(node)) {
      const pattern = byId.get(id);
      if (pattern?.name === 'pattern') drawPattern(pattern, m, depth, node);
    }
    if (node.name === 'use') {
      const href = hrefOf(node);
      const target = href?.startsWith('#') ? byId.get(href.slice(1)) : undefined;
      const at = multiply(m, [1, 0, 0, 1, length(node.attributes.x) ?? 0, length(node.attributes.y) ?? 0]);
      if (target && target.name !== 'symbol') walk(target, at, depth + 1);
      else if (target) for (const child of target.children) if (child.type === 'element') walk(child, at, depth + 1);
      return;
    }
    for (const child of node.children) {
      if (child.type !== 'element') continue;
      if (REFERENCED_ONLY.has(child.name)) continue;
      walk(child, m, depth);
    }
  };
  const drawPattern = (pattern: XastElement, m: Matrix, depth: number, user: XastElement) => {
    const a = pattern.attributes;
    if (Object.keys(a).some((name) => name === 'href' || name.endsWith(':href'))) return fallback(pattern);
    const transform = parseTransform(a.patternTransform);
    if (!transform) return fallback(pattern);
    // The box of the element filled, when the pattern is sized by it: known for rectangles, else unknown.
    const boxWidth = user.name === 'rect' ? length(user.attributes.width) : undefined;
    const boxHeight = user.name === 'rect' ? length(user.attributes.height) : undefined;
    const byBox = (a.patternUnits ?? 'objectBoundingBox') === 'objectBoundingBox';
    let tileWidth = length(a.width) ?? (a.width?.trim().endsWith('%') ? Number.parseFloat(a.width) / 100 : undefined);
    let tileHeight = length(a.height) ?? (a.height?.trim().endsWith('%') ? Number.parseFloat(a.height) / 100 : undefined);
    if (byBox) {
      if (boxWidth === undefined || boxHeight === undefined || tileWidth === undefined || tileHeight === undefined) return fallback(pattern);
      tileWidth *= boxWidth;
      tileHeight *= boxHeight;
    }
    let content: Matrix = IDENTITY;
    const inner = viewBox(pattern);
    if (inner) {
      if (tileWidth === undefined || tileHeight === undefined) return fallback(pattern);
      const s = Math.min(tileWidth / inner[2], tileHeight / inner[3]);
      content = (a.preserveAspectRatio ?? '').trim().startsWith('none') ? [tileWidth / inner[2], 0, 0, tileHeight / inner[3], 0, 0] : [s, 0, 0, s, 0, 0];
    } else if (a.patternContentUnits === 'objectBoundingBox') {
      if (boxWidth === undefined || boxHeight === undefined) return fallback(pattern);
      content = [boxWidth, 0, 0, boxHeight, 0, 0];
    }
    const at = multiply(multiply(m, transform), content);
    for (const child of pattern.children) if (child.type === 'element') walk(child, at, depth + 1);
  };
  walk(svg, [k, 0, 0, k, 0, 0], 0);
  // Images never reached (in masks, filters, unused definitions): the whole drawing's size.
  const reached = new Set(needs.keys());
  const rest = (node: XastChild) => {
    if (node.type !== 'element') return;
    if (node.name === 'image') {
      const href = hrefOf(node);
      if (href && !reached.has(href)) record(node, whole.width, whole.height);
    }
    node.children.forEach(rest);
  };
  rest(svg);
}

/**
 * The SVG for a target: normalised, and its embedded PNG and JPEG bitmaps scaled down to what
 * they need (never up; a bitmap is replaced only when that makes it at least a quarter smaller).
 */
export async function svgForTarget(text: string, maxWidth: number, maxHeight: number): Promise<string> {
  const {svg, needs} = normaliseSvg(text, maxWidth, maxHeight);
  if (needs.size === 0) return svg;
  const {default: sharp} = await import('sharp');
  const replacements = new Map<string, string>();
  for (const [uri, need] of needs) {
    const parsed = parseDataUri(uri);
    if (!parsed?.base64 || (parsed.mediaType !== 'image/png' && parsed.mediaType !== 'image/jpeg')) continue;
    const bytes = Buffer.from(parsed.data.replace(/\s+/g, ''), 'base64');
    const image = sharp(bytes, {limitInputPixels: 100_000_000});
    const {width, height} = await image.metadata();
    if (!width || !height) continue;
    const fx = need.width / width;
    const fy = need.height / height;
    const f = need.fit === 'meet' ? Math.min(fx, fy) : Math.max(fx, fy);
    if (f >= 0.75) continue;
    const target = {width: Math.max(1, Math.ceil(width * f)), height: Math.max(1, Math.ceil(height * f))};
    const resized = image.resize({...target, fit: 'fill'});
    const encoded = await (parsed.mediaType === 'image/jpeg' ? resized.jpeg({quality: 85, mozjpeg: false}) : resized.png({compressionLevel: 9})).toBuffer();
    if (encoded.byteLength > bytes.byteLength * 0.75) continue;
    replacements.set(uri, `data:${parsed.mediaType};base64,${encoded.toString('base64')}`);
  }
  let out = svg;
  for (const [from, to] of replacements) out = out.split(from).join(to);
  return out;
}
