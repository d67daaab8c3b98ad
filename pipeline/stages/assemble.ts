/**
 * One BookSource (from any reader in pipeline/inputs/) → the Book: the Markdown stage for every
 * document, the bibliography, the book-wide resolution and the images, with the build cache's
 * hooks in this one place. Messages of documents a reader put together from several files go
 * back to the author's files and lines at the end.
 */
import path from 'node:path';
import type {VFile} from 'vfile';
import type {Element} from 'hast';
import type {Asset, Book, Doc, Label} from '../model.ts';
import type {BookConfig} from '../config/schema.ts';
import type {BookSource, DocInput} from '../inputs/source.ts';
import {parseDoc, type ImageRef, type ParsedDoc} from './markdown.ts';
import {openBibliography, formatCitations, closeBibliography, expectedCitations} from './bibliography.ts';
import {resolveBook, attachReferences, glossaryFromYaml} from './resolve.ts';
import {loadAssets, type ImageMemo} from './assets.ts';
import {remapMessages} from '../inputs/origins.ts';
import {VFile as VFileClass} from 'vfile';

/** Hooks for a build cache (pipeline/cache/); without them every document is parsed here. */
export interface AssembleHooks {
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

export interface Assembled {
  book?: Book;
  /** Every file with messages, for the report. */
  files: VFile[];
}

export async function assemble(source: BookSource, hooks: AssembleHooks = {}): Promise<Assembled> {
  const {config, root} = source;
  const files = [...source.files];
  const show = (rel: string) => path.join(source.displayRoot, rel);

  // The bibliography is read (on a cold build, in a worker thread) while the chapters are parsed.
  const opening = openBibliography(source.bibliography, config.citationStyle, config.language,
    hooks.citationMemo?.(source.bibliography, config.citationStyle), () => expectedCitations(source.docs.map((doc) => doc.text)));

  const inputs: DocInput[] = source.docs.map(({origins: _origins, ...input}) => ({...input, displayPath: input.displayPath ?? show(input.path)}));
  const parsedDocs = hooks.parseDocs ? await hooks.parseDocs(inputs) : inputs.map((input) => parseDoc(input));
  const docs: Doc[] = [];
  const labels: Label[] = [];
  const images: ImageRef[] = [];
  const docFiles = new Map<string, VFile>();
  const chapterLabels = new Set<string>();
  parsedDocs.forEach((parsed, i) => {
    docs.push(parsed.doc);
    docFiles.set(parsed.doc.id, parsed.file);
    for (const label of parsed.labels) {
      // Chapter labels come from file names, which repeat in some dialects (`README.md` per folder).
      if (label.kind === 'ch' && source.docs[i]!.dialect?.repeatedFileNames) {
        if (chapterLabels.has(label.label)) continue;
        chapterLabels.add(label.label);
      }
      labels.push(label);
    }
    images.push(...parsed.images);
    if (!source.docs[i]!.origins) files.push(parsed.file);
  });
  reportChapterLabels(parsedDocs);

  const bibliography = await opening;
  try {
    const resolved = resolveBook({
      docs, files: docFiles, labels, bibliography, glossary: glossaryFromYaml(source.glossary), language: config.language, deferReferences: true,
    });
    // Citations are formatted (in the worker thread, if one was started) while images are checked.
    const formatting = formatCitations(bibliography, resolved.citations, resolved.citedKeys, config.language);

    // Images: the documents', the cover and the part pages'.
    const refs: {path: string; node?: Element; file: VFile}[] = images.map((ref) => ({path: ref.path, node: ref.node, file: docFiles.get(ref.docId)!}));
    if (config.cover) refs.push({path: path.posix.normalize(config.cover.image), file: source.configFile});
    for (const part of source.parts) if (part.image) refs.push({path: path.posix.normalize(part.image), file: source.configFile});
    const onFresh = hooks.onFreshImage;
    const assets = await loadAssets(root, refs, hooks.imageMemo, onFresh && ((asset) => onFresh(asset, config)));
    attachReferences(resolved, await formatting);

    // Messages of documents put together from several files go back to the author's files.
    source.docs.forEach((doc, i) => {
      if (doc.origins) remapMessages(parsedDocs[i]!.file, doc.origins, (rel) => fileAt(files, show(rel)), doc.path);
    });
    files.push(...bibliography.files.filter((file) => !files.includes(file)));

    const asset = (rel: string | undefined) => (rel ? assets.get(path.posix.normalize(rel)) : undefined);
    const cover = asset(config.cover?.image);
    const book: Book = {
      config, root, docs: resolved.docs, assets,
      parts: source.parts.map(({image, ...part}) => ({...part, ...(asset(image) ? {image: asset(image)!} : {})})),
      ...(cover ? {cover} : {}),
      labels: resolved.labels, ids: resolved.ids, index: resolved.index,
    };
    return {book, files};
  } finally {
    closeBibliography(bibliography);
  }
}

/** The file at `displayPath` among `files`, added when there is none yet. */
function fileAt(files: VFile[], displayPath: string): VFile {
  let file = files.find((f) => f.path === displayPath);
  if (!file) {
    file = new VFileClass({path: displayPath});
    files.push(file);
  }
  return file;
}

/** A "Chapter N" label left out (dialect `chapterLabels`) is said once, where it first happened. */
function reportChapterLabels(parsed: ParsedDoc[]): void {
  const first = parsed.find((p) => p.file.data.chapterLabel);
  const label = first?.file.data.chapterLabel;
  if (!first || !label) return;
  first.file.info(`\`${label.text}\` repeats the chapter label the book prints above each chapter title; such labels are left out`, {
    place: label.place, source: 'mdbook', ruleId: 'mdbook-chapter-label',
  });
}
