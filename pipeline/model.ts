/**
 * The Book model: a plain value that flows through the stages.
 * Stages add to it (trees, numbers, labels); targets consume it. Plain data throughout (the V8
 * serialiser and structured clone copy it): the messages about it are VFiles kept beside it.
 */
import type {Root as HastRoot} from 'hast';
import type {BookConfig} from './config/schema.ts';

/** What kind of document a section of the book is. */
export type DocKind = 'front' | 'chapter' | 'back' | 'generated';

/** A target-independent anchor: an id in the book-wide namespace. */
export interface Anchor {
  /** Book-wide unique id written into the HTML. */
  id: string;
  /** Document (chapter) that holds it. */
  docId: string;
}

/** Something that can be cross-referenced by label (`@fig-x`). */
export interface Label {
  kind: 'fig' | 'tbl' | 'lst' | 'eq' | 'sec' | 'ch';
  label: string;
  /** "Figure 7.2", "Section 3.1", "Chapter 7". */
  text: string;
  id: string;
  docId: string;
  /** Where the label is defined, for messages. */
  position?: import('unist').Position;
}

export interface Doc {
  /** Stable id, also the output file stem: `ch07`, `front-preface`, `back-about`. */
  id: string;
  kind: DocKind;
  /** Path relative to the manuscript root, with forward slashes. */
  path: string;
  /** The path messages show (relative to the working directory). */
  displayPath: string;
  /** Plain-text title (first `#` heading). */
  title: string;
  /** Chapter number (1-based) for chapters. */
  number?: number;
  /** Index of the part (0-based) for chapters. */
  partIndex?: number;
  /** Label for `@ch-…` references, derived from the file name. */
  label?: string;
  /** The document body as HTML syntax tree (after all stages). */
  tree: HastRoot;
  /** Author-visible fragment (slug or `{#id}`) → book-wide id. */
  fragments: Map<string, string>;
  /** Sections for the table of contents (level 2 headings). */
  sections: {id: string; title: string; number?: string}[];
  /** What the document contains, for EPUB manifest properties. */
  hasMath: boolean;
}

export interface Part {
  title: string;
  /** Roman numeral label, "Part I". */
  label: string;
  id: string;
  image?: Asset;
  alt?: string;
  docIds: string[];
}

export interface Asset {
  /** Path relative to the manuscript root. */
  path: string;
  /** Absolute, real path (inside the manuscript). */
  absPath: string;
  mediaType: string;
  /** Content-hash based name, e.g. `img-3fa2c1d0.svg`. */
  name: string;
  bytes: Uint8Array;
  width?: number;
  height?: number;
}

export interface IndexEntry {
  term: string;
  sub?: string;
  see?: string;
  /** Anchor ids where the term occurs. */
  ids: {id: string; docId: string}[];
}

export interface Book {
  config: BookConfig;
  /** Absolute path of the manuscript root. */
  root: string;
  /** Reading order. */
  docs: Doc[];
  parts: Part[];
  assets: Map<string, Asset>;
  cover?: Asset;
  labels: Map<string, Label>;
  /** Book-wide id → document id (where the id lives). */
  ids: Map<string, string>;
  index: IndexEntry[];
}

/**
 * Where the print edition's pages fall, from the paginate step (targets/pdf/paginate.ts): the
 * PDF prints with it and the EPUB's page list and page references are made from it.
 */
export interface PagePlan {
  /** In reading order: the printed folio of each page and the id of the first block on it. */
  marks: {label: string; id: string}[];
  /** Printed folio of every measured id (TOC entries, index references, page references). */
  folios: Map<string, string>;
}

/** Inputs that are not in the manuscript. */
export interface BuildContext {
  /** Seconds since the epoch; the only source of time in the pipeline. */
  sourceDateEpoch: number;
  /** Absolute path of the templates folder. */
  templates: string;
}
