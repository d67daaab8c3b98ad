/**
 * What the page edits share (prepare.ts, code.ts, references.ts): the book-wide context and one
 * page being edited. Types only, so that the edit modules import it and not each other.
 */
import type {Root as MdastRoot} from 'mdast';
import type {MdBookSettings} from './config.ts';
import type {BookPages} from './links.ts';
import type {Notes, SourceFiles} from './notes.ts';
import type {Edit, Page} from './page.ts';

export interface PrepareContext {
  book: BookPages;
  settings: MdBookSettings;
  files: SourceFiles;
  notes: Notes;
  /** Manuscript-relative path of SUMMARY.md. */
  summaryRel: string;
  /** Footnote and link-reference labels renamed because another page of the document defines them too. */
  renames: Map<string, string>;
}

/** One page being edited: its source, parse tree, and the edits so far. */
export interface PageEdits {
  page: Page;
  source: string;
  tree: MdastRoot;
  edits: Edit[];
  /** 0-based lines left out (hidden lines of code). */
  removeLines: Set<number>;
  /** Offset of the start of every line of `source`. */
  lineStarts: number[];
  /** Reports a note of `kind` at `offset` of the source (at the author's file and line). */
  note: (kind: string, severity: 'info' | 'warning', offset: number | undefined, reason: string) => void;
}
