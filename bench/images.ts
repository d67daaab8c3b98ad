/**
 * Figures for the generated book: SVG diagrams and charts, a few very large SVGs (tens of
 * thousands of <path> elements, 2–3 MB: the asset checker refuses any non-fragment href, so
 * size comes from geometry, not from embedded bitmaps), PNG charts rendered with sharp and
 * photo-like JPEGs. Everything is derived from the seeded generator.
 */
import sharp from 'sharp';
import type {Random} from './random.ts';

const PALETTE = ['#1b4f72', '#2874a6', '#117a65', '#b9770e', '#922b21', '#6c3483', '#5d6d7e', '#1e8449'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (n: number) => n.toFixed(1);

function svgOpen(width: number, height: number, title: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">
<title>${esc(title)}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>
<rect width="${width}" height="${height}" fill="#ffffff"/>
`;
}

/** Boxes and arrows, like an architecture sketch. */
export function diagramSvg(r: Random, title: string, labels: string[]): string {
  const width = 720;
  const height = r.int(260, 420);
  let out = svgOpen(width, height, title);
  const cols = r.int(3, 4);
  const rows = Math.ceil(labels.length / cols);
  const boxW = (width - 40) / cols - 30;
  const boxH = Math.min(70, (height - 40) / rows - 30);
  const centers: [number, number][] = [];
  labels.forEach((label, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    const x = 20 + col * ((width - 40) / cols) + 15;
    const y = 20 + row * ((height - 40) / rows) + 15;
    const fill = r.chance(0.2) ? '#d6eaf8' : '#f4f6f7';
    out += `<g><rect x="${f(x)}" y="${f(y)}" width="${f(boxW)}" height="${f(boxH)}" rx="6" fill="${fill}" stroke="#34495e" stroke-width="1.5"/>`;
    out += `<text x="${f(x + boxW / 2)}" y="${f(y + boxH / 2 + 5)}" font-family="sans-serif" font-size="14" text-anchor="middle" fill="#1c2833">${esc(label)}</text></g>\n`;
    centers.push([x + boxW / 2, y + boxH / 2]);
  });
  for (let i = 1; i < centers.length; i++) {
    const [x1, y1] = centers[r.int(0, i - 1)]!;
    const [x2, y2] = centers[i]!;
    out += `<path d="M${f(x1)},${f(y1 + boxH / 2)} C${f(x1)},${f((y1 + y2) / 2 + 20)} ${f(x2)},${f((y1 + y2) / 2 - 20)} ${f(x2)},${f(y2 - boxH / 2)}" fill="none" stroke="#333" stroke-width="1.2" marker-end="url(#arrow)"${r.chance(0.3) ? ' stroke-dasharray="5,4"' : ''}/>\n`;
  }
  return `${out}</svg>\n`;
}

/** A line or bar chart with axes, ticks and a legend. */
export function chartSvg(r: Random, title: string, series: string[], width = 720, height = 420): string {
  let out = svgOpen(width, height, title);
  const left = 60;
  const bottom = height - 50;
  const top = 30;
  const right = width - 150;
  out += `<path d="M${left},${top} L${left},${bottom} L${right},${bottom}" fill="none" stroke="#222" stroke-width="1.5"/>\n`;
  const points = r.int(8, 24);
  for (let i = 0; i <= 5; i++) {
    const y = bottom - ((bottom - top) * i) / 5;
    out += `<path d="M${left - 5},${f(y)} L${right},${f(y)}" stroke="#ddd" stroke-width="1"/><text x="${left - 10}" y="${f(y + 4)}" font-family="sans-serif" font-size="11" text-anchor="end">${i * 20}</text>\n`;
  }
  const bars = r.chance(0.4);
  series.forEach((name, s) => {
    const color = PALETTE[s % PALETTE.length]!;
    let level = r.next() * 0.6 + 0.2;
    const coords: string[] = [];
    for (let i = 0; i < points; i++) {
      level = Math.min(0.98, Math.max(0.02, level + (r.next() - 0.5) * 0.18));
      const x = left + ((right - left) * (i + 0.5)) / points;
      const y = bottom - (bottom - top) * level;
      if (bars) {
        const w = (right - left) / points / (series.length + 1);
        out += `<rect x="${f(x - ((right - left) / points) / 2 + w * (s + 0.5))}" y="${f(y)}" width="${f(w)}" height="${f(bottom - y)}" fill="${color}"/>\n`;
      } else coords.push(`${f(x)},${f(y)}`);
    }
    if (!bars) out += `<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>\n`;
    out += `<rect x="${right + 15}" y="${top + s * 22}" width="14" height="14" fill="${color}"/><text x="${right + 35}" y="${top + s * 22 + 12}" font-family="sans-serif" font-size="12">${esc(name)}</text>\n`;
  });
  out += `<text x="${(left + right) / 2}" y="${height - 12}" font-family="sans-serif" font-size="12" text-anchor="middle">${esc(title.slice(0, 60))}</text>\n`;
  return `${out}</svg>\n`;
}

/** A dense scatter/contour drawing: many small filled paths, to reach `bytes`. */
export function largeSvg(r: Random, title: string, bytes: number): string {
  const width = 900;
  const height = 700;
  let out = svgOpen(width, height, title);
  const parts: string[] = [out];
  let size = out.length;
  const clusters = Array.from({length: 7}, () => [r.int(80, width - 80), r.int(80, height - 80), r.int(40, 160)] as const);
  while (size < bytes) {
    const [cx, cy, spread] = r.pick(clusters);
    const angle = r.next() * Math.PI * 2;
    const distance = Math.abs(gauss(r)) * spread;
    const x = cx + Math.cos(angle) * distance;
    const y = cy + Math.sin(angle) * distance;
    const s = 1.5 + r.next() * 3;
    const color = PALETTE[clusters.findIndex((c) => c[0] === cx && c[1] === cy) % PALETTE.length]!;
    const path = `<path d="M${f(x)},${f(y - s)} l${f(s)},${f(s)} l${f(-s)},${f(s)} l${f(-s)},${f(-s)} z" fill="${color}" fill-opacity="0.55"/>\n`;
    parts.push(path);
    size += path.length;
  }
  parts.push('</svg>\n');
  out = parts.join('');
  return out;
}

function gauss(r: Random): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

/** A chart rasterised to PNG (like an exported plot). */
export async function chartPng(r: Random, title: string, series: string[]): Promise<Buffer> {
  const svg = chartSvg(r, title, series, 1200, 700);
  return sharp(Buffer.from(svg)).png({compressionLevel: 9}).toBuffer();
}

/** A photo-like JPEG: smooth colour fields upsampled, plus grain. */
export async function photoJpeg(r: Random, width: number, height: number, quality = 85): Promise<Buffer> {
  const gw = 12;
  const gh = Math.max(4, Math.round((12 * height) / width));
  const grid = Buffer.alloc(gw * gh * 3);
  const base = [r.int(40, 200), r.int(40, 200), r.int(40, 200)];
  for (let i = 0; i < gw * gh; i++) {
    for (let c = 0; c < 3; c++) grid[i * 3 + c] = Math.max(0, Math.min(255, base[c]! + r.int(-70, 70)));
  }
  const smooth = await sharp(grid, {raw: {width: gw, height: gh, channels: 3}})
    .resize(width, height, {kernel: 'cubic'}).raw().toBuffer();
  // Grain from a tiny xorshift (seeded from the generator) rather than per-pixel calls.
  let state = r.int(1, 2 ** 31 - 1);
  for (let i = 0; i < smooth.length; i++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    smooth[i] = Math.max(0, Math.min(255, smooth[i]! + ((state & 31) - 16)));
  }
  return sharp(smooth, {raw: {width, height, channels: 3}}).jpeg({quality, mozjpeg: false}).toBuffer();
}
