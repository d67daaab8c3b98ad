/**
 * Where an SVG draws each of its embedded bitmaps, and how large: each element's transformation
 * from user units to target pixels, through transforms, nested `<svg>` viewports, `<use>` and
 * pattern fills, on svgo's tree of the drawing.
 */
import type {XastElement, XastRoot, XastChild} from 'svgo';
import {parseDataUri} from './svg-data.ts';

export interface EmbeddedNeed {
  /** Largest width and height at which the bitmap is drawn: in the root's user units, or in target pixels. */
  width: number;
  height: number;
  /** `preserveAspectRatio` of the `<image>` (`none`, `meet`, `slice`). */
  fit: 'none' | 'meet' | 'slice';
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
export function length(value: string | undefined): number | undefined {
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

export const hrefOf = (node: XastElement) => Object.entries(node.attributes).find(([name]) => name === 'href' || name.endsWith(':href'))?.[1]?.trim();

/** Elements whose children are not drawn where they stand: they are drawn (or not) where something refers to them. */
const REFERENCED_ONLY = new Set(['defs', 'symbol', 'mask', 'clipPath', 'marker', 'filter', 'pattern', 'linearGradient', 'radialGradient']);

/**
 * Walks the drawing with each element's current transformation (from user units to target
 * pixels) and records, for every `<image>` with a `data:` bitmap, the largest box it is drawn in:
 * through transforms, nested `<svg>` viewports, `<use>` and pattern fills. An image whose use
 * cannot be followed (in a mask, a filter, an unreadable transform) gets the whole drawing's size.
 */
export function measureImages(root: XastRoot, needs: Map<string, EmbeddedNeed>): {width: number; height: number} | undefined {
  const svg = root.children.find((child): child is XastElement => child.type === 'element' && child.name === 'svg');
  if (!svg) return undefined;
  const box = viewBox(svg);
  const userWidth = box?.[2] ?? length(svg.attributes.width);
  const userHeight = box?.[3] ?? length(svg.attributes.height);
  if (!userWidth || !userHeight) return undefined;
  // In the root's user units: a target scales them by its own factor (svg-normalise.ts).
  const whole = {width: userWidth, height: userHeight};
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
  walk(svg, IDENTITY, 0);
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
  return whole;
}

