/**
 * SVG drawings shaped like what diagram tools export (Keynote, OmniGraffle, draw.io, Inkscape):
 * raster parts carried inline as `data:` URLs, behind `<pattern>` fills, inside nested `<svg>`,
 * with the attributes those tools write where the SVG schema does not allow them. The bitmaps are
 * made here with sharp (large ones are not committed): an image with detail (stripes, a gradient,
 * text-like dots), so that a drawing that loses it or shifts it shows in a pixel comparison.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** A bitmap of `width` × `height` with detail everywhere, PNG or JPEG. */
export async function bitmap(width: number, height: number, format: 'png' | 'jpeg', seed = 1): Promise<Buffer> {
  const channels = 3;
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const stripe = ((x + y * seed) >> 5) % 2 === 0;
      pixels[i] = stripe ? 230 : Math.round((255 * x) / width);
      pixels[i + 1] = Math.round((255 * y) / height);
      pixels[i + 2] = ((x * 7 + y * 13 + seed * 31) >> 6) % 2 === 0 ? 60 : 200;
    }
  }
  const image = sharp(pixels, {raw: {width, height, channels}});
  return format === 'png' ? image.png({compressionLevel: 6}).toBuffer() : image.jpeg({quality: 90}).toBuffer();
}

const dataUri = (bytes: Buffer, type: string) => `data:${type};base64,${bytes.toString('base64')}`;

/** Keynote: `<pattern id="p.0">` holding the `<image>` (with a `fill` the schema does not allow), used by `fill="url(#p.0)"`. */
export async function keynoteSvg(pixels = 1024): Promise<string> {
  const png = await bitmap(pixels, pixels, 'png', 3);
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" viewBox="0 0 400 300" width="400pt" height="300pt">
  <defs>
    <pattern id="p.0" patternUnits="userSpaceOnUse" width="${pixels}" height="${pixels}">
      <image xlink:href="${dataUri(png, 'image/png')}" x="0" y="0" width="${pixels}" height="${pixels}" fill="#000000"/>
    </pattern>
    <linearGradient id="unused.1"><stop offset="0" stop-color="#fff"/></linearGradient>
  </defs>
  <g id="slide" fill="none" stroke="none">
    <rect x="0" y="0" width="400" height="300" fill="#ffffff"/>
    <g transform="matrix(0.19531250,0,0,0.19531250,100.00000000,50.00000000)">
      <rect x="0" y="0" width="${pixels}" height="${pixels}" fill="url(#p.0)"/>
    </g>
    <path d="M 20.000000 280.000000 L 380.000000 280.000000" stroke="#333333" stroke-width="2.000000" stroke-linecap="round"/>
    <text transform="translate(20 30)" fill="#111111" font-family="Helvetica" font-size="18" font-weight="400"><tspan x="0" y="0">Flywheel</tspan></text>
  </g>
</svg>
`;
}

/** OmniGraffle: an `xl:` prefix for XLink, dublin-core metadata, a JPEG placed by a transform and a nested `<svg>` with a PNG. */
export async function omnigraffleSvg(): Promise<string> {
  const jpeg = await bitmap(800, 600, 'jpeg', 5);
  const png = await bitmap(800, 800, 'png', 7);
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xl="http://www.w3.org/1999/xlink" xmlns:dc="http://purl.org/dc/elements/1.1/" version="1.1" viewBox="0 0 500 250" width="500" height="250">
  <defs/>
  <metadata> Produced by OmniGraffle 7.21 <dc:date>2023-02-01 10:00:00 +0000</dc:date></metadata>
  <g id="Canvas_1" stroke-opacity="1" stroke-dasharray="none" stroke="none" fill-opacity="1" fill="none">
    <title>Canvas 1</title>
    <rect fill="white" x="0" y="0" width="500" height="250"/>
    <g id="Canvas_1_Layer_1">
      <title>Layer 1</title>
      <g id="Graphic_2">
        <image xl:href="${dataUri(jpeg, 'image/jpeg')}" width="800" height="600" transform="translate(10 25) scale(0.3)"/>
      </g>
      <svg x="260" y="10" width="230" height="230" viewBox="0 0 800 800">
        <image xl:href="${dataUri(png, 'image/png')}" width="800" height="800" stroke="none"/>
      </svg>
    </g>
  </g>
</svg>
`;
}

/** draw.io: its diagram in a `content` attribute on the root, a CSS background, and an image with `pointer-events`. */
export async function drawioSvg(): Promise<string> {
  const png = await bitmap(600, 400, 'png', 9);
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="321px" height="221px" viewBox="-0.5 -0.5 321 221" content="&lt;mxfile host=&quot;app.diagrams.net&quot;&gt;&lt;diagram id=&quot;x&quot;&gt;ddHBDoIwDAbgp9nRZGPq4hlRL544eF5YZUvGSsYM6NMLMsQFPbX92r/JCOFZ3V+8aPUNJVjiqOwJPxLHYYzu+TCtFp1hR1F/o9bJVjUx10rtqBSCcHpZeZo92&lt;/diagram&gt;&lt;/mxfile&gt;" style="background-color: rgb(255, 255, 255);">
  <defs/>
  <g>
    <rect x="0" y="0" width="320" height="220" fill="#dae8fc" stroke="#6c8ebf" pointer-events="all"/>
    <image x="10" y="10" width="300" height="200" xlink:href="${dataUri(png, 'image/png')}" preserveAspectRatio="none" pointer-events="none"/>
    <path d="M 10 215 L 310 215" fill="none" stroke="rgb(0, 0, 0)" stroke-miterlimit="10" pointer-events="stroke"/>
  </g>
</svg>
`;
}

/** Inkscape: editor namespaces (`sodipodi:namedview`, `inkscape:label`), a PNG in a CSS `url()`-free `<image>` with `style`. */
export async function inkscapeSvg(): Promise<string> {
  const png = await bitmap(512, 512, 'png', 11);
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:svg="http://www.w3.org/2000/svg" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="100mm" height="50mm" viewBox="0 0 100 50" version="1.1" id="svg8" inkscape:version="1.2.2" sodipodi:docname="pipeline.svg">
  <sodipodi:namedview id="base" pagecolor="#ffffff" bordercolor="#666666" inkscape:zoom="1.4" inkscape:current-layer="layer1"/>
  <metadata id="metadata5"><rdf:RDF><rdf:Description rdf:about=""><dc:format>image/svg+xml</dc:format></rdf:Description></rdf:RDF></metadata>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1">
    <rect style="fill:#ffeecc;stroke:#000000;stroke-width:0.5" id="rect1" width="98" height="48" x="1" y="1"/>
    <image width="40" height="40" preserveAspectRatio="none" style="image-rendering:optimizeQuality" xlink:href="${dataUri(png, 'image/png')}" id="image1" x="5" y="5"/>
    <image width="40" height="40" preserveAspectRatio="none" xlink:href="#image1-never" id="image2" x="55" y="5" display="none"/>
  </g>
</svg>
`;
}

/**
 * Keynote again, as in a flywheel diagram: many large bitmaps (icons exported at 800 × 800)
 * each shown small, through patterns, in a drawing printed a few inches wide.
 */
export async function flywheelSvg(icons = 12, pixels = 800, variant = 0): Promise<string> {
  let defs = '';
  let body = '';
  for (let i = 0; i < icons; i++) {
    const png = await bitmap(pixels, pixels, 'png', 13 + i + variant * icons);
    defs += `<pattern id="p.${i}" patternUnits="userSpaceOnUse" width="${pixels}" height="${pixels}"><image xlink:href="${dataUri(png, 'image/png')}" width="${pixels}" height="${pixels}" fill="#000"/></pattern>\n`;
    const angle = (2 * Math.PI * i) / icons;
    const x = 300 + 200 * Math.cos(angle) - 30;
    const y = 250 + 200 * Math.sin(angle) - 30;
    body += `<g transform="translate(${x.toFixed(4)} ${y.toFixed(4)}) scale(${(60 / pixels).toFixed(6)})"><rect width="${pixels}" height="${pixels}" fill="url(#p.${i})"/></g>\n`;
  }
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" viewBox="0 0 600 500" width="600pt" height="500pt">
<defs>
${defs}</defs>
<g fill="none" stroke="none"><rect width="600" height="500" fill="white"/><circle cx="300" cy="250" r="200" stroke="#1f4e79" stroke-width="4"/>
${body}</g>
</svg>
`;
}

export const DRAWINGS = {flywheel: flywheelSvg, keynote: keynoteSvg, omnigraffle: omnigraffleSvg, drawio: drawioSvg, inkscape: inkscapeSvg} as const;

/**
 * An mdBook project (book.toml, src/SUMMARY.md, raw-HTML figures as real mdBook books write
 * them) whose figures are the drawings above, and `flywheels` more flywheel drawings of
 * `icons` icons each (the benchmark's book). Returns its folder.
 */
export async function writeDrawingsBook(dir: string, options: {flywheels?: number; icons?: number; iconPixels?: number} = {}): Promise<string> {
  const root = path.join(dir, 'drawings-book');
  fs.mkdirSync(path.join(root, 'src', 'img'), {recursive: true});
  fs.writeFileSync(path.join(root, 'book.toml'), '[book]\ntitle = "Drawings Exported"\nauthors = ["Ada Example"]\nlanguage = "en"\nsrc = "src"\n');
  fs.writeFileSync(path.join(root, 'src', 'SUMMARY.md'), '# Summary\n\n- [Diagrams](01-diagrams.md)\n');
  let chapter = '# Diagrams\n\nEach figure below is a drawing exported by a diagram tool, with its bitmaps inside.\n\n';
  const figure = (file: string, name: string) =>
    `<figure>\n<img src="img/${file}" alt="A ${name} drawing with a picture in it" />\n<figcaption>A drawing exported from ${name}.</figcaption>\n</figure>\n\n`;
  for (const [name, make] of Object.entries(DRAWINGS)) {
    fs.writeFileSync(path.join(root, 'src', 'img', `${name}.svg`), await make());
    chapter += figure(`${name}.svg`, name);
  }
  for (let i = 1; i <= (options.flywheels ?? 0); i++) {
    fs.writeFileSync(path.join(root, 'src', 'img', `flywheel-${i}.svg`), await flywheelSvg(options.icons ?? 12, options.iconPixels ?? 800, i));
    chapter += figure(`flywheel-${i}.svg`, `flywheel ${i}`);
  }
  fs.writeFileSync(path.join(root, 'src', '01-diagrams.md'), chapter);
  return root;
}
