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
import {createHash} from 'node:crypto';
import {Worker} from 'node:worker_threads';
import pMap from 'p-map';
import {parseDataUri, withoutDataUris, TOKEN} from './svg-data.ts';
import {measureImages, length, hrefOf, type EmbeddedNeed} from './svg-measure.ts';

/** What the worker thread (svg-worker.ts) is sent and answers: plain data. */
export type SvgRequest = {id: number; text: string};
export type SvgReply =
  | {id: number; svg: string; needs: [string, {width: number; height: number; fit: 'none' | 'meet' | 'slice'}][]; size?: {width: number; height: number}}
  | {id: number; error: string};

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
export async function normaliseSvg(text: string, maxWidth: number, maxHeight: number): Promise<{svg: string; needs: Map<string, EmbeddedNeed>}> {
  const {svg, needs, size} = await normalised(text);
  if (!size) return {svg, needs: new Map()};
  const k = Math.min(maxWidth / size.width, maxHeight / size.height);
  return {svg, needs: new Map([...needs].map(([uri, need]) => [uri, {...need, width: need.width * k, height: need.height * k}]))};
}

interface Normalised {
  svg: string;
  /** In the root's user units. */
  needs: Map<string, EmbeddedNeed>;
  /** The drawing's size in its user units, when it has one. */
  size?: {width: number; height: number};
}

/**
 * svgo's work on a drawing does not depend on the target: it is done once per drawing and
 * remembered for the other target (by the text's hash; about the last 64 MB of drawings).
 */
const remembered = new Map<string, {result: Promise<Normalised>; bytes: number}>();
let rememberedBytes = 0;

function normalised(text: string): Promise<Normalised> {
  const key = createHash('sha256').update(text).digest('hex');
  const known = remembered.get(key);
  if (known) return known.result;
  // Large drawings go to the worker thread (the build's thread has chapters to parse); small ones are quicker here.
  const thread = text.length >= WORKER_MIN_BYTES ? SvgThread.get() : undefined;
  const result = thread ? thread.normalise(text).catch(() => normaliseOnce(text)) : Promise.resolve().then(() => normaliseOnce(text));
  remembered.set(key, {result, bytes: text.length});
  rememberedBytes += text.length;
  for (const [oldest, {bytes}] of remembered) {
    if (rememberedBytes <= 64 * 1024 * 1024 || oldest === key) break;
    remembered.delete(oldest);
    rememberedBytes -= bytes;
  }
  return result;
}

const WORKER_MIN_BYTES = 256 * 1024;

/** Set by pipeline/bundle.mjs when the pipeline runs bundled: the folder of the bundled modules. */
declare const BOOK_BUNDLE_DIR: string | undefined;

/**
 * A worker thread for the drawings (a second one measured no faster on two cores). Referenced
 * only while it has work, so it never keeps the process alive, and ended when it has had none for
 * a moment, so that its heap (svgo's trees of the largest drawings) does not stay for the print.
 */
class SvgThread {
  private static thread: SvgThread | undefined | null;
  private readonly pending = new Map<number, {resolve: (value: Normalised) => void; reject: (error: Error) => void}>();
  private next = 0;
  private idle: NodeJS.Timeout | undefined;

  static get(): SvgThread | undefined {
    if (SvgThread.thread === undefined) {
      try {
        SvgThread.thread = new SvgThread(typeof BOOK_BUNDLE_DIR === 'string'
          ? new Worker(new URL('svg-worker.mjs', BOOK_BUNDLE_DIR))
          : new Worker(new URL('../thread.mjs', import.meta.url), {workerData: {module: new URL('./svg-worker.ts', import.meta.url).href}}));
      } catch {
        SvgThread.thread = null;
      }
    }
    return SvgThread.thread ?? undefined;
  }

  private constructor(private readonly worker: Worker) {
    worker.unref();
    let ended = false;
    const fail = (error: Error) => {
      if (SvgThread.thread === this) SvgThread.thread = ended ? undefined : null;
      for (const {reject} of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('The drawings thread stopped')));
    worker.on('message', (reply: SvgReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) {
        this.worker.unref();
        this.idle = setTimeout(() => {
          // The next drawing starts a new thread.
          ended = true;
          SvgThread.thread = undefined;
          void this.worker.terminate();
        }, 1000).unref();
      }
      if ('error' in reply) waiting.reject(new Error(reply.error));
      else waiting.resolve({svg: reply.svg, needs: new Map(reply.needs), ...(reply.size ? {size: reply.size} : {})});
    });
  }

  normalise(text: string): Promise<Normalised> {
    return new Promise((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, {resolve, reject});
      clearTimeout(this.idle);
      this.worker.ref();
      this.worker.postMessage({id, text} satisfies SvgRequest);
    });
  }
}

export function normaliseOnce(text: string): Normalised {
  const needs = new Map<string, EmbeddedNeed>();
  let size: Normalised['size'];
  const schema: CustomPlugin = {name: 'svgSchema', fn: (root: XastRoot) => {
    dropDanglingReferences(root);
    patternsToImages(root);
    return {element: {enter: (node) => dropNotAllowed(node)}};
  }};
  const measure: CustomPlugin = {name: 'bookEmbeddedSizes', fn: (root: XastRoot) => {
    size = measureImages(root, needs);
    return null;
  }};
  const chunks = new Set<XastElement>();
  const chunk: CustomPlugin = {name: 'bookChunk', fn: (root: XastRoot) => {
    chunkWideGroups(root, chunks);
    return null;
  }};
  const unchunk: CustomPlugin = {name: 'bookUnchunk', fn: (root: XastRoot) => {
    if (chunks.size > 0) unchunkGroups(root, chunks);
    return null;
  }};
  const {text: small, uris} = withoutDataUris(text);
  const {data} = optimize(small, {...NORMALISE, plugins: [chunk, ...NORMALISE!.plugins!, unchunk, schema, measure]});
  const restore = (value: string) => value.replace(TOKEN, (_, index: string) => uris[Number(index)]!);
  return {svg: restore(data), needs: new Map([...needs].map(([uri, need]) => [restore(uri), need])), ...(size ? {size} : {})};
}

/**
 * svgo's tree walk asks, for every element, whether its parent still holds it
 * (`children.includes`): quadratic in the number of siblings, and drawings of 30,000 paths side
 * by side in one group took seconds per plugin. While svgo works, such runs of siblings sit in
 * plain `<g>` groups of at most CHUNK (a group without attributes draws nothing of its own), and
 * they are taken out again, by identity, before anything else looks at the tree. Only children of
 * `<svg>` and `<g>`, and not in drawings with a `<style>` (whose selectors could see the groups).
 */
const CHUNK = 200;

function chunkWideGroups(root: XastRoot, chunks: Set<XastElement>): void {
  const styled = (node: XastChild | XastRoot): boolean =>
    node.type === 'root' || node.type === 'element' ? (node.type === 'element' && node.name === 'style') || node.children.some(styled) : false;
  if (styled(root)) return;
  const visit = (node: XastElement) => {
    for (const child of node.children) if (child.type === 'element') visit(child);
    if ((node.name !== 'svg' && node.name !== 'g') || node.children.length <= CHUNK) return;
    let children = node.children;
    while (children.length > CHUNK) {
      const groups: XastElement[] = [];
      for (let i = 0; i < children.length; i += CHUNK) {
        const group: XastElement = {type: 'element', name: 'g', attributes: {}, children: children.slice(i, i + CHUNK)};
        chunks.add(group);
        groups.push(group);
      }
      children = groups;
    }
    node.children = children;
  };
  for (const child of root.children) if (child.type === 'element') visit(child);
}

function unchunkGroups(root: XastRoot, chunks: Set<XastElement>): void {
  const flatten = (children: XastChild[]): XastChild[] =>
    children.flatMap((child) => (child.type === 'element' && chunks.has(child) ? flatten(child.children) : [child]));
  const visit = (node: XastElement | XastRoot) => {
    if (node.children.some((child) => child.type === 'element' && chunks.has(child))) node.children = flatten(node.children);
    for (const child of node.children) if (child.type === 'element') visit(child);
  };
  visit(root);
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
  const {svg, needs} = await normaliseSvg(text, maxWidth, maxHeight);
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
