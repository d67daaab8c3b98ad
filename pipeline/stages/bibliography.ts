/**
 * Citations with citation-js (BibTeX in, CSL formatting out). Pure: text in, entries out.
 */
import {Cite, plugins} from '@citation-js/core';
import '@citation-js/plugin-bibtex';
import '@citation-js/plugin-csl';
import {VFile} from 'vfile';

export interface Bibliography {
  cite: Cite | undefined;
  /** The entries as citation-js hands them to citeproc (cleaned once, not on every citation). */
  csl: unknown[];
  keys: Set<string>;
  style: string;
  files: VFile[];
  /**
   * Formatted citations and bibliographies by request. Formatting is a pure function of the
   * entries, the style, the language and the request, and costs milliseconds per citation, so
   * each request is formatted once; a build cache keeps the memo between builds (keyed by the
   * bibliography sources and the style).
   */
  memo?: Map<string, string>;
}

export function loadBibliography(sources: {path: string; text: string}[], style: string): Bibliography {
  const keys = new Set<string>();
  const data: unknown[] = [];
  const files: VFile[] = [];
  for (const source of sources) {
    const file = new VFile({path: source.path, value: source.text});
    files.push(file);
    let entries: {id: string}[] = [];
    try {
      entries = new Cite(source.text).data as {id: string}[];
    } catch (error) {
      file.message(`Cannot read the bibliography: ${(error as Error).message.split('\n')[0]}`, {
        place: {line: 1, column: 1}, source: 'book', ruleId: 'bibliography',
      }).fatal = true;
      continue;
    }
    const declared = [...source.text.matchAll(/^\s*@(\w+)\s*\{\s*([^,\s]+)\s*,/gm)];
    for (const match of declared) {
      if (!entries.some((entry) => entry.id === match[2])) {
        const line = source.text.slice(0, match.index).split('\n').length;
        file.message(`Cannot read bibliography entry \`${match[2]}\``, {place: {line, column: 1}, source: 'book', ruleId: 'bibliography'});
      }
    }
    for (const entry of entries) {
      if (keys.has(entry.id)) {
        const at = source.text.indexOf(entry.id);
        const line = at >= 0 ? source.text.slice(0, at).split('\n').length : 1;
        file.message(`Duplicate citation key \`${entry.id}\`; the first definition is used`, {
          place: {line, column: 1}, source: 'book', ruleId: 'duplicate-citation-key',
        });
        continue;
      }
      keys.add(entry.id);
      data.push(entry);
    }
  }
  const cite = data.length > 0 ? new Cite(data) : undefined;
  const csl = cite ? plugins.input.util.clean(cite.data) : [];
  return {cite, csl, keys, style, files, memo: new Map()};
}

export interface CiteItem {
  key: string;
  prefix?: string;
  locator?: string;
}

/** "(Sculley et al., 2015, p. 3; Amershi et al., 2019)" or, narrative, "Sculley et al. (2015)". */
export function formatCitation(bib: Bibliography, items: CiteItem[], mode: 'paren' | 'narrative', lang: string): string {
  if (!bib.cite) return '';
  const memoKey = JSON.stringify(['citation', items, mode, lang]);
  const known = bib.memo?.get(memoKey);
  if (known !== undefined) return known;
  const text = formatCitationUncached(bib, items, mode, lang);
  bib.memo?.set(memoKey, text);
  return text;
}

function formatCitationUncached(bib: Bibliography, items: CiteItem[], mode: 'paren' | 'narrative', lang: string): string {
  const entry = items.map((item) => {
    const locator = parseLocator(item.locator);
    return {id: item.key, ...(locator ?? {}), ...(item.prefix ? {prefix: `${item.prefix} `} : {})};
  });
  // What `cite.format('citation', …)` does, minus cleaning every entry again on each call (half
  // the time on a book with hundreds of citations): citation-js's cached engine, one cluster.
  const engine = cslEngine(bib.csl, bib.style, cslLang(lang), 'text');
  const text = String(engine.rebuildProcessorState([{citationItems: entry, properties: {noteIndex: 0}}], 'text', [])[0]![2]);
  if (mode === 'paren' || items.length !== 1) return text;
  const inner = /^\((.*)\)$/.exec(text)?.[1];
  const split = inner ? /^(.*?),\s*(\d{4}[a-z]?.*)$/.exec(inner) : null;
  return split ? `${split[1]} (${split[2]})` : text;
}

function parseLocator(locator: string | undefined): {locator: string; label: string} | undefined {
  if (!locator) return undefined;
  const match = /^(p|pp|page|pages|chap|chapter|sec|section|fig|figure)\.?\s*(.+)$/i.exec(locator.trim());
  if (!match) return {locator: locator.trim(), label: 'page'};
  const label = {p: 'page', pp: 'page', page: 'page', pages: 'page', chap: 'chapter', chapter: 'chapter', sec: 'section', section: 'section', fig: 'figure', figure: 'figure'}[match[1]!.toLowerCase()] ?? 'page';
  return {locator: match[2]!, label};
}

/** Bibliography entries as HTML strings, sorted by the style, for the keys cited. */
export function formatBibliography(bib: Bibliography, keys: string[], lang: string): {key: string; html: string}[] {
  if (!bib.cite || keys.length === 0) return [];
  const memoKey = JSON.stringify(['bibliography', keys, lang]);
  const known = bib.memo?.get(memoKey);
  if (known !== undefined) return JSON.parse(known) as {key: string; html: string}[];
  const entries = formatBibliographyUncached(bib, keys, lang);
  bib.memo?.set(memoKey, JSON.stringify(entries));
  return entries;
}

function formatBibliographyUncached(bib: Bibliography, keys: string[], lang: string): {key: string; html: string}[] {
  const html = String(bib.cite!.format('bibliography', {template: bib.style, lang: cslLang(lang), format: 'html', entry: keys}));
  const entries: {key: string; html: string}[] = [];
  for (const match of html.matchAll(/<div data-csl-entry-id="([^"]+)" class="csl-entry">([\s\S]*?)<\/div>/g)) {
    entries.push({key: match[1]!, html: match[2]!.trim()});
  }
  return entries;
}

interface CslEngine {
  rebuildProcessorState(citations: {citationItems: unknown[]; properties: {noteIndex: number}}[], format: string, uncited: string[]): [string, number, string][];
}

/** citation-js's `prepareEngine` (engines are cached by style and locale). */
function cslEngine(data: unknown[], style: string, lang: string, format: string): CslEngine {
  const csl = plugins.config.get('@csl') as {engine: (data: unknown[], style: string, lang: string, format: string) => CslEngine};
  return csl.engine(data, style, lang, format);
}

function cslLang(lang: string): string {
  return lang === 'en' ? 'en-US' : lang;
}
