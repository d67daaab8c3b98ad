/**
 * The readers: a manuscript folder becomes one BookSource. A folder with book.toml is an mdBook
 * project (SUMMARY.md lists the chapters; a book.yaml beside it only adds metadata); any other
 * folder is one of ours, described by book.yaml.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type {ReadResult} from './source.ts';
import {readBookYaml} from './book-yaml/index.ts';

export type {BookSource, ReadResult} from './source.ts';

export async function readManuscript(manuscript: string): Promise<ReadResult> {
  // Loaded only for mdBook projects (a fifth of the pipeline's code).
  if (await isFile(path.join(path.resolve(manuscript), 'book.toml'))) return (await import('./mdbook/index.ts')).readMdBook(manuscript);
  return readBookYaml(manuscript);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}
