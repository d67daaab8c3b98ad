/**
 * The Pandoc side's print step: one plain Chrome print of a standalone HTML file, as a Pandoc
 * user would do it with Puppeteer. Fresh profile; only file: and data: requests are served,
 * anything else is refused (no network). Same trim size and margins as the generated book.
 *   tsx pipeline/bench/chrome-print.ts IN.html OUT.pdf
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import puppeteer from 'puppeteer-core';
import {PDFDocument} from 'pdf-lib';
import {findChrome} from '../pipeline/targets/pdf/chrome.ts';

async function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) throw new Error('usage: chrome-print.ts IN.html OUT.pdf');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-chrome-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${userDataDir}`,
  ];
  const timings: Record<string, number> = {};
  let start = performance.now();
  const browser = await puppeteer.launch({executablePath: findChrome(), headless: true, args, userDataDir, protocolTimeout: 900_000});
  timings.launch = Math.round(performance.now() - start);
  const refused: string[] = [];
  try {
    const page = await browser.newPage();
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const url = request.url();
      if (url.startsWith('file:') || url.startsWith('data:')) void request.continue();
      else {
        refused.push(url);
        void request.abort('blockedbyclient');
      }
    });
    start = performance.now();
    await page.goto(pathToFileURL(path.resolve(input)).href, {waitUntil: 'load', timeout: 900_000});
    await page.evaluateHandle('document.fonts.ready').catch(() => undefined);
    timings.load = Math.round(performance.now() - start);
    start = performance.now();
    const pdf = await page.pdf({
      width: '7in', height: '9in', margin: {top: '0.75in', bottom: '0.8in', left: '0.875in', right: '0.625in'},
      printBackground: true, tagged: true, outline: false, timeout: 900_000,
    });
    timings.pdf = Math.round(performance.now() - start);
    fs.writeFileSync(output, pdf);
    const pages = (await PDFDocument.load(pdf, {updateMetadata: false})).getPageCount();
    process.stdout.write(`${JSON.stringify({timings, bytes: pdf.byteLength, pages, refused})}\n`);
  } finally {
    await browser.close();
    fs.rmSync(userDataDir, {recursive: true, force: true});
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
