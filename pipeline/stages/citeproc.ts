/**
 * BibTeX in, CSL formatting out, with citation-js and its citeproc. Pure: text in, entries and
 * strings out. Runs in the build's thread or in a worker thread (citeproc-worker.ts); either
 * way the same functions give the same strings.
 *
 * citation-js is CommonJS and costs a few hundred milliseconds to load, so it is required when
 * first needed: a rebuild whose citations are all remembered never loads it.
 */
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);

export interface CiteItem {
  key: string;
  prefix?: string;
  locator?: string;
}

export interface CitationRequest {
  items: CiteItem[];
  mode: 'paren' | 'narrative';
}

/** A problem in a bibliography file, by source index and line. */
export interface BibProblem {
  source: number;
  line: number;
  reason: string;
  ruleId: string;
  fatal: boolean;
}

export interface ParsedBibliography {
  /** The entries as citeproc reads them (CSL-JSON, cleaned once), in the order kept. */
  csl: {id: string}[];
  problems: BibProblem[];
}

export interface References {
  citations: string[];
  bibliography: {key: string; html: string}[];
}

/** The parts of citation-js used here, as declared in pipeline/types.d.ts. */
type CitationJs = typeof import('@citation-js/core');

let citationJs: CitationJs | undefined;

function loadCitationJs(): CitationJs {
  if (!citationJs) {
    const core = require('@citation-js/core') as CitationJs;
    require('@citation-js/plugin-bibtex');
    require('@citation-js/plugin-csl');
    citationJs = core;
  }
  return citationJs;
}

/** Reads BibTeX sources; the first definition of a key wins. */
export function parseBibliography(sources: {text: string}[]): ParsedBibliography {
  // A book without a bibliography does not load citation-js at all.
  if (sources.length === 0) return {csl: [], problems: []};
  const {Cite, plugins} = loadCitationJs();
  const keys = new Set<string>();
  const data: unknown[] = [];
  const problems: BibProblem[] = [];
  sources.forEach((source, index) => {
    let entries: {id: string}[] = [];
    try {
      entries = new Cite(source.text).data;
    } catch (error) {
      problems.push({source: index, line: 1, reason: `Cannot read the bibliography: ${(error as Error).message.split('\n')[0]}`, ruleId: 'bibliography', fatal: true});
      return;
    }
    const read = new Set(entries.map((entry) => entry.id));
    // Lines of each key's declarations in this source, in order.
    const declared = new Map<string, number[]>();
    for (const match of source.text.matchAll(/^\s*@(\w+)\s*\{\s*([^,\s]+)\s*,/gm)) {
      const line = source.text.slice(0, match.index + match[0].indexOf('@')).split('\n').length;
      declared.set(match[2]!, [...(declared.get(match[2]!) ?? []), line]);
      if (!read.has(match[2]!)) {
        problems.push({source: index, line, reason: `Cannot read bibliography entry \`${match[2]}\``, ruleId: 'bibliography', fatal: false});
      }
    }
    const seen = new Map<string, number>();
    for (const entry of entries) {
      const occurrence = seen.get(entry.id) ?? 0;
      seen.set(entry.id, occurrence + 1);
      if (keys.has(entry.id)) {
        // The duplicate itself: the second declaration in this file, or the first if the
        // key was defined in an earlier file.
        const lines = declared.get(entry.id) ?? [];
        const line = lines[occurrence] ?? lines[0] ?? 1;
        problems.push({source: index, line, reason: `Duplicate citation key \`${entry.id}\`; the first definition is used`, ruleId: 'duplicate-citation-key', fatal: false});
        continue;
      }
      keys.add(entry.id);
      data.push(entry);
    }
  });
  // Cleaned once here: citation-js would clean every entry again on each `format` call.
  return {csl: data.length > 0 ? plugins.input.util.clean(data) : [], problems};
}

interface CslEngine {
  updateItems(ids: string[]): string[];
  makeCitationCluster(items: unknown[]): string;
  makeBibliography(): [{entry_ids: string[][]}, string[]];
  setOutputFormat(format: string): void;
}

/** citation-js's `prepareEngine` (engines are cached by style and locale, across calls). */
function cslEngine(csl: {id: string}[], style: string, lang: string, format: string): CslEngine {
  const {plugins} = loadCitationJs();
  const config = plugins.config.get('@csl') as {engine: (data: unknown[], style: string, lang: string, format: string) => CslEngine};
  return config.engine(csl, style, lang, format);
}

function cslLang(lang: string): string {
  return lang === 'en' ? 'en-US' : lang;
}

/** Builds the style's engine ahead of use (half a second for APA), e.g. while documents are parsed. */
export function prepareStyle(csl: {id: string}[], style: string, lang: string): void {
  cslEngine(csl, style, cslLang(lang), 'text');
}

/**
 * A registry filled ahead of time: the works a book is expected to cite (see
 * expectedCitations in bibliography.ts), registered and their bibliography formatted while the
 * chapters are still being parsed. citeprocFormat uses it only if the book cites exactly
 * these works in exactly this order (the order numbers citations in numeric styles).
 */
export interface Registry {
  cited: string[];
  engine: CslEngine;
  sorted: string[];
  bibliography: References['bibliography'];
  /** Texts of the expected citations, by requestKey. */
  formatted: Map<string, string>;
}

/** Equal for requests that format to the same text. */
export const requestKey = ({items, mode}: CitationRequest): string => JSON.stringify([items, mode]);

export function registerAhead(csl: {id: string}[], style: string, lang: string, expected: string[], requests: CitationRequest[] = []): Registry | undefined {
  const keys = new Set(csl.map((entry) => entry.id));
  const registered = new Set(expected.filter((key) => keys.has(key)));
  const cited = [...registered];
  if (cited.length === 0) return undefined;
  const engine = cslEngine(csl, style, cslLang(lang), 'text');
  const sorted = engine.updateItems(cited);
  const bibliography = entriesOf(engine, sorted);
  engine.setOutputFormat('text');
  const formatted = new Map<string, string>();
  for (const request of requests) {
    // As resolve.ts asks for it: only the works the bibliography has.
    const known = {items: request.items.filter((item) => keys.has(item.key)), mode: request.mode};
    if (known.items.length === 0 || !known.items.every((item) => registered.has(item.key))) continue;
    const key = requestKey(known);
    if (!formatted.has(key)) formatted.set(key, citationText(engine, known.items, known.mode));
  }
  return {cited, engine, sorted, bibliography, formatted};
}

/**
 * Every citation and the bibliography in one registry of the cited entries, so that citations
 * and bibliography agree when the style tells entries apart ("2020a", "2020b", or initials for
 * authors who share a surname). Citeproc's registry is filled once, not per citation (or was
 * filled ahead, `ahead`, with the same works, and the expected citations formatted).
 * "(Sculley et al., 2015, p. 3; Amershi et al., 2019)" or, narrative, "Sculley et al. (2015)".
 */
export function citeprocFormat(csl: {id: string}[], style: string, lang: string, requests: CitationRequest[], cited: string[], withBibliography = true, ahead?: Registry): References {
  if (csl.length === 0 || cited.length === 0) return {citations: requests.map(() => ''), bibliography: []};
  const ready = ahead && ahead.cited.length === cited.length && ahead.cited.every((key, i) => key === cited[i]) ? ahead : undefined;
  const engine = ready?.engine ?? cslEngine(csl, style, cslLang(lang), 'text');
  const sorted = ready?.sorted ?? engine.updateItems(cited);
  const citations = requests.map((request) => ready?.formatted.get(requestKey(request)) ?? citationText(engine, request.items, request.mode));
  if (!withBibliography) return {citations, bibliography: []};
  return {citations, bibliography: ready?.bibliography ?? entriesOf(engine, sorted)};
}

function entriesOf(engine: CslEngine, sorted: string[]): References['bibliography'] {
  engine.setOutputFormat('html');
  const [meta, html] = engine.makeBibliography();
  return html.map((entry, i) => ({
    key: meta.entry_ids[i]?.[0] ?? sorted[i]!,
    html: entry.trim().replace(/^<div class="csl-entry">([\s\S]*)<\/div>$/, '$1').trim(),
  }));
}

function citationText(engine: CslEngine, items: CiteItem[], mode: 'paren' | 'narrative'): string {
  const entry = items.map((item) => {
    const locator = parseLocator(item.locator);
    return {id: item.key, ...(locator ?? {}), ...(item.prefix ? {prefix: `${item.prefix} `} : {})};
  });
  const text = String(engine.makeCitationCluster(entry));
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
