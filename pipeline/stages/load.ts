/**
 * The input edge: a reader (pipeline/inputs/) makes a BookSource of the manuscript folder,
 * then `assemble` makes the Book of it. Problems are messages on files.
 */
import type {VFile} from 'vfile';
import {readManuscript} from '../inputs/index.ts';
import {assemble, type AssembleHooks, type Assembled} from './assemble.ts';

export type {AssembleHooks} from './assemble.ts';

export async function loadBook(manuscript: string, hooks: AssembleHooks = {}): Promise<Assembled> {
  const {source, files} = await readManuscript(manuscript);
  return source ? assemble(source, hooks) : {files};
}

/** True when any message is an error (fatal). */
export function hasErrors(files: VFile[]): boolean {
  return files.some((file) => file.messages.some((message) => message.fatal === true));
}
