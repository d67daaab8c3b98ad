/**
 * Helpers for the hostile-manuscript tests: a loopback canary server that must never be asked
 * for anything, fixture copies with the canary's address filled in, and checks that look inside
 * the outputs (EPUB documents, PDF objects) for anything that runs or fetches.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type {AddressInfo, Socket} from 'node:net';
import {fromHtml} from 'hast-util-from-html';
import {PDFDocument, PDFDict, PDFArray, PDFName, PDFString, PDFHexString, PDFRawStream, PDFStream, type PDFObject} from 'pdf-lib';
import {unzipSync} from 'fflate';
import {unsafeParts} from '../pipeline/plugins/sanitize.ts';
import {FIXTURES, tempDir} from './helpers.ts';

export interface Canary {
  /** `127.0.0.1:<port>`, what fixtures write as `CANARY`. */
  host: string;
  port: number;
  /** Every request line received (`GET /x`), and every connection even without a request. */
  requests: string[];
  connections: number;
  close(): Promise<void>;
}

/** A loopback HTTP server that records whatever reaches it. */
export async function startCanary(): Promise<Canary> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(200, {'content-type': 'text/plain'}).end('canary');
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Copies `test/fixtures/<name>` to `<tmp>/manuscript`, writing `replacements` (e.g. CANARY →
 * 127.0.0.1:port) into its text files. Returns the temp folder (for files "outside" the
 * manuscript) and the manuscript folder.
 */
export function copyFixture(name: string, replacements: Record<string, string> = {}): {dir: string; manuscript: string} {
  const dir = tempDir('book-hostile-');
  const manuscript = path.join(dir, 'manuscript');
  fs.cpSync(path.join(FIXTURES, name), manuscript, {recursive: true});
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, {withFileTypes: true})) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.(md|ya?ml|svg|bib)$/.test(entry.name)) {
        let text = fs.readFileSync(file, 'utf8');
        for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
        fs.writeFileSync(file, text);
      }
    }
  };
  walk(manuscript);
  return {dir, manuscript};
}

/** Every file of an EPUB, as text. */
export function epubEntries(file: string): Record<string, string> {
  const entries = unzipSync(fs.readFileSync(file));
  return Object.fromEntries(Object.entries(entries).map(([name, bytes]) => [name, Buffer.from(bytes).toString('utf8')]));
}

/** Problems in the XHTML documents of an EPUB, by file: see `unsafeParts`. */
export function epubProblems(file: string): string[] {
  const problems: string[] = [];
  for (const [name, text] of Object.entries(epubEntries(file))) {
    if (/\.(js|mjs)$/i.test(name)) problems.push(`${name}: a script file`);
    if (!/\.x?html$/.test(name)) continue;
    for (const problem of unsafeParts(fromHtml(text))) problems.push(`${name}: ${problem}`);
  }
  return problems;
}

export interface PdfActions {
  /** Every /URI of a link action. */
  uris: string[];
  /** Action types (/S) that run something or reach outside: JavaScript, Launch, SubmitForm… */
  dangerousActions: string[];
  /** Keys that must not be there: /JS, /JavaScript, /Launch, /EmbeddedFiles, /AA, /OpenAction with JS. */
  dangerousKeys: string[];
}

/** Walks every object of a PDF (object streams included) for actions and scripts. */
export async function pdfActions(file: string): Promise<PdfActions> {
  const doc = await PDFDocument.load(fs.readFileSync(file), {updateMetadata: false});
  const uris: string[] = [];
  const dangerousActions = new Set<string>();
  const DANGEROUS = new Set(['JavaScript', 'Launch', 'SubmitForm', 'ImportData', 'ResetForm', 'Rendition', 'GoToR', 'GoToE', 'Sound', 'Movie', 'RichMediaExecute']);
  const dangerousKeys = new Set<string>();
  const seen = new Set<PDFObject>();
  const visit = (object: PDFObject | undefined) => {
    if (!object || seen.has(object)) return;
    seen.add(object);
    if (object instanceof PDFStream && !(object instanceof PDFRawStream)) visit(object.dict);
    if (object instanceof PDFRawStream) visit(object.dict);
    if (object instanceof PDFDict) {
      for (const [key, value] of object.entries()) {
        const name = key.asString();
        if (['/JS', '/JavaScript', '/Launch', '/EmbeddedFiles', '/AA', '/SubmitForm', '/ImportData', '/RichMedia'].includes(name)) dangerousKeys.add(name);
        if (name === '/S' && value instanceof PDFName && DANGEROUS.has(value.asString().slice(1))) dangerousActions.add(value.asString().slice(1));
        if (name === '/URI' && (value instanceof PDFString || value instanceof PDFHexString)) uris.push(value.decodeText());
        visit(value);
      }
    } else if (object instanceof PDFArray) {
      for (const item of object.asArray()) visit(item);
    }
  };
  for (const [, object] of doc.context.enumerateIndirectObjects()) visit(object);
  visit(doc.catalog);
  return {uris, dangerousActions: [...dangerousActions].sort(), dangerousKeys: [...dangerousKeys].sort()};
}

/** Every file under a folder, recursively (relative paths). */
export function listFiles(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder, {recursive: true, withFileTypes: true})
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name)))
    .sort();
}
