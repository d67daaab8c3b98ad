/**
 * `book preview`: loads the book with the build cache kept in memory, serves it as HTML on
 * 127.0.0.1, watches the manuscript and the templates, and after each save rebuilds (only the
 * changed chapters are parsed again), prints the problems, and tells the open pages to reload
 * (Server-Sent Events). With --epub/--pdf, a `book build` runs in a child process after each
 * rebuild, so the preview stays responsive while the EPUB or the PDF is made.
 */
import http from 'node:http';
import path from 'node:path';
import {spawn, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {reporter} from 'vfile-reporter';
import type {VFile} from 'vfile';
import {loadBook} from '../stages/load.ts';
import {parseDoc} from '../stages/markdown.ts';
import {TEMPLATES, type Target} from '../build.ts';
import type {Book} from '../model.ts';
import {BuildCache, DEFAULT_CACHE_DIR} from '../cache/index.ts';
import {formatMs} from '../progress.ts';
import {watchFolders, type Watcher} from './watch.ts';
import {renderPage, renderErrorPage, previewCss, LIVE_JS} from './render.ts';
import {diagnosticsOf, type Diagnostic} from '../util/messages.ts';

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url));

export interface PreviewOptions {
  manuscript: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Background builds after each rebuild. */
  targets?: Target[];
  out?: string;
  cache?: boolean;
  cacheDir?: string;
  templates?: string;
  quiet?: boolean;
  /** Where terminal output goes (default: stderr). */
  log?: (line: string) => void;
}

export interface PreviewServer {
  url: string;
  port: number;
  /** Number of the last finished rebuild (1 after the first load). */
  readonly build: number;
  /** Resolves after the next rebuild finishes. */
  nextBuild(): Promise<number>;
  /** Rebuilds now (as after a save). */
  rebuild(): Promise<void>;
  close(): Promise<void>;
}

interface State {
  book?: Book;
  files: VFile[];
  diagnostics: Diagnostic[];
  build: number;
}

export async function startPreview(options: PreviewOptions): Promise<PreviewServer> {
  const host = options.host ?? '127.0.0.1';
  const templates = options.templates ?? TEMPLATES;
  const out = options.out ?? 'dist';
  const targets = options.targets ?? [];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const say = (line: string) => {
    if (!options.quiet) log(line);
  };
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const cache = options.cache === false ? undefined : new BuildCache({dir: cacheDir, templates, memory: true, warn: log});
  const state: State = {files: [], diagnostics: [], build: 0};
  const clients = new Set<http.ServerResponse>();
  let status = '';
  const waiters: ((build: number) => void)[] = [];

  const send = (event: string, data: string) => {
    for (const client of clients) client.write(`event: ${event}\ndata: ${data.replace(/\n/g, ' ')}\n\n`);
  };

  // Rebuilds run one at a time; saves during a rebuild cause one more.
  let running: Promise<void> | undefined;
  let again = false;
  const load = async () => {
    const started = performance.now();
    cache?.begin();
    const loaded = await loadBook(options.manuscript, cache?.loadOptions() ?? {});
    try {
      cache?.finish();
    } catch {}
    state.book = loaded.book;
    state.files = loaded.files;
    state.diagnostics = diagnosticsOf(loaded.files);
    state.build++;
    const ms = Math.round(performance.now() - started);
    const errors = state.diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = state.diagnostics.filter((d) => d.severity === 'warning').length;
    const report = reporter(loaded.files, {quiet: true});
    if (report) log(report);
    const docs = cache?.report.docs;
    say(`${state.build === 1 ? 'Loaded' : 'Rebuilt'} in ${formatMs(ms)}: ${errors} error(s), ${warnings} warning(s)${docs ? ` (${docs.misses} of ${docs.hits + docs.misses} documents parsed)` : ''}`);
    send('build', String(state.build));
    for (const resolve of waiters.splice(0)) resolve(state.build);
    if (targets.length > 0 && loaded.book && errors === 0) background.request();
  };
  const rebuild = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          try {
            await load();
          } catch (error) {
            log(`book: the rebuild failed: ${(error as Error).stack ?? String(error)}`);
            state.build++;
            state.diagnostics = [{file: options.manuscript, severity: 'error', message: `The rebuild failed: ${(error as Error).message}`}];
            send('build', String(state.build));
            for (const resolve of waiters.splice(0)) resolve(state.build);
          }
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const background = backgroundBuilds({
    manuscript: options.manuscript, out, targets, cacheDir, cache: options.cache !== false, log: say,
    onStatus: (text) => {
      status = text;
      send('status', text);
    },
  });

  await rebuild();
  // When every document came from the cache, the parser's code has not run yet in this process;
  // parsing one chapter now (result unused) makes the first save as quick as the later ones.
  let warmUp: NodeJS.Timeout | undefined;
  if (cache && cache.report.docs.misses === 0 && state.book) {
    // The longest chapter's source, from its file (the Book holds no source text).
    const sources = state.book.docs.filter((d) => d.kind === 'chapter')
      .map((doc) => ({doc, text: String(state.files.find((f) => f.path === doc.displayPath)?.value ?? '')}))
      .sort((a, b) => b.text.length - a.text.length);
    const longest = sources[0];
    if (longest && longest.text) {
      const {doc, text} = longest;
      warmUp = setTimeout(() => {
        try {
          parseDoc({
            id: doc.id, kind: doc.kind, path: doc.path, displayPath: doc.displayPath, text,
            ...(doc.number !== undefined ? {number: doc.number} : {}), ...(doc.partIndex !== undefined ? {partIndex: doc.partIndex} : {}),
          });
        } catch {}
      }, 200);
      warmUp.unref();
    }
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, {'content-type': 'text/plain; charset=utf-8'});
      response.end(`Internal error: ${(error as Error).message}`);
    });
  });
  const allowedHosts = new Set<string>();
  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    // Only this computer's browser: refuse other Host names (DNS rebinding).
    if (!allowedHosts.has(String(request.headers.host ?? '').toLowerCase())) {
      response.writeHead(403, {'content-type': 'text/plain; charset=utf-8'}).end('Forbidden host\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, {allow: 'GET, HEAD'}).end();
      return;
    }
    const url = new URL(request.url ?? '/', 'http://preview.invalid');
    const pathname = decodeURIComponent(url.pathname);
    const headers = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    const html = (code: number, body: string) => {
      response.writeHead(code, {
        ...headers, 'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (pathname === '/__preview/events') {
      response.writeHead(200, {...headers, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive'});
      response.write(`retry: 500\nevent: build\ndata: ${state.build}\n\n`);
      if (status) response.write(`event: status\ndata: ${status}\n\n`);
      clients.add(response);
      request.on('close', () => clients.delete(response));
      return;
    }
    if (pathname === '/__preview/live.js') {
      response.writeHead(200, {...headers, 'content-type': 'text/javascript; charset=utf-8'}).end(LIVE_JS);
      return;
    }
    if (pathname === '/__preview/style.css') {
      response.writeHead(200, {...headers, 'content-type': 'text/css; charset=utf-8'}).end(previewCss(templates));
      return;
    }
    if (pathname === '/__preview/status.json') {
      response.writeHead(200, {...headers, 'content-type': 'application/json'}).end(JSON.stringify({build: state.build, ok: !state.diagnostics.some((d) => d.severity === 'error'), diagnostics: state.diagnostics, status}));
      return;
    }
    const context = {diagnostics: state.diagnostics, buildId: state.build, status};
    const book = state.book;
    if (!book) {
      html(pathname === '/' ? 200 : 404, renderErrorPage(context));
      return;
    }
    if (pathname.startsWith('/assets/')) {
      const name = pathname.slice('/assets/'.length);
      const asset = [...book.assets.values()].find((a) => a.name === name);
      if (!asset) {
        response.writeHead(404, headers).end();
        return;
      }
      response.writeHead(200, {...headers, 'content-type': asset.mediaType, 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox"});
      response.end(request.method === 'HEAD' ? undefined : asset.bytes);
      return;
    }
    const id = pathname === '/' || pathname === '/index.html' ? 'index' : /^\/([A-Za-z0-9_-]+)\.html$/.exec(pathname)?.[1];
    const page = id ? renderPage(book, id, context) : undefined;
    if (page) html(200, page);
    else html(404, renderErrorPage({...context, diagnostics: [{file: pathname, severity: 'error', message: 'No such page in the book'}, ...context.diagnostics]}));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4173, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as {port: number}).port;
  for (const name of [host, '127.0.0.1', 'localhost', '[::1]']) allowedHosts.add(`${name}:${port}`.toLowerCase());
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  say(`Preview of ${options.manuscript} on ${url} (Ctrl+C stops it)`);

  const watchers: Watcher[] = [
    watchFolders([path.resolve(options.manuscript)], () => void rebuild(), {ignore: [out, cacheDir]}),
    watchFolders([templates], () => void rebuild()),
  ];

  return {
    url,
    port,
    get build() {
      return state.build;
    },
    nextBuild: () => new Promise((resolve) => waiters.push(resolve)),
    rebuild,
    async close() {
      clearTimeout(warmUp);
      for (const watcher of watchers) watcher.close();
      await background.stop();
      for (const client of clients) client.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await running;
    },
  };
}

/** `book build` in a child process, one at a time; a request during a build queues one more. */
function backgroundBuilds(options: {
  manuscript: string; out: string; targets: Target[]; cacheDir: string; cache: boolean;
  log: (line: string) => void; onStatus: (text: string) => void;
}) {
  let child: ChildProcess | undefined;
  let queued = false;
  let stopped = false;
  const what = options.targets.map((t) => t.toUpperCase()).join(' and ');
  const run = () => {
    queued = false;
    const args = [BIN, 'build', '--json', '--manuscript', options.manuscript, '--out', options.out, '--cache-dir', options.cacheDir,
      ...(options.targets.length === 1 ? ['--only', options.targets[0]!] : []), ...(options.cache ? [] : ['--no-cache'])];
    const started = performance.now();
    options.onStatus(`${what}: building…`);
    const proc = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, CI: '1'}});
    child = proc;
    let stdout = '';
    proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    proc.stderr!.resume();
    proc.on('close', (code) => {
      child = undefined;
      if (stopped) return;
      const time = formatMs(Math.round(performance.now() - started));
      let summary = '';
      try {
        const report = JSON.parse(stdout) as {outputs?: {path: string; bytes: number; pages?: number; cached?: boolean}[]; counts?: {errors: number}};
        summary = (report.outputs ?? []).map((o) => `${o.path} (${(o.bytes / 1024 / 1024).toFixed(1)} MB${o.pages ? `, ${o.pages} pages` : ''}${o.cached ? ', unchanged' : ''})`).join(', ');
      } catch {}
      const text = code === 0
        ? `${what}: built in ${time}${summary ? `: ${summary}` : ''}`
        : `${what}: the background build failed (exit code ${code}); run \`book build\` to see why`;
      options.log(text);
      options.onStatus(text);
      if (queued) run();
    });
  };
  return {
    request() {
      if (stopped || options.targets.length === 0) return;
      if (child) queued = true;
      else run();
    },
    async stop() {
      stopped = true;
      const running = child;
      if (running && running.exitCode === null) {
        await new Promise<void>((resolve) => {
          running.once('close', () => resolve());
          running.kill('SIGTERM');
        });
      }
    },
  };
}
