/**
 * The browser edge on its own, without the sanitiser in front of it: a print page that asks
 * for the network (a loopback canary), local files and other ports gets nothing and every
 * request is reported as refused; its scripts do not run; a print that takes too long stops
 * with a clear error; and PUPPETEER_EXECUTABLE_PATH is honoured strictly.
 */
import {describe, it, expect, beforeAll, afterAll} from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {openBrowser, findChrome, ChromeNotFoundError, PrintTimeoutError, type PrintSession} from '../pipeline/targets/pdf/chrome.ts';
import {pdftext, plain, tempDir, FIXTURES} from './helpers.ts';
import {startCanary, type Canary} from './hostile-helpers.ts';

const SECRET = 'SECRET-b7e4a9-FILE';
let canary: Canary;
let session: PrintSession;
const logged: string[] = [];
let secretFile: string;

beforeAll(async () => {
  canary = await startCanary();
  secretFile = path.join(tempDir(), 'secret.txt');
  fs.writeFileSync(secretFile, SECRET);
  const ok = fs.readFileSync(path.join(FIXTURES, 'mini/img/boxes.svg'));
  session = await openBrowser({
    get: (pathname) => (pathname === '/assets/ok.svg' ? {body: ok, contentType: 'image/svg+xml'} : undefined),
  }, (message) => logged.push(message));
});

afterAll(async () => {
  await session?.close();
  await canary?.close();
});

function hostilePage(): string {
  const h = canary.host;
  const file = `file://${secretFile}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="UTF-8"/>
<meta http-equiv="refresh" content="0; url=http://${h}/meta-refresh"/>
<title>Hostile print page</title>
<link rel="stylesheet" href="http://${h}/link.css"/>
<link rel="prefetch" href="http://${h}/prefetch"/>
<style>
@import url("http://${h}/import.css");
body { background: url("http://${h}/background.png"); }
@font-face { font-family: Remote; src: url("http://${h}/font.woff2"); }
p.remote { font-family: Remote, serif; }
</style>
<script>document.documentElement.textContent = "SCRIPT-RAN"; fetch("http://${h}/fetch");</script>
<script src="http://${h}/script.js"></script>
</head>
<body>
<p class="remote">PRINTED-TEXT</p>
<img src="/assets/ok.svg" alt="ours"/>
<img src="http://${h}/image.png" alt=""/>
<img src="http://localhost:${canary.port}/localhost.png" alt=""/>
<img src="/assets/unknown.png" alt=""/>
<img src="${file}" alt=""/>
<img src="/assets/ok.svg" srcset="http://${h}/srcset.png 2x" alt=""/>
<iframe src="http://${h}/iframe.html"></iframe>
<iframe src="${file}"></iframe>
<object data="${file}"></object>
<object data="http://${h}/object"></object>
<video poster="http://${h}/poster.png"></video>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="http://${h}/svg-image.png" width="10" height="10"/></svg>
<noscript><p>NOSCRIPT-SHOWN</p></noscript>
</body>
</html>
`;
}

describe('the print browser', () => {
  it('should print the page, fetch nothing from the network or disk, and report what it refused', async () => {
    const pdf = await session.print(hostilePage(), {timeoutMs: 120_000});
    const file = path.join(tempDir(), 'hostile.pdf');
    fs.writeFileSync(file, pdf);
    const text = plain(pdftext(file));
    expect(text).toContain('PRINTED-TEXT');
    // JavaScript is off: the script that would replace the page did not run.
    expect(text).not.toContain('SCRIPT-RAN');
    // No local file reached the page.
    expect(text).not.toContain(SECRET);
    expect(canary.requests).toEqual([]);
    expect(canary.connections).toBe(0);
    const h = canary.host;
    for (const url of [`http://${h}/image.png`, `http://${h}/link.css`, `http://${h}/import.css`, `http://${h}/background.png`,
      `http://localhost:${canary.port}/localhost.png`, 'http://book.invalid/assets/unknown.png', `http://${h}/iframe.html`,
      `http://${h}/font.woff2`, `http://${h}/object`, `http://${h}/svg-image.png`, `http://${h}/meta-refresh`]) {
      expect(session.refused, url).toContain(url);
    }
    // Each refused URL once.
    expect(new Set(session.refused).size).toBe(session.refused.length);
  });

  it('should say once, as root, that Chrome runs without its sandbox', () => {
    const notes = logged.filter((m) => /sandbox/.test(m));
    expect(notes).toHaveLength(process.getuid?.() === 0 ? 1 : 0);
  });

  it('should stop a print that takes longer than its limit with a clear error', async () => {
    const error = await session.print(hostilePage(), {timeoutMs: 1}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrintTimeoutError);
    expect((error as Error).message).toBe('Printing the PDF took longer than 0.0 s, the limit for one print; stopped (is a chapter unusually large?)');
    // The session still prints afterwards.
    const again = await session.print('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><p>AGAIN</p></body></html>', {timeoutMs: 120_000});
    expect(Buffer.from(again).subarray(0, 5).toString()).toBe('%PDF-');
  });
});

describe('finding Chrome', () => {
  const saved = {...process.env};
  afterAll(() => {
    process.env.PUPPETEER_EXECUTABLE_PATH = saved.PUPPETEER_EXECUTABLE_PATH;
    process.env.CHROME_PATH = saved.CHROME_PATH;
    if (saved.PUPPETEER_EXECUTABLE_PATH === undefined) delete process.env.PUPPETEER_EXECUTABLE_PATH;
    if (saved.CHROME_PATH === undefined) delete process.env.CHROME_PATH;
  });

  it('should honour PUPPETEER_EXECUTABLE_PATH strictly: a missing or unrunnable program is an error', () => {
    const dir = tempDir();
    const notExecutable = path.join(dir, 'chrome');
    fs.writeFileSync(notExecutable, '#!/bin/sh\n', {mode: 0o644});
    delete process.env.CHROME_PATH;
    for (const value of [path.join(dir, 'missing-chrome'), dir, notExecutable]) {
      process.env.PUPPETEER_EXECUTABLE_PATH = value;
      expect(() => findChrome()).toThrow(ChromeNotFoundError);
      expect(() => findChrome()).toThrow(`PUPPETEER_EXECUTABLE_PATH is set to \`${value}\`, which is not a Chrome or Chromium program; fix or unset it`);
    }
    process.env.PUPPETEER_EXECUTABLE_PATH = '';
    expect(() => findChrome()).not.toThrow();
  });
});
