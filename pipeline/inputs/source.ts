/**
 * What a reader makes of a manuscript folder: one plain BookSource, the same shape for every
 * input dialect (book.yaml manuscripts, mdBook projects). `assemble` turns it into the Book.
 */
import {VFile} from 'vfile';
import {parse as parseYaml} from 'yaml';
import type {BookConfig} from '../config/schema.ts';
import type {DocKind} from '../model.ts';
import {roman} from '../util/roman.ts';

/**
 * How the Markdown stage reads a dialect. Our manuscripts use every extension; an mdBook
 * project is read as mdBook reads it (`$` is a dollar sign, `@name` is text, a lone image is
 * an image, `:::` is text, `.hidden` is not shown, "Chapter 1" labels are the book's own).
 */
export interface Dialect {
  /** `$…$` and `$$…$$` are math (remark-math). */
  math: boolean;
  /** `@key` and `[@key]` are citations. */
  citations: boolean;
  /** A paragraph of one image is a numbered figure, its alt text the caption. */
  implicitFigures: boolean;
  /** `:::note`, `::include`, `:term[…]` are directives (remark-directive). */
  directives: boolean;
  /** Elements of class `hidden` are left out (mdBook's stylesheet hides them). */
  hiddenClass: boolean;
  /** A "Chapter N" label at the top of chapter N is left out (the book prints its own). */
  chapterLabels: boolean;
  /** Chapter labels (`@ch-name`) come from file names that may repeat (a `README.md` in every folder): the first wins. */
  repeatedFileNames: boolean;
}

export const MANUSCRIPT_DIALECT: Dialect = {
  math: true, citations: true, implicitFigures: true, directives: true, hiddenClass: false, chapterLabels: false, repeatedFileNames: false,
};

/** Where a line of a document's text came from: a manuscript-relative file and its line. */
export interface Origin {
  path: string;
  line: number;
}

/** One document as the Markdown stage reads it. */
export interface DocInput {
  id: string;
  kind: DocKind;
  /** Manuscript-relative path of the Markdown file. */
  path: string;
  /** Path shown in messages (relative to the working directory). */
  displayPath?: string;
  text: string;
  number?: number;
  partIndex?: number;
  /** How to read it; our manuscripts' dialect when absent. */
  dialect?: Dialect;
}

export interface DocSource extends DocInput {
  /** Where each line of `text` came from, when the reader put it together from several files. */
  origins?: Origin[];
}

export interface PartSource {
  title: string;
  /** "Part I". */
  label: string;
  id: string;
  docIds: string[];
  alt?: string;
  /** Manuscript-relative path of the part page's image. */
  image?: string;
}

export interface BookSource {
  /** Absolute path of the manuscript folder. */
  root: string;
  /** The manuscript folder as messages show it (relative to the working directory). */
  displayRoot: string;
  config: BookConfig;
  /** Where problems with files the configuration names are reported (book.yaml, book.toml). */
  configFile: VFile;
  parts: PartSource[];
  docs: DocSource[];
  bibliography: {path: string; text: string}[];
  glossary: {path: string; data: unknown; file: VFile}[];
  /** Every file with messages so far, for the report. */
  files: VFile[];
}

/** What a reader gives back: the source, unless a problem stops the build before the chapters. */
export interface ReadResult {
  source?: BookSource;
  files: VFile[];
}

/** "Part I", "Part II" … for the part at `index` (0-based). */
export function partLabel(index: number): string {
  return `Part ${roman(index + 1).toUpperCase()}`;
}

/** `front-preface` from `front/preface.md`: the id of a document named after its file. */
export function stemId(prefix: string, rel: string): string {
  return `${prefix}-${rel.split('/').at(-1)!.replace(/\.md$/, '').replace(/[^A-Za-z0-9-]/g, '-')}`;
}

/**
 * The bibliography and glossary files a configuration names, read with the reader's own `read`
 * (which says on the configuration why a file cannot be read) and shown as `show` names them;
 * each glossary file's VFile goes to `register`, to carry its messages.
 */
export async function readReferenceFiles(
  config: {bibliography: string[]; glossary: string[]},
  read: (rel: string) => Promise<string | undefined>,
  show: (rel: string) => string,
  register: (rel: string, file: VFile) => void,
): Promise<Pick<BookSource, 'bibliography' | 'glossary'>> {
  const bibliography: BookSource['bibliography'] = [];
  for (const rel of config.bibliography) {
    const text = await read(rel);
    if (text !== undefined) bibliography.push({path: show(rel), text});
  }
  const glossary: BookSource['glossary'] = [];
  for (const rel of config.glossary) {
    const text = await read(rel);
    if (text === undefined) continue;
    const {file, entry} = readGlossaryFile(rel, text, show(rel));
    register(rel, file);
    if (entry) glossary.push(entry);
  }
  return {bibliography, glossary};
}

/** A glossary file named by the configuration, parsed; `entry` is missing when its YAML is malformed (said on its file). */
export function readGlossaryFile(rel: string, text: string, displayPath: string): {file: VFile; entry?: {path: string; data: unknown; file: VFile}} {
  const file = new VFile({path: displayPath, value: text});
  try {
    return {file, entry: {path: rel, data: parseYaml(text), file}};
  } catch (error) {
    file.message(`Malformed YAML: ${(error as Error).message.split('\n')[0]}`, {source: 'book', ruleId: 'yaml-syntax'}).fatal = true;
    return {file};
  }
}
