/**
 * An mdBook project read as our book configuration: `book.toml` (title, authors, language,
 * description, the `src` folder) and `src/SUMMARY.md` (prefix chapters, `# Part` headings,
 * numbered chapters with nested sub-chapters, separators, drafts, suffix chapters) become a
 * BookConfig plus the list of documents. What mdBook has no field for (publisher, ISBN,
 * licence, cover, print settings…) comes from an optional `book.yaml` beside `book.toml`, so
 * nothing in the original repository has to change. Problems are messages at their line.
 */
import path from 'node:path';
import {execFileSync} from 'node:child_process';
import {parse as parseToml, TomlError} from 'smol-toml';
import {VFile} from 'vfile';
import {parseDocument, LineCounter, isNode, isMap, isScalar, type Node as YamlNode} from 'yaml';
import {bookSchema, type BookConfig} from '../../config/schema.ts';
import {readYaml} from '../../config/load.ts';
import {readInside, OutsideManuscriptError} from '../../io/files.ts';
import {parseSummary, type Summary, type SummaryEntry} from './summary.ts';

export type {Summary, SummaryEntry, SummaryPart} from './summary.ts';

/** mdBook settings that change how chapters are read. */
export interface MdBookSettings {
  /** Manuscript-relative folder of the chapters (`src` unless book.toml says otherwise). */
  src: string;
  /** `[output.html.code.hidelines]`: language → prefix of hidden lines (Rust's `# ` is built in). */
  hidelines: Record<string, string>;
  /** The `links` preprocessor runs (`{{#include}}` and friends): mdBook's default. */
  expandLinks: boolean;
  /** `[output.html] mathjax-support`: `\\( … \\)` is MathJax in the web edition. */
  mathjax: boolean;
  /** `[output.html] math = true` (mdBook 0.5): `$…$` and `$$…$$` are math, as in our Markdown. */
  math: boolean;
}

export interface MdBookProject {
  config: BookConfig;
  summary: Summary;
  settings: MdBookSettings;
  /** SUMMARY.md, for messages about entries (a missing file is reported at its line). */
  summaryFile: VFile;
  /** book.toml, for messages about the project as a whole. */
  tomlFile: VFile;
}

const BUILTIN_PREPROCESSORS = new Set(['links', 'index']);
const STRUCTURE_FIELDS = ['front', 'parts', 'back'] as const;

interface TomlBook {
  title?: string;
  authors: string[];
  description?: string;
  language?: string;
}

/** Reads book.toml. Unknown tables are ignored with one info message each kind. */
export function parseBookToml(text: string, displayPath: string): {file: VFile; book?: TomlBook; settings: MdBookSettings} {
  const file = new VFile({path: displayPath, value: text});
  const settings: MdBookSettings = {src: 'src', hidelines: {}, expandLinks: true, mathjax: false, math: false};
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const place = error instanceof TomlError ? {line: error.line, column: error.column} : undefined;
    file.message(`Malformed TOML: ${(error as Error).message.split('\n')[0]}`, {place, source: 'mdbook', ruleId: 'toml-syntax'}).fatal = true;
    return {file, settings};
  }
  const at = (pattern: RegExp) => {
    const index = text.search(pattern);
    if (index < 0) return undefined;
    const before = text.slice(0, index).split('\n');
    return {line: before.length, column: before.at(-1)!.length + 1};
  };
  const keyPlace = (key: string) => at(new RegExp(`^[ \\t]*["']?${key.replace(/[.-]/g, '\\$&')}["']?[ \\t]*=`, 'm'));
  const wrongType = (key: string, what: string) => {
    file.message(`\`${key}\` in book.toml must be ${what}`, {place: keyPlace(key.split('.').at(-1)!), source: 'mdbook', ruleId: 'mdbook-config'}).fatal = true;
  };
  const table = (value: unknown): Record<string, unknown> =>
    value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) ? value as Record<string, unknown> : {};

  const bookTable = table(data.book);
  const book: TomlBook = {authors: []};
  for (const key of ['title', 'description', 'language'] as const) {
    const value = bookTable[key];
    if (value === undefined) continue;
    if (typeof value === 'string') book[key] = value;
    else wrongType(`book.${key}`, 'text');
  }
  if (bookTable.authors !== undefined) {
    if (Array.isArray(bookTable.authors) && bookTable.authors.every((a) => typeof a === 'string')) {
      book.authors = (bookTable.authors as string[]).map((a) => a.trim()).filter(Boolean);
    } else wrongType('book.authors', 'a list of names, such as `["Ada Lovelace"]`');
  }
  if (bookTable.src !== undefined) {
    if (typeof bookTable.src === 'string' && bookTable.src.trim()) settings.src = path.posix.normalize(bookTable.src.replace(/\\/g, '/')).replace(/\/$/, '');
    else wrongType('book.src', 'a folder name');
  }
  if (bookTable['text-direction'] === 'rtl') {
    file.info('`text-direction = "rtl"` is not supported yet; the book is set left to right', {
      place: keyPlace('text-direction'), source: 'mdbook', ruleId: 'mdbook-unsupported',
    });
  }

  const build = table(data.build);
  const preprocessors = table(data.preprocessor);
  if (build['use-default-preprocessors'] === false && !('links' in preprocessors)) settings.expandLinks = false;
  const foreign = Object.keys(preprocessors).filter((name) => !BUILTIN_PREPROCESSORS.has(name));
  if (foreign.length > 0) {
    file.info(`mdBook preprocessors are not run here: ${foreign.map((n) => `\`${n}\``).join(', ')}; what they would change stays as written`, {
      place: at(new RegExp(`^\\s*\\[preprocessor\\.${foreign[0]!.replace(/[.-]/g, '\\$&')}`, 'm')), source: 'mdbook', ruleId: 'mdbook-preprocessor',
    });
  }

  const output = table(data.output);
  const html = table(output.html);
  const code = table(html.code);
  for (const [language, prefix] of Object.entries(table(code.hidelines))) {
    if (typeof prefix === 'string' && prefix) settings.hidelines[language] = prefix;
  }
  if (html.math === true) settings.math = true;
  if (html['mathjax-support'] === true) {
    settings.mathjax = true;
    file.info('`mathjax-support`: MathJax math (`\\\\( … \\\\)`, `\\\\[ … \\\\]`) is not typeset here and stays as written', {
      place: keyPlace('mathjax-support'), source: 'mdbook', ruleId: 'mdbook-unsupported',
    });
  }
  const outputs = Object.keys(output);
  if (outputs.length > 0) {
    const others = outputs.filter((name) => name !== 'html');
    file.info(`\`[output.*]\` settings are for mdBook's own renderers and are ignored${others.length ? ` (including ${others.map((n) => `\`${n}\``).join(', ')})` : ''}; \`[output.html.code.hidelines]\` is honoured`, {
      place: at(/^\s*\[output[.\]]/m), source: 'mdbook', ruleId: 'mdbook-output',
    });
  }
  const unknown = Object.keys(data).filter((key) => !['book', 'build', 'preprocessor', 'output', 'rust'].includes(key));
  if (unknown.length > 0) {
    file.info(`Ignored book.toml table${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `\`[${k}]\``).join(', ')}`, {
      place: at(new RegExp(`^\\s*\\[${unknown[0]!.replace(/[.-]/g, '\\$&')}`, 'm')), source: 'mdbook', ruleId: 'mdbook-config',
    });
  }
  return {file, book, settings};
}


/** The YAML node at a path, for messages at the right line of book.yaml. */
function yamlPlace(text: string, doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, keys: (string | number)[]) {
  let node: unknown;
  for (let depth = keys.length; depth >= 0 && !isNode(node); depth--) {
    node = depth === 0 ? doc.contents : doc.getIn(keys.slice(0, depth), true);
  }
  const range = isNode(node) ? (node as YamlNode).range : undefined;
  if (!range) return undefined;
  const start = lineCounter.linePos(range[0]);
  void text;
  return {line: start.line, column: start.col};
}

/**
 * The publication date when none is configured: SOURCE_DATE_EPOCH, else the last commit, else
 * the start of the epoch (never the clock: two builds of the same input must be identical).
 */
function defaultDate(root: string): {date: string; reproducible: boolean} {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d{1,12}$/.test(epoch.trim())) return {date: new Date(Number(epoch.trim()) * 1000).toISOString().slice(0, 10), reproducible: true};
  try {
    const out = execFileSync('git', ['log', '-1', '--format=%cs', '--', '.'], {cwd: root, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore']}).trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(out)) return {date: out, reproducible: true};
  } catch {
    // not a Git checkout, or no git: fall through
  }
  return {date: '1970-01-01', reproducible: false};
}

/** Where `src = …` is in book.toml, for messages about it. */
function placeOfSrc(tomlText: string): {line: number; column: number} | undefined {
  const index = tomlText.split('\n').findIndex((line) => /^\s*src\s*=/.test(line));
  return index < 0 ? undefined : {line: index + 1, column: 1};
}

/**
 * Reads book.toml, SUMMARY.md and the optional book.yaml of the project at `root`.
 * `show` turns a manuscript-relative path into the path shown in messages.
 */
export async function loadMdBookProject(root: string, show: (rel: string) => string): Promise<{project?: MdBookProject; files: VFile[]}> {
  const files: VFile[] = [];
  // Every read confined to the project folder (a link to elsewhere, `src = ".."`: refused).
  let tomlText: string;
  try {
    tomlText = (await readInside(root, 'book.toml')).bytes.toString('utf8');
  } catch (error) {
    const file = new VFile({path: show('book.toml')});
    file.message(error instanceof OutsideManuscriptError
      ? '`book.toml` links to a file outside the book folder; the build reads only files inside it'
      : 'Cannot read `book.toml`', {source: 'mdbook', ruleId: error instanceof OutsideManuscriptError ? 'outside-manuscript' : 'missing-file'}).fatal = true;
    return {files: [file]};
  }
  const {file: tomlFile, book, settings} = parseBookToml(tomlText, show('book.toml'));
  files.push(tomlFile);
  if (!book) return {files};

  const summaryRel = path.posix.join(settings.src, 'SUMMARY.md');
  let summaryText: string;
  try {
    summaryText = (await readInside(root, summaryRel)).bytes.toString('utf8');
  } catch (error) {
    if (error instanceof OutsideManuscriptError) {
      tomlFile.message(`\`${summaryRel}\` is outside the book folder (see \`src\` in book.toml); the build reads only files inside it`, {
        place: placeOfSrc(tomlText), source: 'mdbook', ruleId: 'outside-manuscript',
      }).fatal = true;
      return {files};
    }
    tomlFile.message(`Cannot find \`${summaryRel}\`: an mdBook project lists its chapters in SUMMARY.md inside its \`src\` folder`, {
      source: 'mdbook', ruleId: 'missing-file',
    }).fatal = true;
    return {files};
  }
  const {file: summaryFile, summary} = parseSummary(summaryText, show(summaryRel), settings.src);
  files.push(summaryFile);

  // book.yaml beside book.toml: anything of our schema except the structure (SUMMARY.md's job).
  let yamlData: Record<string, unknown> = {};
  let yamlFile: VFile | undefined;
  let yamlPlaceOf: ((keys: (string | number)[]) => {line: number; column: number} | undefined) | undefined;
  let yamlText: string | undefined;
  try {
    yamlText = (await readInside(root, 'book.yaml')).bytes.toString('utf8');
  } catch (error) {
    if (error instanceof OutsideManuscriptError) {
      const file = new VFile({path: show('book.yaml')});
      file.message('`book.yaml` links to a file outside the book folder; the build reads only files inside it', {
        source: 'mdbook', ruleId: 'outside-manuscript',
      }).fatal = true;
      return {files: [...files, file]};
    }
    yamlText = undefined;
  }
  if (yamlText !== undefined) {
    yamlFile = new VFile({path: show('book.yaml'), value: yamlText});
    files.push(yamlFile);
    const {doc, lineCounter, value} = readYaml(yamlText, yamlFile);
    yamlPlaceOf = (keys) => yamlPlace(yamlText!, doc, lineCounter, keys);
    if (yamlFile.messages.length > 0) return {files};
    if (value != null && (typeof value !== 'object' || Array.isArray(value))) {
      yamlFile.message('book.yaml beside book.toml is a mapping of fields such as `publisher:` and `license:`', {place: {line: 1, column: 1}, source: 'book', ruleId: 'config-schema'}).fatal = true;
      return {files};
    }
    yamlData = (value ?? {}) as Record<string, unknown>;
    for (const field of STRUCTURE_FIELDS) {
      if (!(field in yamlData)) continue;
      const node = doc.contents && isMap(doc.contents) ? doc.contents.items.find((pair) => isScalar(pair.key) && pair.key.value === field) : undefined;
      const range = node && isScalar(node.key) ? node.key.range : undefined;
      const pos = range ? lineCounter.linePos(range[0]) : undefined;
      yamlFile.message(`\`${field}\` is not used for an mdBook project: the chapters and their order come from ${summaryRel}`, {
        place: pos ? {line: pos.line, column: pos.col} : undefined, source: 'book', ruleId: 'config-schema',
      });
      delete yamlData[field];
    }
  }

  // book.toml's values, then book.yaml's on top.
  const base: Record<string, unknown> = {};
  const tomlFields = new Set<string>();
  if (book.title) base.title = book.title, tomlFields.add('title');
  if (book.description) base.description = book.description, tomlFields.add('description');
  base.language = book.language ?? 'en';
  if (book.language) tomlFields.add('language');
  if (book.authors.length > 0) base.authors = book.authors.map((name) => ({name})), tomlFields.add('authors');
  if (!('title' in yamlData) && !book.title) {
    const name = path.basename(root);
    base.title = name;
    tomlFile.message(`book.toml has no \`title\` in \`[book]\`; the folder name “${name}” is used`, {source: 'mdbook', ruleId: 'mdbook-config'});
  }
  if (!('authors' in yamlData) && book.authors.length === 0) {
    base.authors = [{name: 'Anonymous'}];
    tomlFile.message('book.toml names no `authors` in `[book]`; the book is credited to “Anonymous”', {source: 'mdbook', ruleId: 'mdbook-config'});
  }
  if (!('date' in yamlData)) {
    const {date, reproducible} = defaultDate(root);
    base.date = date;
    if (!reproducible) {
      tomlFile.info(`No publication date: ${date} is used; give \`date:\` in book.yaml or set SOURCE_DATE_EPOCH`, {
        source: 'mdbook', ruleId: 'mdbook-date',
      });
    }
  }
  const merged = {...base, ...yamlData};
  const hasLicense = 'license' in yamlData;
  const schema = hasLicense ? bookSchema.omit({front: true, parts: true, back: true}) : bookSchema.omit({front: true, parts: true, back: true, license: true});
  const result = schema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const keys = issue.path as (string | number)[];
      const top = String(keys[0] ?? '');
      const fromYaml = yamlFile && (top === '' ? issue.code === 'unrecognized_keys' : top in yamlData);
      let message: string;
      if (issue.code === 'unrecognized_keys') {
        message = `Unknown field${(issue as {keys: string[]}).keys.length > 1 ? 's' : ''} ${(issue as {keys: string[]}).keys.map((k) => `\`${[...keys, k].join('.')}\``).join(', ')}`;
      } else {
        message = `Invalid \`${keys.join('.') || 'book'}\`: ${issue.message.replace(/^Invalid input: /, '')}`;
      }
      if (fromYaml && yamlFile) {
        const place = issue.code === 'unrecognized_keys'
          ? yamlPlaceOf?.([...keys, (issue as {keys: string[]}).keys[0]!])
          : yamlPlaceOf?.(keys);
        yamlFile.message(message, {place, source: 'book', ruleId: 'config-schema'}).fatal = true;
      } else {
        const place = tomlFields.has(top) ? (() => {
          const index = tomlText.search(new RegExp(`^[ \\t]*${top}[ \\t]*=`, 'm'));
          if (index < 0) return undefined;
          const before = tomlText.slice(0, index).split('\n');
          return {line: before.length, column: before.at(-1)!.length + 1};
        })() : undefined;
        tomlFile.message(`${message} (from book.toml)`, {place, source: 'mdbook', ruleId: 'mdbook-config'}).fatal = true;
      }
    }
    return {files};
  }

  const data = result.data as Omit<BookConfig, 'front' | 'parts' | 'back' | 'license'> & {license?: BookConfig['license']};
  const year = data.date.slice(0, 4);
  const names = data.authors.map((a) => a.name).join(', ');
  // No licence given: a neutral copyright line, with no licence URL (mdBook has no such field).
  const license = data.license ?? {name: `Copyright © ${year} ${names}`, short: `© ${year} ${names}`, url: ''};
  if (!data.license) {
    tomlFile.info(`No licence given: the copyright page says “Copyright © ${year} ${names}”; add \`license:\` (name, short, url) to a book.yaml beside book.toml to state one`, {
      source: 'mdbook', ruleId: 'mdbook-license',
    });
  }
  const files_ = (entries: SummaryEntry[]): string[] => entries.flatMap((e) => [...(e.path ? [e.path] : []), ...files_(e.children)]);
  const config: BookConfig = {
    ...data,
    license,
    front: files_(summary.prefix),
    parts: summary.parts.filter((p) => p.title).map((p) => ({title: p.title!, chapters: files_(p.chapters)})),
    back: files_(summary.suffix),
  };
  return {project: {config, summary, settings, summaryFile, tomlFile}, files};
}
