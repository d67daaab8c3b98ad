/**
 * End to end: the preview server serves the book on 127.0.0.1, and after a save serves the
 * change, with the problems of the manuscript on the page.
 */
import {describe, it, expect, beforeAll, afterAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import {unzipSync} from 'fflate';
import {startPreview, type PreviewServer} from '../pipeline/preview/index.ts';
import {FIXTURES, tempDir} from './helpers.ts';

let work: string;
let manuscript: string;
let server: PreviewServer;
const lines: string[] = [];

const get = async (pathname: string, init: RequestInit = {}) => {
  const response = await fetch(new URL(pathname, server.url), init);
  return {status: response.status, headers: response.headers, text: await response.text()};
};

/** Polls until the page passes the check (the watcher reacts to the save on its own). */
async function until(pathname: string, check: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = (await get(pathname)).text;
    if (check(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${pathname} did not change in ${timeoutMs} ms:\n${text.slice(0, 2000)}`);
}

const chapter = () => path.join(manuscript, 'chapters', '02-beta.md');
const append = (text: string) => fs.appendFileSync(chapter(), text);

beforeAll(async () => {
  work = tempDir('book-preview-');
  manuscript = path.join(work, 'manuscript');
  fs.cpSync(path.join(FIXTURES, 'mini'), manuscript, {recursive: true});
  server = await startPreview({
    manuscript, port: 0, cacheDir: path.join(work, '.cache'), out: path.join(work, 'dist'),
    log: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await server?.close();
});

describe('the preview', () => {
  it('should listen on 127.0.0.1 and serve a chapter with the contents, the live-reload script and no other script', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get('/ch02.html');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).toContain('Beta Chapter');
    expect(page.text).toContain('Chapter 2');
    // Navigation: the contents with parts and chapters, previous and next page.
    expect(page.text).toMatch(/<nav class="preview-toc"[^>]*>[\s\S]*Part I: Beginnings[\s\S]*href="\/ch03\.html"/);
    expect(page.text).toContain('rel="prev"');
    expect(page.text).toContain('rel="next"');
    expect(page.text.match(/<script\b[^>]*>/g)).toEqual(['<script src="/__preview/live.js" defer></script>'.replace('></script>', '>')]);
    expect((await get('/__preview/live.js')).text).toContain("new EventSource('/__preview/events')");
    expect((await get('/')).text).toContain('A Small Test Book');
    expect(lines.join('\n')).toMatch(/Loaded in .*0 error\(s\)/);
  });

  it('should serve figures and rewrite links between chapters to the pages that hold them', async () => {
    const alpha = (await get('/ch01.html')).text;
    const image = /<img[^>]*src="(\/assets\/img-[0-9a-f]+\.svg)"/.exec(alpha);
    expect(image).not.toBeNull();
    const asset = await get(image![1]!);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('image/svg+xml');
    expect(alpha).toContain('href="/ch03.html#sec-gamma-two"');
    expect((await get('/nothing.html')).status).toBe(404);
  });

  it('should serve the edited chapter after a save, and tell open pages to reload', async () => {
    const events: string[] = [];
    const request = http.get(new URL('/__preview/events', server.url), (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => events.push(chunk));
    });
    try {
      const before = server.build;
      append('\n\nA freshly saved paragraph about zebras.\n');
      const page = await until('/ch02.html', (text) => text.includes('freshly saved paragraph about zebras'));
      expect(page).toContain(`<meta name="preview-build" content="${server.build}">`);
      expect(server.build).toBeGreaterThan(before);
      await until('/ch02.html', () => events.join('').includes(`event: build\ndata: ${server.build}`), 5000);
    } finally {
      request.destroy();
    }
  });

  it('should show problems on the page and in the terminal, and sanitise the HTML as the book does', async () => {
    append('\n\nSee @fig-nowhere.\n\n<script>alert("x")</script>\n\n<img src="../img/boxes.svg" alt="Boxes" onerror="alert(1)">\n');
    const page = await until('/ch02.html', (text) => text.includes('fig-nowhere'));
    expect(page).toMatch(/<section id="preview-problems" class="preview-problems has-errors"/);
    expect(page).toContain('Unknown cross-reference');
    expect(page).not.toContain('alert(');
    expect(page).not.toMatch(/<[^>]*\son[a-z]+=/i);
    expect(page).toContain("Removed event handler `onerror`");
    expect(lines.join('\n')).toMatch(/02-beta\.md[\s\S]*Unknown cross-reference/);
    const status = JSON.parse((await get('/__preview/status.json')).text) as {ok: boolean; diagnostics: {ruleId?: string}[]};
    expect(status.ok).toBe(false);
    expect(status.diagnostics.some((d) => d.ruleId === 'unknown-reference')).toBe(true);
    // Fixed again: the problem goes away.
    fs.writeFileSync(chapter(), fs.readFileSync(chapter(), 'utf8').replace('See @fig-nowhere.', 'See nothing.'));
    await until('/ch02.html', (text) => !text.includes('fig-nowhere') && text.includes('See nothing.'));
  });

  it('should refuse requests for other host names', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL('/ch01.html', server.url);
      http.get({host: '127.0.0.1', port: url.port, path: url.pathname, headers: {host: 'attacker.example'}}, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(403);
  });
});

describe('background builds from the preview', () => {
  it('should build the EPUB in the background at the start and again after a save', async () => {
    const dir = tempDir('book-preview-epub-');
    const copy = path.join(dir, 'manuscript');
    fs.cpSync(path.join(FIXTURES, 'mini'), copy, {recursive: true});
    const out = path.join(dir, 'dist');
    const seen: string[] = [];
    const preview = await startPreview({manuscript: copy, port: 0, targets: ['epub'], out, cacheDir: path.join(dir, '.cache'), log: (line) => seen.push(line)});
    const built = async (count: number) => {
      const deadline = Date.now() + 120_000;
      while (seen.filter((line) => /EPUB: built in/.test(line)).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    };
    const epub = path.join(out, 'a-small-test-book.epub');
    try {
      await built(1);
      expect(seen.join('\n')).toMatch(/EPUB: built in .*a-small-test-book\.epub/);
      expect(fs.existsSync(epub)).toBe(true);
      fs.appendFileSync(path.join(copy, 'chapters', '03-gamma.md'), '\n\nA paragraph saved while previewing.\n');
      await built(2);
      const chapter = unzipSync(fs.readFileSync(epub))['OEBPS/ch03.xhtml']!;
      expect(Buffer.from(chapter).toString('utf8')).toContain('A paragraph saved while previewing.');
      const page = await fetch(new URL('/ch01.html', preview.url)).then((r) => r.text());
      expect(page).toMatch(/EPUB: built in/);
    } finally {
      await preview.close();
    }
  });
});
