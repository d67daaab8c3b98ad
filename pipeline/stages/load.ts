/**
 * The input edge: reads book.yaml and every file it names (confined to the manuscript),
 * then runs the pure stages to produce the Book. Problems are messages on files.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import {VFile} from 'vfile';
import {parse as parseYaml} from 'yaml';
import type {Element} from 'hast';
import type {Asset, Book, Doc, Label, Part} from '../model.ts';
import type {BookConfig} from '../config/schema.ts';
import {parseConfig} from '../config/load.ts';
import {readInside, OutsideManuscriptError} from '../io/files.ts';
import {parseDoc, type DocInput, type ImageRef, type ParsedDoc} from './markdown.ts';
import {openBibliography, formatReferences, closeBibliography, expectedCitations} from './bibliography.ts';
import {resolveBook, attachReferences, glossaryFromYaml} from './resolve.ts';
import {loadAssets, type ImageMemo} from './assets.ts';

export interface Loaded {
  book?: Book;
  /** Every file with messages, for the report. */
  files: VFile[];
}

const ROMAN = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII', 'XIII', 'XIV', 'XV'];

/** Hooks for a build cache (pipeline/cache/); without them every document is parsed here. */
export interface LoadOptions {
  /** Parses the documents, results in the same order (the cache serves unchanged ones). */
  parseDocs?: (inputs: DocInput[]) => Promise<ParsedDoc[]>;
  /** Formatted citations to reuse for these bibliography sources and style (the cache keeps them). */
  citationMemo?: (sources: {path: string; text: string}[], style: string) => Map<string, string>;
  /** What is learnt from images' bytes (the cache keeps it; checking large SVGs takes a while). */
  imageMemo?: ImageMemo;
  /**
   * Called with each image measured afresh (unknown to `imageMemo`) as soon as it is read, with
   * the book's configuration: the build starts scaling it for its targets.
   */
  onFreshImage?: (asset: Asset, config: BookConfig) => void;
}

export async function loadBook(manuscript: string, options: LoadOptions = {}): Promise<Loaded> {
  const root = path.resolve(manuscript);
  // [mdbook] A folder with book.toml is an mdBook project (SUMMARY.md lists the chapters; a
  // book.yaml beside it only adds metadata): see pipeline/stages/mdbook-preprocess.ts.
  // Loaded only for such projects (a fifth of the pipeline's code).
  if (await isFile(path.join(root, 'book.toml'))) return (await import('./mdbook-preprocess.ts')).loadMdBook(manuscript, options);
  const configPath = path.join(root, 'book.yaml');
  const files: VFile[] = [];
  let configText: string;
  try {
    // Confined like every other read: a book.yaml that links outside the folder is refused.
    configText = (await readInside(root, 'book.yaml')).bytes.toString('utf8');
  } catch (error) {
    const file = new VFile({path: path.relative(process.cwd(), configPath) || 'book.yaml'});
    file.message(error instanceof OutsideManuscriptError
      ? `book.yaml in \`${manuscript}\` links to a file outside the manuscript folder; the build reads only files inside it`
      : `Cannot find book.yaml in \`${manuscript}\`; a manuscript folder holds book.yaml and the chapters`, {
      source: 'book', ruleId: error instanceof OutsideManuscriptError ? 'outside-manuscript' : 'missing-config',
    }).fatal = true;
    return {files: [file]};
  }
  const displayRoot = path.relative(process.cwd(), root) || '.';
  const show = (rel: string) => path.join(displayRoot, rel);
  const {file: configFile, config} = parseConfig(configText, show('book.yaml'));
  files.push(configFile);
  if (!config) return {files};

  // Which YAML node names a file, so a missing file is reported at its line in book.yaml.
  const configLine = (value: string) => {
    const index = configText.indexOf(value);
    if (index < 0) return undefined;
    const before = configText.slice(0, index).split('\n');
    return {start: {line: before.length, column: before.at(-1)!.length + 1}, end: {line: before.length, column: before.at(-1)!.length + 1 + value.length}};
  };
  const read = async (rel: string): Promise<string | undefined> => {
    try {
      return (await readInside(root, rel)).bytes.toString('utf8');
    } catch (error) {
      const why = error instanceof OutsideManuscriptError ? 'is outside the manuscript folder' : 'does not exist';
      configFile.message(`\`${rel}\` ${why}`, {place: configLine(rel), source: 'book', ruleId: 'missing-file'}).fatal = true;
      return undefined;
    }
  };

  const inputs: DocInput[] = [];
  const parts: Part[] = [];
  const stem = (rel: string) => path.posix.basename(rel, '.md').replace(/[^A-Za-z0-9-]/g, '-');
  for (const rel of config.front) {
    const text = await read(rel);
    if (text !== undefined) inputs.push({id: `front-${stem(rel)}`, kind: 'front', path: rel, text});
  }
  let number = 0;
  for (const [partIndex, part] of config.parts.entries()) {
    const docIds: string[] = [];
    for (const rel of part.chapters) {
      number++;
      const text = await read(rel);
      const id = `ch${String(number).padStart(2, '0')}`;
      docIds.push(id);
      if (text !== undefined) inputs.push({id, kind: 'chapter', path: rel, text, number, partIndex});
    }
    parts.push({title: part.title, label: `Part ${ROMAN[partIndex] ?? partIndex + 1}`, id: `part${partIndex + 1}`, docIds,
      ...(part.alt ? {alt: part.alt} : {})});
  }
  for (const rel of config.back) {
    const text = await read(rel);
    if (text !== undefined) inputs.push({id: `back-${stem(rel)}`, kind: 'back', path: rel, text});
  }

  const bibSources: {path: string; text: string}[] = [];
  for (const rel of config.bibliography) {
    const text = await read(rel);
    if (text !== undefined) bibSources.push({path: show(rel), text});
  }
  const glossaryFiles: {path: string; data: unknown; file: VFile}[] = [];
  for (const rel of config.glossary) {
    const text = await read(rel);
    if (text === undefined) continue;
    const file = new VFile({path: show(rel), value: text});
    files.push(file);
    try {
      glossaryFiles.push({path: rel, data: parseYaml(text), file});
    } catch (error) {
      file.message(`Malformed YAML: ${(error as Error).message.split('\n')[0]}`, {source: 'book', ruleId: 'yaml-syntax'}).fatal = true;
    }
  }

  // The bibliography is read (on a cold build, in a worker thread) while the chapters are parsed.
  const opening = openBibliography(bibSources, config.citationStyle, config.language, options.citationMemo?.(bibSources, config.citationStyle),
    () => expectedCitations(inputs.map((input) => input.text)));

  // Pure stages.
  const docs: Doc[] = [];
  const labels: Label[] = [];
  const images: ImageRef[] = [];
  const docInputs = inputs.map((input) => ({...input, displayPath: show(input.path)}));
  const parsedDocs = options.parseDocs ? await options.parseDocs(docInputs) : docInputs.map((input) => parseDoc(input));
  for (const parsed of parsedDocs) {
    docs.push(parsed.doc);
    labels.push(...parsed.labels);
    images.push(...parsed.images);
    files.push(parsed.doc.file);
  }
  const bibliography = await opening;
  files.push(...bibliography.files);
  try {
    const resolved = resolveBook({
      docs, labels, bibliography, glossary: glossaryFromYaml(glossaryFiles), language: config.language, deferReferences: true,
    });
    // Citations are formatted (in the worker thread, if one was started) while images are checked.
    const formatting = formatReferences(bibliography, resolved.citations, resolved.citedKeys, config.language);

    // Images: chapters' and the configuration's (cover, part pages).
    const fileOf = new Map(docs.map((doc) => [doc.id, doc.file]));
    const refs: {path: string; node?: Element; file: VFile}[] = images.map((ref) => ({
      path: ref.path, node: ref.node, file: fileOf.get(ref.docId)!,
    }));
    if (config.cover) refs.push({path: path.posix.normalize(config.cover.image), file: configFile});
    config.parts.forEach((part) => {
      if (part.image) refs.push({path: path.posix.normalize(part.image), file: configFile});
    });
    const onFresh = options.onFreshImage;
    const assets = await loadAssets(root, refs, options.imageMemo, onFresh && ((asset) => onFresh(asset, config)));
    attachReferences(resolved, await formatting);
    config.parts.forEach((part, i) => {
      const image = part.image ? assets.get(path.posix.normalize(part.image)) : undefined;
      if (image) parts[i]!.image = image;
    });

    const book: Book = {
      config, root, docs: resolved.docs, parts, assets,
      ...(config.cover && assets.get(path.posix.normalize(config.cover.image)) ? {cover: assets.get(path.posix.normalize(config.cover.image))!} : {}),
      labels: resolved.labels, ids: resolved.ids, bibliography: [],
      glossary: [], index: resolved.index,
    };
    return {book, files};
  } finally {
    closeBibliography(bibliography);
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** True when any message is an error (fatal). */
export function hasErrors(files: VFile[]): boolean {
  return files.some((file) => file.messages.some((message) => message.fatal === true));
}
