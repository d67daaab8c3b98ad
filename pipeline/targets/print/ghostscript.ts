/**
 * PDF/X-1a:2001 with Ghostscript's pdfwrite (Debian's `ghostscript`), as Vivliostyle's
 * press-ready does: colour converted to DeviceGray or DeviceCMYK, transparency flattened
 * (PDF 1.3), fonts embedded, the output intent an ICC printer profile that Ghostscript ships
 * (`default_cmyk.icc`). Ghostscript writes a new file and keeps no structure tree: the PDF/X file
 * is untagged (PDF/X-1a is PDF 1.3, before tagged PDF); the screen PDF stays the tagged one.
 * Ghostscript's /ID changes with the time it runs; it is replaced by a hash of the file, so the
 * same input gives the same bytes.
 */
import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where Debian's Ghostscript keeps its ICC profiles (output-device class for CMYK). */
const ICC_DIRS = ['/usr/share/color/icc/ghostscript', '/usr/share/ghostscript/iccprofiles'];
const GS_TIMEOUT_MS = 10 * 60 * 1000;

export class GhostscriptNotFoundError extends Error {
  constructor() {
    super('Ghostscript (`gs`) is needed for the `pdfx` print profile: install Debian\'s `ghostscript` package (`.ci/install` does)');
  }
}

export function findOutputProfile(): string {
  for (const dir of ICC_DIRS) {
    const file = path.join(dir, 'default_cmyk.icc');
    if (fs.existsSync(file)) return file;
  }
  throw new GhostscriptNotFoundError();
}

/** The PostScript prologue that makes pdfwrite write PDF/X-1a:2001 with our output intent. */
export function pdfxPrologue(iccPath: string, epoch: number): string {
  const date = new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const ps = (text: string) => `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
  return `%!
[ /GTS_PDFXVersion (PDF/X-1a:2001) /GTS_PDFXConformance (PDF/X-1a:2001) /Trapped /False
  /CreationDate (D:${date}Z) /ModDate (D:${date}Z) /DOCINFO pdfmark
[/_objdef {icc_PDFX} /type /stream /OBJ pdfmark
[{icc_PDFX} << /N 4 >> /PUT pdfmark
[{icc_PDFX} ${ps(iccPath)} (r) file /PUT pdfmark
[/_objdef {OutputIntent_PDFX} /type /dict /OBJ pdfmark
[{OutputIntent_PDFX} << /Type /OutputIntent /S /GTS_PDFX /OutputCondition (Ghostscript default CMYK)
  /OutputConditionIdentifier (Custom) /RegistryName (http://www.color.org) /Info (default_cmyk.icc)
  /DestOutputProfile {icc_PDFX} >> /PUT pdfmark
[{Catalog} << /OutputIntents [ {OutputIntent_PDFX} ] >> /PUT pdfmark
`;
}

/** Converts a PDF (no annotations, boxes set: profiles.ts) to PDF/X-1a:2001. */
export async function toPdfx(source: Uint8Array, options: {color: 'gray' | 'cmyk'; sourceDateEpoch: number}): Promise<Uint8Array> {
  const icc = findOutputProfile();
  const work = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'book-pdfx-'));
  try {
    const input = path.join(work, 'in.pdf');
    const output = path.join(work, 'out.pdf');
    const prologue = path.join(work, 'pdfx.ps');
    await fs.promises.writeFile(input, source);
    await fs.promises.writeFile(prologue, pdfxPrologue(icc, options.sourceDateEpoch));
    const [strategy, model] = options.color === 'cmyk' ? ['CMYK', 'DeviceCMYK'] : ['Gray', 'DeviceGray'];
    const args = [
      '-q', '-dBATCH', '-dNOPAUSE', '-dSAFER', `--permit-file-read=${path.dirname(icc)}/`,
      '-sDEVICE=pdfwrite', '-dPDFX', '-dCompatibilityLevel=1.3', `-sColorConversionStrategy=${strategy}`,
      `-sProcessColorModel=${model}`, '-dEmbedAllFonts=true', '-dSubsetFonts=true', '-dAutoRotatePages=/None',
      `-sOutputFile=${output}`, prologue, input,
    ];
    const report = await run('gs', args, {SOURCE_DATE_EPOCH: String(options.sourceDateEpoch)});
    // Ghostscript falls back to plain PDF (and says so) when the input breaks a PDF/X rule.
    if (/reverting to normal PDF output|not permitted in PDF\/X/i.test(report)) {
      throw new Error(`Ghostscript could not make PDF/X: ${report.trim().split('\n').join(' ')}`);
    }
    return fixedId(new Uint8Array(await fs.promises.readFile(output)));
  } finally {
    await fs.promises.rm(work, {recursive: true, force: true});
  }
}

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, {env: {...process.env, ...env}, timeout: GS_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') reject(new GhostscriptNotFoundError());
      else if (error) reject(new Error(`Ghostscript failed: ${`${stderr}${stdout}`.trim().split('\n').slice(0, 5).join(' ') || error.message}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/** Replaces the trailer's /ID (two equal 16-byte hex strings) with a hash of the rest of the file. */
export function fixedId(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1');
  const match = /\/ID\s*\[\s*<([0-9A-Fa-f]{32})>\s*<([0-9A-Fa-f]{32})>\s*\]/g;
  let last: RegExpExecArray | null = null;
  for (let found = match.exec(text); found; found = match.exec(text)) last = found;
  if (!last) return bytes;
  const start = last.index;
  const blanked = text.slice(0, start) + text.slice(start).replace(last[1]!, '0'.repeat(32)).replace(last[2]!, '0'.repeat(32));
  const id = createHash('sha256').update(blanked, 'latin1').digest('hex').slice(0, 32).toUpperCase();
  const out = text.slice(0, start) + text.slice(start).replace(last[1]!, id).replace(last[2]!, id);
  return new Uint8Array(Buffer.from(out, 'latin1'));
}
