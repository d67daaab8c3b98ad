/**
 * The browser edge. Chrome prints our HTML with JavaScript off; every request is answered
 * from memory (our page, images, fonts) or refused, so a manuscript can never make the
 * browser read a local file or reach the network.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, {type Browser} from 'puppeteer-core';

export const ORIGIN = 'http://book.invalid';

export class ChromeNotFoundError extends Error {}
export class PrintTimeoutError extends Error {}

const CANDIDATES = [
  '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

export function findChrome(): string {
  // A browser named in the environment is used strictly: a wrong path is an error, not a fallback.
  for (const variable of ['PUPPETEER_EXECUTABLE_PATH', 'CHROME_PATH']) {
    const named = process.env[variable];
    if (!named) continue;
    if (fs.existsSync(named)) return named;
    throw new ChromeNotFoundError(`${variable} names \`${named}\`, which does not exist; point it at Chrome or Chromium, or unset it to use /usr/bin/chromium`);
  }
  for (const candidate of CANDIDATES) if (fs.existsSync(candidate)) return candidate;
  throw new ChromeNotFoundError(
    'No Chrome or Chromium found for the PDF; install it (Debian/Ubuntu: `sudo apt-get install chromium`) or set PUPPETEER_EXECUTABLE_PATH',
  );
}

export interface Resources {
  /** Path (e.g. `/assets/img-ab12.svg`) → bytes and media type. */
  get(pathname: string): {body: Uint8Array | string; contentType: string} | undefined;
}

export interface PrintSession {
  print(html: string, options: {timeoutMs: number}): Promise<Uint8Array>;
  /** Requests that were refused (outside our resources). */
  refused: string[];
  close(): Promise<void>;
}

let warnedNoSandbox = false;

export async function openBrowser(resources: Resources, log: (message: string) => void = () => {}): Promise<PrintSession> {
  const executablePath = findChrome();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'book-chrome-'));
  const args = [
    '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--disable-extensions',
    '--font-render-hinting=none', `--user-data-dir=${userDataDir}`,
  ];
  // Chrome refuses to start as root with its sandbox on; then the page itself is locked down.
  if (process.getuid?.() === 0) {
    args.push('--no-sandbox');
    if (!warnedNoSandbox) log('Chrome runs without its sandbox because this process runs as root; the page has no JavaScript and no network.');
    warnedNoSandbox = true;
  }
  let browser: Browser;
  try {
    browser = await puppeteer.launch({executablePath, headless: true, args, userDataDir, timeout: 60_000, protocolTimeout: 600_000});
  } catch (error) {
    fs.rmSync(userDataDir, {recursive: true, force: true});
    throw new ChromeNotFoundError(`Cannot start Chrome at ${executablePath}: ${(error as Error).message.split('\n')[0]}`);
  }
  const refused: string[] = [];
  let current = '';
  const page = await browser.newPage();
  await page.setJavaScriptEnabled(false);
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:')) {
      // Only inline fonts/images that we wrote ourselves would use data: URLs; refuse them all.
      refused.push(url.slice(0, 40));
      void request.abort('blockedbyclient');
      return;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {}
    if (!parsed || parsed.origin !== ORIGIN) {
      refused.push(url);
      void request.abort('blockedbyclient');
      return;
    }
    if (parsed.pathname === '/' || parsed.pathname === '/index.html') {
      void request.respond({status: 200, contentType: 'application/xhtml+xml; charset=utf-8', body: current});
      return;
    }
    const resource = resources.get(decodeURIComponent(parsed.pathname));
    if (!resource) {
      refused.push(url);
      void request.respond({status: 404, contentType: 'text/plain', body: 'not found'});
      return;
    }
    void request.respond({status: 200, contentType: resource.contentType, body: Buffer.from(resource.body)});
  });
  return {
    refused,
    async print(html, {timeoutMs}) {
      current = html;
      const work = (async () => {
        await page.goto(`${ORIGIN}/`, {waitUntil: 'load', timeout: timeoutMs});
        await page.evaluateHandle('document.fonts.ready').catch(() => undefined);
        return page.pdf({preferCSSPageSize: true, printBackground: true, tagged: true, outline: false, timeout: timeoutMs});
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PrintTimeoutError(`Printing the PDF took longer than ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      });
      try {
        return await Promise.race([work, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await browser.close().catch(() => undefined);
      fs.rmSync(userDataDir, {recursive: true, force: true});
    },
  };
}
