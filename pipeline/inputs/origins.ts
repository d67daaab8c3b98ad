/**
 * Texts that remember where each line came from. A reader that puts a document together from
 * several files (mdBook's includes and sub-chapters) keeps an origin per line; assemble moves
 * the Markdown stage's messages back to the author's files and lines with `remapMessages`.
 */
import type {VFile} from 'vfile';
import type {Origin} from './source.ts';

export type {Origin} from './source.ts';

/** A text as lines, each with its origin. Edits never change the number of lines silently. */
export interface MappedText {
  lines: string[];
  origins: Origin[];
}

export function mappedText(text: string, filePath: string): MappedText {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  return {lines, origins: lines.map((_, i) => ({path: filePath, line: i + 1}))};
}

/** A piece of expanded text; pieces are concatenated without separators. */
export interface Piece {
  text: string;
  /** One origin per line of `text`. */
  origins: Origin[];
}

/** The pieces as one text, each line with its origin. */
export function joinExpanded(pieces: Piece[]): MappedText {
  const lines: string[] = [''];
  const origins: Origin[] = [];
  for (const piece of pieces) {
    const pieceLines = piece.text.split('\n');
    pieceLines.forEach((line, i) => {
      if (i === 0) {
        // A line that starts with an include belongs to the included file's line.
        if (origins.length === 0) origins.push(piece.origins[0]!);
        else if (lines.at(-1)!.trim() === '' && line !== '') origins[origins.length - 1] = piece.origins[0]!;
        lines[lines.length - 1] += line;
      } else {
        lines.push(line);
        origins.push(piece.origins[i] ?? piece.origins.at(-1)!);
      }
    });
  }
  if (origins.length === 0) origins.push({path: '', line: 1});
  return {lines, origins};
}

/** Moves the messages of a document put together from several files to the author's files and lines. */
export function remapMessages(docFile: VFile, origins: Origin[], fileFor: (rel: string) => VFile, fallback: string): void {
  for (const message of docFile.messages) {
    const line = message.line ?? undefined;
    const origin = line !== undefined ? origins[line - 1] : undefined;
    const file = fileFor(origin?.path ?? fallback);
    const endLine = message.place && 'end' in message.place ? message.place.end.line : undefined;
    const endOrigin = endLine !== undefined ? origins[endLine - 1] : undefined;
    let place: VFile['messages'][number]['place'];
    if (origin) {
      const start = {line: origin.line, column: message.column ?? 1};
      place = endOrigin && endOrigin.path === origin.path && message.place && 'end' in message.place
        ? {start, end: {line: endOrigin.line, column: message.place.end.column}}
        : start;
    }
    const options = {place, source: message.source ?? undefined, ruleId: message.ruleId ?? undefined};
    if (message.fatal === true) file.message(message.reason, options).fatal = true;
    else if (message.fatal === false) file.message(message.reason, options).fatal = false;
    else file.info(message.reason, options);
  }
  docFile.messages.length = 0;
}
