/**
 * Messages of the mdBook reader: one VFile per source file (chapters, included files,
 * SUMMARY.md, book.toml), and notes about unsupported things reported once per kind.
 */
import {VFile} from 'vfile';

export type Place = {line: number; column: number};

/** One VFile per source file, made on demand. */
export class SourceFiles {
  readonly byPath = new Map<string, VFile>();
  constructor(private readonly show: (rel: string) => string) {}
  get(rel: string): VFile {
    let file = this.byPath.get(rel);
    if (!file) {
      file = new VFile({path: this.show(rel)});
      this.byPath.set(rel, file);
    }
    return file;
  }
  register(rel: string, file: VFile) {
    this.byPath.set(rel, file);
  }
}

/** Collects notes of one kind and reports them once, at the first place, listing the others. */
export class Notes {
  readonly #kinds = new Map<string, {file: VFile; place?: Place; reason: string; severity: 'info' | 'warning'; others: string[]}>();
  /** `kind` groups the notes; its part before a `:` names the rule (`mdbook-<kind>`). */
  add(kind: string, severity: 'info' | 'warning', file: VFile, place: Place | undefined, reason: string) {
    const existing = this.#kinds.get(kind);
    if (existing) existing.others.push(`${file.path}${place ? `:${place.line}` : ''}`);
    else this.#kinds.set(kind, {file, place, reason, severity, others: []});
  }
  flush() {
    for (const [kind, note] of this.#kinds) {
      const {others} = note;
      const more = others.length === 0 ? '' : ` (also ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''})`;
      const options = {place: note.place, source: 'mdbook', ruleId: `mdbook-${kind.split(':')[0]}`};
      if (note.severity === 'info') note.file.info(`${note.reason}${more}`, options);
      else note.file.message(`${note.reason}${more}`, options).fatal = false;
    }
    this.#kinds.clear();
  }
}