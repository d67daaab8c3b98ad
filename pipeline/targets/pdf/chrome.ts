/**
 * The browser edge. Chrome prints our HTML with JavaScript off; every request is answered
 * from memory (our page, images, fonts) or refused, so a manuscript can never make the
 * browser read a local file or reach the network.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, {type Browser, type HTTPRequest, type Page} from 'puppeteer-core';

export const ORIGIN = 'http://book.invalid';

export class ChromeNotFoundError extends Error {}
export class PrintTimeoutError extends Error {}

const SYSTEM_CANDIDATES = [
  '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

/**
 * The Chrome to print with. PUPPETEER_EXECUTABLE_PATH (or CHROME_PATH), when set, is used
 * strictly: if it names no program that is an error, not a reason to pick another browser.
 */
export function findChrome(): string {
  for (const variable of ['PUPPETEER_EXECUTABLE_PATH', 'CHROME_PATH']) {
    const value = process.env[variable];
    if (value === undefined || value === '') continue;
    if (!isExecutableFile(value)) {
      throw new ChromeNotFoundError(`${variable} is set to \`${value}\`, which is not a Chrome or Chromium program; fix or unset it`);
    }
    return value;
  }
  for (const candidate of SYSTEM_CANDIDATES) if (isExecutableFile(candidate)) return candidate;
  throw new ChromeNotFoundError(
    'No Chrome or Chromium found for the PDF; install it (Debian/Ubuntu: `sudo apt-get install chromium`) or set PUPPETEER_EXECUTABLE_PATH',
  );
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Chrome's user-data folders of this process (and the Chrome using each), removed on exit (also after Ctrl+C). */
const userDataDirs = new Map<string, number | undefined>();
let exitHook = false;
function removeUserDataDirs() {
  for (const [dir, pid] of userDataDirs) {
    // A Chrome still running keeps writing into its folder: stop it first (exit handlers cannot
    // wait for a polite close), and never throw from here.
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    try {
      fs.rmSync(dir, {recursive: true, force: true, maxRetries: 5, retryDelay: 20});
    } catch {}
  }
  userDataDirs.clear();
}

export interface Resources {
  /** Path (e.g. `/assets/img-ab12.svg`) → bytes and media type. */
  get(pathname: string): {body: Uint8Array | string; contentType: string} | undefined;
}

export interface PrintSession {
  /**
   * Prints one document in a tab of its own. `tagged: false` for a layout-only print: the same
   * pages, without the costly tag tree. Prints may run at the same time (each tab has its own
   * renderer, so each can have a core).
   */
  print(html: string, options: {timeoutMs: number; tagged?: boolean}): Promise<Uint8Array>;
  /** Requests that were refused (outside our resources). */
  refused: string[];
  /**
   * Waits until the tabs that printed are closed, and with them the renderers that held the
   * laid-out documents (hundreds of MB for a book). Each tab starts closing as soon as its PDF
   * is back.
   */
  release(): Promise<void>;
  close(): Promise<void>;
}

let warnedNoSandbox = false;

export async function openBrowser(resources: Resources, log: (message: string) => void = () => {}): Promise<PrintSession> {
  const executablePath = findChrome();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'book-chrome-'));
  userDataDirs.set(userDataDir, undefined);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeUserDataDirs);
  }
  const args = [
    '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--disable-extensions',
    '--font-render-hinting=none', `--user-data-dir=${userDataDir}`,
    // Belt and braces behind the request interception below: should a request ever get past
    // it, there is no name resolution and every connection goes to a proxy that is not there
    // (loopback included, which Chrome otherwise exempts from proxies).
    '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
    '--dns-prefetch-disable', '--no-pings', '--disable-domain-reliability', '--disable-client-side-phishing-detection',
    '--disable-default-apps', '--no-default-browser-check',
    // Memory: low-end mode gives Chrome's processes small caches and thrifty allocators. On a
    // 900-page book the renderer and the print compositor each need about a quarter less, in
    // about the same time, and the PDF is the same, byte for byte.
    '--enable-low-end-device-mode',
    // Fewer idle processes next to the one printing (20 to 80 MB each): the omnibox popup's
    // WebUI, which Chrome preloads even headless, the spare renderer it keeps warm, and the
    // software rasterizer of the GPU process (nothing here is drawn on screen).
    '--disable-software-rasterizer',
    '--disable-features=Translate,MediaRouter,OptimizationHints,WebUIOmniboxPopup,WebUIOmniboxAimPopup,SpareRendererForSitePerProcess',
  ];
  // Chrome refuses to start as root with its sandbox on; then the page itself is locked down.
  if (process.getuid?.() === 0) {
    args.push('--no-sandbox');
    if (!warnedNoSandbox) log('Chrome runs without its sandbox because this process runs as root; the page has no JavaScript and no network.');
    warnedNoSandbox = true;
  }
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath, headless: true, args, userDataDir, timeout: 60_000, protocolTimeout: 600_000,
      // Talk over a pipe: Chrome ends when this process ends, however it ends.
      pipe: true,
      // The CLI handles Ctrl+C and SIGTERM (exit → Chrome is closed, staging removed).
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    });
  } catch (error) {
    fs.rmSync(userDataDir, {recursive: true, force: true});
    userDataDirs.delete(userDataDir);
    throw new ChromeNotFoundError(`Cannot start Chrome at ${executablePath}: ${(error as Error).message.split('\n')[0]}`);
  }
  userDataDirs.set(userDataDir, browser.process()?.pid);
  // The tab Chrome opens at launch is one more renderer; every print opens its own tab.
  for (const tab of await browser.pages()) await tab.close().catch(() => undefined);
  const refused: string[] = [];
  const refuse = (url: string) => {
    const shown = url.length > 200 ? `${url.slice(0, 197)}…` : url;
    if (!refused.includes(shown)) refused.push(shown);
  };
  /** Answers one tab's requests: its document at `/`, our resources, nothing else. */
  const onRequest = (request: HTTPRequest, document: string) => {
    const url = request.url();
    if (url.startsWith('data:')) {
      // Inline data reaches neither the network nor the disk, and Chrome uses it for its own
      // controls and broken-image icons: refused quietly (our CSS inlines nothing it needs).
      void request.abort('blockedbyclient');
      return;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {}
    const ours = parsed?.origin === ORIGIN && (parsed.pathname === '/' || parsed.pathname === '/index.html');
    if (!ours && request.isNavigationRequest() && !request.frame()?.parentFrame()) {
      // The page tries to go elsewhere (a refresh, a link): "204 No Content" keeps it where it is.
      refuse(url);
      void request.respond({status: 204, body: ''});
      return;
    }
    if (!parsed || parsed.origin !== ORIGIN) {
      refuse(url);
      void request.abort('blockedbyclient');
      return;
    }
    if (parsed.pathname === '/' || parsed.pathname === '/index.html') {
      void request.respond({status: 200, contentType: 'application/xhtml+xml; charset=utf-8', body: document});
      return;
    }
    const resource = resources.get(decodeURIComponent(parsed.pathname));
    if (!resource) {
      // Chrome asks for a favicon by itself; that is not the manuscript's doing.
      if (parsed.pathname !== '/favicon.ico') refuse(url);
      void request.respond({status: 404, contentType: 'text/plain', body: 'not found'});
      return;
    }
    void request.respond({status: 200, contentType: resource.contentType, body: Buffer.from(resource.body)});
  };
  const openPage = async (document: string): Promise<Page> => {
    const tab = await browser.newPage();
    try {
      await tab.setJavaScriptEnabled(false);
      await tab.setBypassServiceWorker(true);
      await tab.setRequestInterception(true);
      tab.on('request', (request) => onRequest(request, document));
      return tab;
    } catch (error) {
      await tab.close().catch(() => undefined);
      throw error;
    }
  };
  /** Tabs that printed and are closing. */
  const closing = new Set<Promise<void>>();
  const closeTab = (tab: Page) => {
    const done = tab.close().catch(() => undefined).then(() => {
      closing.delete(done);
    });
    closing.add(done);
  };
  let closed = false;
  return {
    refused,
    async print(html, {timeoutMs, tagged = true}) {
      let tab: Page | undefined;
      const work = (async () => {
        tab = await openPage(html);
        await tab.goto(`${ORIGIN}/`, {waitUntil: 'load', timeout: timeoutMs});
        await tab.evaluateHandle('document.fonts.ready').catch(() => undefined);
        return tab.pdf({preferCSSPageSize: true, printBackground: true, tagged, outline: false, timeout: timeoutMs});
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PrintTimeoutError(timeoutMessage(timeoutMs))), timeoutMs);
      });
      try {
        return await Promise.race([work, timeout]);
      } catch (error) {
        // Puppeteer's own timeouts (navigation, printing) are the same limit.
        if (error instanceof Error && error.name === 'TimeoutError') {
          throw new PrintTimeoutError(timeoutMessage(timeoutMs), {cause: error});
        }
        throw error;
      } finally {
        clearTimeout(timer);
        // The tab closes in the background (the caller reads the PDF meanwhile); a tab still
        // opening when the print timed out is closed once it is open.
        if (tab) closeTab(tab);
        else void work.catch(() => undefined).finally(() => tab && closeTab(tab));
      }
    },
    async release() {
      while (closing.size > 0) await Promise.all([...closing]);
    },
    async close() {
      // Once: renderPdf closes Chrome before its finish, and again (a no-op) on the way out.
      if (closed) return;
      closed = true;
      await browser.close().catch(() => undefined);
      fs.rmSync(userDataDir, {recursive: true, force: true});
      userDataDirs.delete(userDataDir);
    },
  };
}

function timeoutMessage(timeoutMs: number): string {
  const limit = timeoutMs < 10_000 ? `${(timeoutMs / 1000).toFixed(1)} s` : `${Math.round(timeoutMs / 1000)} s`;
  return `Printing the PDF took longer than ${limit}, the limit for one print; stopped (is a chapter unusually large?)`;
}
