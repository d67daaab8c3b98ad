/**
 * The book's bibliography: which keys exist (for the checks in resolve.ts) and the formatted
 * citations and entries. The formatting itself is citeproc.ts; this module decides where it
 * runs and remembers its results.
 *
 * A cold build reads the BibTeX and formats in a worker thread, so that the second core works
 * on citations (about two seconds for a few hundred) while this thread parses the chapters and
 * checks the images. A build cache remembers what was read and formatted, keyed by the sources
 * and the style, so that a rebuild usually needs neither the thread nor citation-js.
 */
import {createHash} from 'node:crypto';
import {Worker} from 'node:worker_threads';
import {VFile} from 'vfile';
import {parseBibliography, citeprocFormat as formatHere, requestKey, type ParsedBibliography, type CitationRequest, type References} from './citeproc.ts';
import type {WorkerInput, WorkerReply, WorkerRequest} from './citeproc-worker.ts';
import {findCitations} from '../plugins/remark-book.ts';

/** Defined by pipeline/bundle.mjs in bundled code (the bundle's folder, a file URL); undeclared when run from source. */
declare const BOOK_BUNDLE_DIR: string | undefined;

export type {CitationRequest, CiteItem, References} from './citeproc.ts';

export interface Bibliography {
  /** The entries as citeproc reads them. */
  csl: {id: string}[];
  keys: Set<string>;
  style: string;
  files: VFile[];
  /**
   * Formatted references by request, and what was read from the sources (under `parsed`).
   * Formatting is a pure function of the entries, the style, the language, the set of cited
   * entries and the request; a build cache keeps the memo between builds.
   */
  memo?: Map<string, string>;
  /** The worker thread that read the sources, until it has formatted the references. */
  thread?: BibliographyThread;
}

type Source = {path: string; text: string};

const PARSED = 'parsed';

function remembered(memo: Map<string, string> | undefined): ParsedBibliography | undefined {
  const known = memo?.get(PARSED);
  if (known === undefined) return undefined;
  try {
    return JSON.parse(known) as ParsedBibliography;
  } catch {
    return undefined;
  }
}

function bibliographyFrom(sources: Source[], style: string, parsed: ParsedBibliography, memo: Map<string, string> | undefined): Bibliography {
  const files = sources.map((source) => new VFile({path: source.path, value: source.text}));
  for (const problem of parsed.problems) {
    files[problem.source]!.message(problem.reason, {place: {line: problem.line, column: 1}, source: 'book', ruleId: problem.ruleId}).fatal = problem.fatal;
  }
  memo?.set(PARSED, JSON.stringify(parsed));
  return {csl: parsed.csl, keys: new Set(parsed.csl.map((entry) => entry.id)), style, files, ...(memo ? {memo} : {})};
}

/** Reads the sources in this thread. */
export function loadBibliography(sources: Source[], style: string, memo?: Map<string, string>): Bibliography {
  return bibliographyFrom(sources, style, remembered(memo) ?? parseBibliography(sources), memo);
}

/**
 * Reads the sources in a worker thread, unless the memo knows them; the caller goes on with
 * other work and awaits the result when it needs the keys. The thread then prepares the style,
 * registers and formats what is `expected` (expectedCitations) and waits for
 * `formatCitations`. Without a thread (it could not start), reads them here.
 */
export async function openBibliography(sources: Source[], style: string, lang: string, memo?: Map<string, string>, expected?: () => ExpectedCitations): Promise<Bibliography> {
  const known = remembered(memo);
  if (known || sources.length === 0) return loadBibliography(sources, style, memo);
  const thread = BibliographyThread.start({sources: sources.map((s) => ({text: s.text})), style, lang});
  const ahead = thread && expected ? expected() : undefined;
  if (ahead && ahead.cited.length > 0) thread!.expect(ahead);
  const parsed = thread ? await thread.parsed.catch(() => undefined) : undefined;
  if (!parsed) {
    thread?.close();
    return loadBibliography(sources, style, memo);
  }
  const bib = bibliographyFrom(sources, style, parsed, memo);
  if (thread) bib.thread = thread;
  return bib;
}

/**
 * What the memo already knows of these references; `missing` and `bibliography` say what is
 * left to format, `complete` merges that in (remembering it) and gives the whole.
 */
function lookup(bib: Bibliography, requests: CitationRequest[], cited: string[], lang: string) {
  const registry = createHash('sha256').update(cited.join('\n')).digest('hex').slice(0, 16);
  const keys = requests.map(({items, mode}) => JSON.stringify(['citation', items, mode, lang, registry]));
  const bibliographyKey = JSON.stringify(['bibliography', cited, lang]);
  const citations = keys.map((key) => bib.memo?.get(key));
  const stored = bib.memo?.get(bibliographyKey);
  const known = stored === undefined ? undefined : JSON.parse(stored) as References['bibliography'];
  const missingAt = citations.flatMap((text, i) => (text === undefined ? [i] : []));
  return {
    missing: missingAt.map((i) => requests[i]!),
    needsBibliography: !known,
    done: missingAt.length === 0 && known !== undefined,
    complete(fresh: References = {citations: [], bibliography: []}): References {
      missingAt.forEach((index, i) => {
        citations[index] = fresh.citations[i]!;
        bib.memo?.set(keys[index]!, fresh.citations[i]!);
      });
      if (!known) bib.memo?.set(bibliographyKey, JSON.stringify(fresh.bibliography));
      return {citations: citations as string[], bibliography: known ?? fresh.bibliography};
    },
  };
}

/**
 * Every citation of the book and the bibliography of the cited entries (in first-cited order),
 * in this thread. See citeproc.ts for what one registry per book means.
 */
export function formatCitationsSync(bib: Bibliography, requests: CitationRequest[], cited: string[], lang: string): References {
  if (cited.length === 0) return {citations: requests.map(() => ''), bibliography: []};
  const todo = lookup(bib, requests, cited, lang);
  return todo.complete(todo.done ? undefined : formatHere(bib.csl, bib.style, lang, todo.missing, cited, todo.needsBibliography));
}

/** As formatCitationsSync, in the worker thread when one was started; ends the thread. */
export async function formatCitations(bib: Bibliography, requests: CitationRequest[], cited: string[], lang: string): Promise<References> {
  const thread = bib.thread;
  delete bib.thread;
  try {
    if (!thread || cited.length === 0) return formatCitationsSync(bib, requests, cited, lang);
    const todo = lookup(bib, requests, cited, lang);
    if (todo.done) return todo.complete();
    const fresh = await thread.format(todo.missing, cited, todo.needsBibliography).catch(() => undefined);
    return fresh ? todo.complete(fresh) : formatCitationsSync(bib, requests, cited, lang);
  } finally {
    thread?.close();
  }
}

/** Ends a worker thread that is no longer needed (a build that stopped early). */
export function closeBibliography(bib: Bibliography | undefined): void {
  bib?.thread?.close();
  if (bib) delete bib.thread;
}

class BibliographyThread {
  readonly parsed: Promise<ParsedBibliography>;
  private formatted: ((reply: WorkerReply) => void) | undefined;
  private failed: ((error: Error) => void) | undefined;

  private constructor(private readonly worker: Worker) {
    // Never keeps the process alive: a build that ends early simply leaves it behind.
    worker.unref();
    this.parsed = new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        reject(error);
        this.failed?.(error);
      };
      worker.on('error', fail);
      worker.on('exit', () => fail(new Error('The bibliography thread stopped')));
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'parsed') resolve(reply.parsed);
        else if (reply.type === 'failed') fail(new Error(reply.message));
        else this.formatted?.(reply);
      });
    });
    this.parsed.catch(() => {});
  }

  static start(input: Omit<WorkerInput, 'module'>): BibliographyThread | undefined {
    try {
      // Bundled (pipeline/bundle.mjs), the worker is a bundled module of its own; from source,
      // thread.mjs has tsx run the TypeScript.
      if (typeof BOOK_BUNDLE_DIR === 'string') {
        return new BibliographyThread(new Worker(new URL('citeproc-worker.mjs', BOOK_BUNDLE_DIR), {workerData: input satisfies WorkerInput}));
      }
      const module = new URL('./citeproc-worker.ts', import.meta.url).href;
      return new BibliographyThread(new Worker(new URL('../thread.mjs', import.meta.url), {workerData: {...input, module} satisfies WorkerInput}));
    } catch {
      return undefined;
    }
  }

  /** What the book is expected to cite: registered and formatted while the chapters are parsed. */
  expect(expected: ExpectedCitations): void {
    this.worker.postMessage({type: 'expect', ...expected} satisfies WorkerRequest);
  }

  format(requests: CitationRequest[], cited: string[], withBibliography: boolean): Promise<References> {
    return new Promise((resolve, reject) => {
      this.failed = reject;
      this.formatted = (reply) => {
        if (reply.type === 'formatted') resolve(reply.references);
      };
      this.worker.postMessage({type: 'format', requests, cited, withBibliography} satisfies WorkerRequest);
    });
  }

  close(): void {
    this.failed = undefined;
    void this.worker.terminate();
  }
}

/** What a book is expected to cite: the works, in the order resolve.ts meets them, and the citations. */
export interface ExpectedCitations {
  cited: string[];
  requests: CitationRequest[];
}

/**
 * The citations a book is expected to hold, read from the Markdown sources with the parser's own
 * citation patterns (findCitations): code left out, footnote definitions after the text (where
 * they are printed). A guess that lets the thread register the cited works and format the
 * citations while the chapters are parsed; formatCitations registers again if the book cites
 * other works, or in another order, and formats what was not foreseen.
 */
export function expectedCitations(texts: string[]): ExpectedCitations {
  const keys = new Set<string>();
  const requests = new Map<string, CitationRequest>();
  for (const text of texts) {
    const body: string[] = [];
    const notes: string[] = [];
    let inNote = false;
    const plain = text.replace(/^(```+|~~~+)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/<!--[\s\S]*?-->/g, '');
    for (const line of plain.split('\n')) {
      if (/^\[\^[^\]]+\]:/.test(line)) inNote = true;
      else if (inNote && line.trim() !== '' && !/^\s/.test(line)) inNote = false;
      (inNote ? notes : body).push(line);
    }
    for (const part of [body.join('\n'), notes.join('\n')]) {
      const code = part.replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length));
      for (const citation of findCitations(code)) {
        if (citation.xref) continue;
        for (const item of citation.items) keys.add(item.key);
        const request = {items: citation.items, mode: citation.mode};
        requests.set(requestKey(request), request);
      }
    }
  }
  return {cited: [...keys], requests: [...requests.values()]};
}
