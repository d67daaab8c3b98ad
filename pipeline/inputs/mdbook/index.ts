/**
 * The mdBook reader: a folder with book.toml becomes a BookSource (see config.ts for book.toml,
 * summary.ts for SUMMARY.md and book.yaml). Each chapter is read as mdBook reads it:
 *
 * - mdBook's own syntax is expanded (includes.ts); hidden lines of code are left out (code.ts).
 * - What means something else to our Markdown stage is read in mdBook's dialect: `$` is a
 *   dollar sign (unless book.toml turns math on), `@name` is text (unless book.yaml names a
 *   bibliography), a lone image is an image (not a numbered figure), `:::` is text, `.hidden`
 *   is not shown, a "Chapter 1" label of the online edition is left out.
 * - Structure follows SUMMARY.md: prefix chapters are front matter, suffix chapters back matter,
 *   numbered chapters keep mdBook's numbers, drafts are skipped. A nested sub-chapter is appended
 *   to its top-level chapter as a section: its headings move down one level per level of nesting,
 *   so 1.2 is an `##` section of chapter 1 (numbered 1.2, in the contents and PDF bookmarks) and
 *   1.2.1 an `###` subsection ("1.2.1 Title"). A chapter's own `##` headings are unnumbered, as
 *   in mdBook, so the only numbers are SUMMARY.md's (prepare.ts).
 * - Links are rewritten for that structure (links.ts, references.ts).
 *
 * Every message points at the author's file and line, also for text that came from an include
 * or was merged into another chapter (each document keeps an origin per line). Unsupported
 * things are reported once per kind.
 */
import path from 'node:path';
import type {Nodes} from 'mdast';
import type {DocKind} from '../../model.ts';
import {readInside, OutsideManuscriptError} from '../../io/files.ts';
import {visit} from '../../util/visit.ts';
import {mappedText, type Origin} from '../origins.ts';
import {partLabel, stemId as stemIdOf, readReferenceFiles, type BookSource, type Dialect, type DocSource, type PartSource, type ReadResult} from '../source.ts';
import {loadMdBookProject, type SummaryEntry} from './config.ts';
import {SourceFiles, Notes} from './notes.ts';
import {expandHelpers} from './includes.ts';
import {analyse, headingsOf, type DocPlan, type Page} from './page.ts';
import type {BookPages} from './links.ts';
import {preparePage} from './prepare.ts';

const posix = path.posix;

const RESERVED_IDS = new Set(['back-glossary', 'back-bibliography', 'back-index']);

/** Reads an mdBook project (a folder with book.toml). */
export async function readMdBook(manuscript: string): Promise<ReadResult> {
  const root = path.resolve(manuscript);
  const displayRoot = path.relative(process.cwd(), root) || '.';
  const show = (rel: string) => path.join(displayRoot, rel);
  const {project, files: configFiles} = await loadMdBookProject(root, show);
  if (!project) return {files: configFiles};
  const {config, summary, settings, summaryFile} = project;
  const summaryRel = posix.join(settings.src, 'SUMMARY.md');
  const sources = new SourceFiles(show);
  sources.register(summaryRel, summaryFile);
  sources.register('book.toml', project.tomlFile);
  const notes = new Notes();
  const texts = new Map<string, string>();
  const read = async (rel: string): Promise<{text: string} | {error: string}> => {
    const known = texts.get(rel);
    if (known !== undefined) return {text: known};
    try {
      const text = (await readInside(root, rel)).bytes.toString('utf8');
      texts.set(rel, text);
      return {text};
    } catch (error) {
      return {error: error instanceof OutsideManuscriptError ? 'it is outside the book folder' : `\`${rel}\` does not exist`};
    }
  };

  // Documents from SUMMARY.md.
  const docs: DocPlan[] = [];
  const seen = new Set<string>();
  const usedIds = new Set<string>();
  const stemId = (prefix: string, rel: string) => {
    const base = stemIdOf(prefix, rel);
    let id = base;
    for (let n = 2; usedIds.has(id) || RESERVED_IDS.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  const draftNote = (entry: SummaryEntry, what: string) => {
    summaryFile.info(`Draft chapter “${entry.title}”${entry.number ? ` (${entry.number.join('.')})` : ''} has no file: ${what}`, {
      place: entry.place, source: 'mdbook', ruleId: 'mdbook-draft',
    });
  };
  // Pages are planned first (text read later): [entry, depth] in reading order per document.
  const plan = (entries: SummaryEntry[], kind: DocKind, partIndex?: number) => {
    for (const entry of entries) {
      const flat: {entry: SummaryEntry; depth: number}[] = [];
      const printable = (e: SummaryEntry): boolean => Boolean(e.path) || e.children.some(printable);
      const walk = (e: SummaryEntry, depth: number) => {
        if (e.path && seen.has(e.path)) {
          summaryFile.message(`\`${e.path}\` is listed twice in SUMMARY.md; only its first entry is used`, {place: e.place, source: 'mdbook', ruleId: 'mdbook-summary'}).fatal = false;
        } else if (!printable(e)) {
          draftNote(e, e.children.length > 0 ? 'it and its sub-chapters (drafts too) are left out' : 'it is left out');
          return;
        } else {
          if (e.path) seen.add(e.path);
          else draftNote(e, 'only its title is printed, before its sub-chapters');
          flat.push({entry: e, depth});
        }
        e.children.forEach((child) => walk(child, depth + 1));
      };
      walk(entry, 0);
      // Nothing to print, or the chapter was listed before (its sub-chapters were reported with it).
      if (flat.length === 0 || flat[0]!.entry !== entry) continue;
      const docPath = flat.find((f) => f.entry.path)?.entry.path;
      if (!docPath) continue;
      const number = kind === 'chapter' ? entry.number?.[0] : undefined;
      const id = kind === 'chapter' ? `ch${String(number).padStart(2, '0')}` : stemId(kind, docPath);
      const subNumbers = flat.filter((f) => f.depth === 1).map((f) => f.entry.number?.at(-1));
      const doc: DocPlan = {
        id, kind, path: docPath, pages: [],
        sectionNumbers: subNumbers.every((n, i) => n === i + 1),
        ...(number !== undefined ? {number} : {}),
        ...(partIndex !== undefined ? {partIndex} : {}),
      };
      flat.forEach((f, index) => doc.pages.push({
        entry: f.entry, ...(f.entry.path ? {path: f.entry.path} : {}), depth: f.depth, index, doc,
        text: {lines: [], origins: []}, tree: {type: 'root', children: []}, source: '', headings: [], titleIndex: -1, h1Count: 0, ids: new Map(),
      }));
      docs.push(doc);
    }
  };
  plan(summary.prefix, 'front');
  const parts: PartSource[] = [];
  let partCount = 0;
  for (const part of summary.parts) {
    const index = part.title ? partCount : undefined;
    const before = docs.length;
    plan(part.chapters, 'chapter', index);
    if (part.title && docs.length > before) {
      parts.push({title: part.title, label: partLabel(partCount), id: `part${partCount + 1}`, docIds: docs.slice(before).map((d) => d.id)});
      partCount++;
    }
  }
  plan(summary.suffix, 'back');

  // Read and expand every page; learn its headings.
  const book: BookPages = {pages: new Map(), src: settings.src};
  for (const doc of docs) {
    const pages: Page[] = [];
    for (const page of doc.pages) {
      if (page.path) {
        const result = await read(page.path);
        if ('error' in result) {
          summaryFile.message(`Cannot read chapter “${page.entry.title}”: ${result.error}`, {place: page.entry.place, source: 'mdbook', ruleId: 'missing-file'}).fatal = true;
          continue;
        }
        sources.get(page.path);
        page.text = settings.expandLinks
          ? await expandHelpers(result.text, page.path, {read, files: sources, notes})
          : mappedText(result.text, page.path);
      } else {
        page.text = {lines: [''], origins: [{path: summaryRel, line: page.entry.place.line}]};
      }
      Object.assign(page, analyse(page.text));
      page.headings = headingsOf(page.tree);
      page.titleIndex = page.headings.findIndex((h) => h.node.depth === 1);
      page.h1Count = page.headings.filter((h) => h.node.depth === 1).length;
      pages.push(page);
    }
    pages.forEach((page, index) => {
      page.index = index;
      for (const heading of page.headings) {
        // Our ids hold a `.`, which neither mdBook's nor the Markdown stage's ids have: no clashes.
        const safe = heading.mdbookId.replace(/[^\w-]/g, (c) => `_${c.codePointAt(0)!.toString(16)}`);
        page.ids.set(heading.mdbookId, heading.attributes?.id ?? (index === 0 ? `${doc.id}.${safe}` : `${doc.id}.${index}.${safe}`));
      }
      if (index > 0) page.titleId = page.titleIndex >= 0 ? page.ids.get(page.headings[page.titleIndex]!.mdbookId) : `${doc.id}.${index}..title`;
      if (page.path) book.pages.set(page.path, page);
    });
    doc.pages = pages;
  }
  const liveDocs = docs.filter((doc) => doc.pages.some((p) => p.path));

  // Labels (footnotes, link references) defined by more than one page of a document get a page prefix.
  const dialect: Dialect = {
    math: settings.math, citations: config.bibliography.length > 0, implicitFigures: false, directives: false,
    hiddenClass: true, chapterLabels: true, repeatedFileNames: true,
  };
  const inputs: DocSource[] = [];
  for (const doc of liveDocs) {
    const definedBy = new Map<string, Set<number>>();
    for (const page of doc.pages) {
      visit(page.tree, (node: Nodes) => {
        if (node.type === 'definition' || node.type === 'footnoteDefinition') {
          const key = `${node.type === 'footnoteDefinition' ? '^' : ''}${node.identifier.toLowerCase()}`;
          definedBy.set(key, (definedBy.get(key) ?? new Set()).add(page.index));
        }
      });
    }
    const renames = new Map<string, string>();
    for (const [key, pages] of definedBy) {
      if (pages.size < 2) continue;
      for (const index of pages) {
        if (index === 0) continue;
        const label = key.startsWith('^') ? `^p${index}-${key.slice(1)}` : `p${index}-${key}`;
        renames.set(`${index}\u0000${key}`, label);
      }
    }
    const lines: string[] = [];
    const origins: Origin[] = [];
    for (const page of doc.pages) {
      const prepared = preparePage(page, {book, settings, files: sources, notes, summaryRel, renames});
      if (lines.length > 0) {
        lines.push('');
        origins.push(origins.at(-1)!);
      }
      lines.push(...prepared.lines);
      origins.push(...prepared.origins);
    }
    inputs.push({
      id: doc.id, kind: doc.kind, path: doc.path, text: `${lines.join('\n')}\n`, origins, dialect,
      ...(doc.number !== undefined ? {number: doc.number} : {}),
      ...(doc.partIndex !== undefined ? {partIndex: doc.partIndex} : {}),
    });
  }
  notes.flush();

  // Bibliography and glossary, when book.yaml names them.
  const configFile = sources.byPath.get('book.yaml') ?? configFiles.find((f) => f.path === show('book.yaml')) ?? project.tomlFile;
  const readConfigured = async (rel: string) => {
    const result = await read(rel);
    if ('error' in result) {
      configFile.message(`\`${rel}\` named in book.yaml cannot be read: ${result.error}`, {source: 'book', ruleId: 'missing-file'}).fatal = true;
      return undefined;
    }
    return result.text;
  };
  const {bibliography, glossary} = await readReferenceFiles(config, readConfigured, show, (rel, file) => sources.register(rel, file));

  const files = [...configFiles, ...[...sources.byPath.values()].filter((f) => !configFiles.includes(f))];
  const source: BookSource = {
    root, displayRoot, config, configFile, parts, docs: inputs, bibliography, glossary, files,
  };
  return {source, files};
}
